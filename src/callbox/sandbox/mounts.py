"""A private file system view: only the system's programs and libraries, the language runtime,
the build, and a size-capped /tmp; nothing else of the machine exists.

Done in a new mount namespace, as bubblewrap does: a small tmpfs becomes the root, the allowed
folders are bind-mounted into it read-only at their own paths (so every path the runtime
knows stays valid), then ``pivot_root`` makes it ``/`` and the old root is detached.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from callbox.sandbox import linux

# The system: programs, libraries, and the parts of /etc that programs read (name resolution,
# certificates, time zones, MIME types). /etc/passwd and /etc/group are written anew.
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC = (
    "alternatives",
    "ca-certificates",
    "ca-certificates.conf",
    "crypto-policies",
    "gai.conf",
    "host.conf",
    "hosts",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "mime.types",
    "networks",
    "nsswitch.conf",
    "os-release",
    "pki",
    "protocols",
    "resolv.conf",
    "services",
    "ssl",
    "timezone",
)
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")

_READ_ONLY = linux.MS_RDONLY | linux.MS_NOSUID | linux.MS_NODEV


def build_root(
    stage: str,
    *,
    readable: Sequence[str],
    writable: Sequence[str],
    hidden: Sequence[str],
    tmp_mb: int,
    uid: int,
    gid: int,
) -> None:
    """Make a new root at ``stage`` (an empty folder) and switch to it. Needs CAP_SYS_ADMIN in
    a mount namespace of its own (``unshare(CLONE_NEWNS)`` first)."""
    linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
    linux.mount("tmpfs", stage, "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, "size=4m,mode=0755")
    root = _Root(Path(stage))
    # /tmp first: a build that lives under /tmp on the machine is bound inside it afterwards.
    (root.path / "tmp").mkdir()
    size = f"size={tmp_mb}m," if tmp_mb > 0 else ""
    tmp_options = f"{size}mode=0700,uid={uid},gid={gid}"
    linux.mount(
        "tmpfs", str(root.path / "tmp"), "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, tmp_options
    )
    for path in SYSTEM:
        root.place(path, read_only=True)
    (root.path / "etc").mkdir(mode=0o755, exist_ok=True)
    for name in ETC:
        root.place(f"/etc/{name}", read_only=True)
    _identity_files(root.path / "etc", uid, gid)
    for path in sorted(readable, key=len):
        root.place(path, read_only=True)
    for path in sorted(writable, key=len):
        root.place(path, read_only=False)
    for path in hidden:  # the server's data, where it lies inside a folder bound above
        target = root.path / path.lstrip("/")
        if root.covers(path) and target.is_dir():
            linux.mount("tmpfs", str(target), "tmpfs", _READ_ONLY, "size=4k,mode=0000")
    _devices(root.path / "dev")
    (root.path / "proc").mkdir(exist_ok=True)
    proc_flags = linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC
    linux.mount("proc", str(root.path / "proc"), "proc", proc_flags)
    os.chdir(stage)
    linux.pivot_root(".", ".")  # the old root ends up stacked on the new one: detach it
    linux.umount(".", linux.MNT_DETACH)
    os.chdir("/")
    linux.mount(None, "/", None, linux.MS_REMOUNT | linux.MS_BIND | _READ_ONLY)


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


class _Root:
    """The new root being filled: what has been bound into it, and how."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.bound: dict[str, bool] = {}  # machine path -> read only

    def covers(self, path: str) -> bool:
        return any(_under(path, folder) for folder in self.bound)

    def place(self, path: str, *, read_only: bool) -> None:
        """Make ``path`` of the machine appear at the same path in the new root."""
        if not os.path.lexists(path):
            return
        target = self.path / path.lstrip("/")
        real = os.path.realpath(path)
        if os.path.islink(path) and real != path:
            # A link (/bin -> usr/bin): the same link, and what it points to.
            self.place(real, read_only=read_only)
            if not os.path.lexists(target):
                target.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(os.readlink(path), target)
            return
        if read_only and self.covers(path):
            return  # already visible through a folder bound before
        target.parent.mkdir(parents=True, exist_ok=True)
        if os.path.isdir(path):
            target.mkdir(exist_ok=True)
        else:
            target.touch(exist_ok=True)
        linux.mount(path, str(target), None, linux.MS_BIND)
        flags = linux.MS_REMOUNT | linux.MS_BIND | linux.MS_NOSUID | linux.MS_NODEV
        linux.mount(None, str(target), None, flags | (linux.MS_RDONLY if read_only else 0))
        self.bound[path] = read_only


def _identity_files(etc: Path, uid: int, gid: int) -> None:
    """Only root, nobody and the sandbox's own user exist here."""
    (etc / "passwd").write_text(
        "root:x:0:0:root:/root:/usr/sbin/nologin\n"
        f"callbox:x:{uid}:{gid}:callbox function:/tmp:/usr/sbin/nologin\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    )
    (etc / "group").write_text(f"root:x:0:\ncallbox:x:{gid}:\nnogroup:x:65534:\n")
    (etc / "hostname").write_text("callbox\n")


def _devices(dev: Path) -> None:
    dev.mkdir(exist_ok=True)
    linux.mount("tmpfs", str(dev), "tmpfs", linux.MS_NOSUID | linux.MS_NOEXEC, "size=64k,mode=0755")
    for name in DEVICES:
        source = f"/dev/{name}"
        if os.path.exists(source):
            (dev / name).touch()
            linux.mount(source, str(dev / name), None, linux.MS_BIND)
    for name, link in (
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ):
        os.symlink(link, dev / name)
    flags = linux.MS_REMOUNT | linux.MS_NOSUID | linux.MS_NOEXEC | linux.MS_RDONLY
    linux.mount(None, str(dev), None, flags)
