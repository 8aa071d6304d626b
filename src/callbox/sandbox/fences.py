"""What one sandbox looks like: the typed description the server hands the launcher.

It crosses a process boundary (the server writes it into a spawn command, the warm parent or
``python -m callbox.sandbox`` reads it), so it is plain data with a JSON form.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from callbox.sandbox.cgroups import Tree

# "isolated": namespaces, its own uid, cgroups, network filter, Landlock (needs root);
# "landlock": what an unprivileged process can do to itself (Landlock, rlimits, environment);
# "off": nothing but the environment allow list (benchmarks only).
Mode = Literal["isolated", "landlock", "off"]


@dataclass(frozen=True)
class Fences:
    mode: Mode
    uid: int = -1  # the unprivileged user it runs as (isolated); gid is the same number
    group: str = ""  # who shares the process cap: "s<n>" a service, "a<n>" an account
    readable: tuple[str, ...] = ()  # beyond the system's folders: runtime, build, dependencies
    writable: tuple[str, ...] = ()  # beyond its temporary folder (an install's target, cache)
    hidden: tuple[str, ...] = ()  # never visible, even inside a readable folder (server data)
    tmp_mb: int = 64  # size of its temporary folder (in memory: it counts toward memory_mb)
    memory_mb: int = 256
    pids: int = 256  # processes and threads of its group, all workers together
    env: dict[str, str] = field(default_factory=dict)  # the whole environment it sees
    cgroups: Tree = field(default_factory=lambda: Tree(0))
    stage: str = ""  # an empty folder the new root is built on (isolated)
    scratch: str = ""  # its temporary folder when not isolated (made by the launcher's parent)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["cgroups"] = self.cgroups.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fences:
        values = dict(data)
        values["cgroups"] = Tree.from_dict(values.get("cgroups") or {"version": 0})
        for key in ("readable", "writable", "hidden"):
            values[key] = tuple(values.get(key) or ())
        return cls(**values)
