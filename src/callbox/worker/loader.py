"""Load a function file and find its handler, with errors that say exactly what went wrong."""

from __future__ import annotations

import inspect
import os
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from callbox.runtime.globals import Runtime

Handler = Callable[..., Any]


# The callbox package: frames there are the runtime's, not the function's.
_OWN = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def user_traceback(error: BaseException) -> str:
    """The traceback of the function's code, without callbox's own frames."""
    frames = [
        f for f in traceback.extract_tb(error.__traceback__) if not f.filename.startswith(_OWN)
    ]
    head = "Traceback (most recent call last):\n" + "".join(traceback.format_list(frames))
    return (head if frames else "") + "".join(traceback.format_exception_only(error)).rstrip()


class LoadError(Exception):
    """The function cannot run: its file failed to import or defines no ``handler``."""

    def __init__(self, message: str, stack: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.stack = stack


def display_path(file: str, root: str) -> str:
    try:
        return str(Path(file).relative_to(root))
    except ValueError:
        return file


def _imported(value: object, module_name: str) -> bool:
    """A function or class brought in by ``import`` (variables always count as defined)."""
    if inspect.isfunction(value) or inspect.isclass(value) or inspect.isbuiltin(value):
        return getattr(value, "__module__", module_name) != module_name
    return False


def load_handler(route: str, root: str) -> Handler:
    """The ``handler`` of the function at ``route``; the module is imported once per worker."""
    info = Runtime.function_info(route)
    shown = display_path(info.path, root)
    try:
        module = info.load()
    except SyntaxError as exc:
        raise LoadError(
            f"{shown} failed to import: SyntaxError: {exc.msg} (line {exc.lineno})",
            user_traceback(exc),
        ) from exc
    except (Exception, SystemExit, KeyboardInterrupt) as exc:  # never let an import end the worker
        raise LoadError(
            f"{shown} failed to import: {type(exc).__name__}: {exc}", user_traceback(exc)
        ) from exc
    handler = getattr(module, "handler", None)
    if callable(handler):
        return handler
    defined = sorted(
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and name not in {"Twilio", "Runtime", "Response"}
        and not isinstance(value, ModuleType)
        and not _imported(value, module.__name__)
    )
    found = ", ".join(defined) if defined else "nothing"
    what = "a `handler` that is not callable" if handler is not None else "no `handler`"
    raise LoadError(
        f"{shown} has {what}; found: {found}. "
        "Define `def handler(context, event, callback)` (or `async def`)."
    )
