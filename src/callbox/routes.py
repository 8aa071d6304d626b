"""What a build serves, in the words both sides use: a route is a URL path, a kind (function or
asset), a visibility, and the file behind it.

The gateway serves routes (``gateway/source.py``: a Deployment is a set of them); the toolkit
reads them from a project folder (``toolkit/project.py``). Neither imports the other: both
import this. Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Kind = Literal["function", "asset"]
Visibility = Literal["public", "protected", "private"]


@dataclass(frozen=True)
class Route:
    path: str
    kind: Kind
    visibility: Visibility
    file: Path
    sid: str | None = None  # the Function or Asset SID, when deployed (tags log lines)
