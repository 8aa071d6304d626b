"""The ``Twilio`` and ``Runtime`` globals every function module sees.

``Twilio`` exposes the official ``twilio`` library's TwiML and JWT helpers plus ``Response``;
``Runtime`` gives access to the current build's private assets and its functions. A worker
process serves one build, so ``Runtime`` is installed once per process by the worker.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

from callbox.runtime.response import Response


class _TwilioGlobal:
    """Lazy view of the ``twilio`` library: importing it costs nothing until a name is used."""

    Response = Response

    @cached_property
    def twiml(self) -> SimpleNamespace:
        from twilio.twiml.fax_response import FaxResponse
        from twilio.twiml.messaging_response import MessagingResponse
        from twilio.twiml.voice_response import VoiceResponse

        return SimpleNamespace(
            MessagingResponse=MessagingResponse,
            VoiceResponse=VoiceResponse,
            FaxResponse=FaxResponse,
        )

    @cached_property
    def jwt(self) -> SimpleNamespace:
        from twilio.jwt.access_token import AccessToken as _AccessToken
        from twilio.jwt.access_token import grants

        grant_classes = {
            name: getattr(grants, name) for name in dir(grants) if name.endswith("Grant")
        }
        # Node code writes Twilio.jwt.AccessToken.VoiceGrant; keep that spelling working.
        access_token = type("AccessToken", (_AccessToken,), grant_classes)
        return SimpleNamespace(AccessToken=access_token, grants=SimpleNamespace(**grant_classes))

    @cached_property
    def RequestValidator(self) -> type:  # noqa: N802 - the library's class name
        from twilio.request_validator import RequestValidator

        return RequestValidator

    @cached_property
    def Client(self) -> type:  # noqa: N802 - the library's class name
        from twilio.rest import Client

        return Client


Twilio = _TwilioGlobal()


@dataclass(frozen=True)
class AssetInfo:
    """A private asset: ``path`` on disk and ``open()`` returning its text."""

    path: str

    def open(self, mode: str = "r", encoding: str | None = "utf-8") -> Any:
        """The file's content: text by default, bytes with ``mode="rb"``."""
        binary = "b" in mode
        with open(self.path, "rb" if binary else "r", encoding=None if binary else encoding) as f:
            return f.read()


@dataclass
class FunctionInfo:
    """A function of this build: ``path`` on disk and ``load()`` returning its module."""

    path: str
    route: str
    _module: ModuleType | None = field(default=None, repr=False)
    # Per function, so a slow import never holds up another function's first load; re-entrant,
    # so a helper loading itself back through another helper gets the module being executed.
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def load(self) -> ModuleType:
        """Import the function file once per worker (private helpers are shared this way).

        As with Python's own imports, a module that is still executing is handed back as it is,
        so two helpers loading each other get each other instead of a deadlock."""
        with self._lock:
            if self._module is None:
                self._module = new_module(Path(self.path), self.route)
                try:
                    execute_module(self._module, Path(self.path))
                except BaseException:
                    self._module = None
                    raise
            return self._module


def module_name(route: str) -> str:
    cleaned = "".join(ch if ch.isalnum() else "_" for ch in route.strip("/"))
    return f"callbox_functions.{cleaned or 'index'}"


def new_module(file: Path, route: str) -> ModuleType:
    """An empty module for a function file, with the globals injected."""
    spec = importlib.util.spec_from_file_location(module_name(route), file)
    if spec is None:
        raise ImportError(f"cannot load {file}")
    module = importlib.util.module_from_spec(spec)
    module.__dict__.update(Twilio=Twilio, Runtime=Runtime, Response=Response)
    return module


def execute_module(module: ModuleType, file: Path) -> None:
    """Run a function file's code in ``module``; errors propagate."""
    name = module.__name__
    sys.modules[name] = module  # dataclasses, pickle and friends look modules up here
    try:
        # Compiled from source every time, never from __pycache__: a .pyc is trusted on the
        # file's mtime in whole seconds and its size, so a quick same-size edit could be missed.
        code = compile(file.read_bytes(), str(file), "exec", dont_inherit=True)
        exec(code, module.__dict__)
    except BaseException:
        sys.modules.pop(name, None)
        raise


class _Runtime:
    """``Runtime.get_assets()``, ``Runtime.get_functions()``, ``Runtime.get_sync()``."""

    def __init__(self) -> None:
        self._assets: dict[str, AssetInfo] = {}
        self._functions: dict[str, FunctionInfo] = {}

    def install(self, functions: dict[str, str], private_assets: dict[str, str]) -> None:
        """Called once by the worker: route -> file for functions and for private assets."""
        self._functions = {
            route.lstrip("/"): FunctionInfo(path=file, route=route)
            for route, file in functions.items()
        }
        self._assets = {route: AssetInfo(path=file) for route, file in private_assets.items()}

    def function_info(self, route: str) -> FunctionInfo:
        return self._functions[route.lstrip("/")]

    def get_assets(self) -> dict[str, AssetInfo]:
        """Private assets keyed by path, e.g. ``"/data.json"``."""
        return dict(self._assets)

    def get_functions(self) -> dict[str, FunctionInfo]:
        """Every function keyed by path without the leading slash, e.g. ``"sms/reply"``."""
        return dict(self._functions)

    def get_sync(self, **options: Any) -> Any:
        raise NotImplementedError(
            "Runtime.get_sync() is not available yet: callbox does not ship Sync. "
            "Keep shared state in an external store for now."
        )

    getAssets = get_assets  # noqa: N815 - documented names
    getFunctions = get_functions  # noqa: N815
    getSync = get_sync  # noqa: N815


Runtime = _Runtime()
