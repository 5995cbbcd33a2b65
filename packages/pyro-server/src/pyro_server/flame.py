"""Flame's server half: the ``Flame`` object that gives clients this process's whole Python.

Pyro4's ``Pyro4.utils.flame``: ``start(daemon)`` publishes a :class:`Flame` object
under ``Pyro.Flame``; clients (``connect(location)``, re-exported here from
``pyro_client.flame``) import and call modules, call builtins, run code, send and
fetch files and modules, and open interactive consoles in this process.

That is arbitrary code execution for everyone who can connect, so Flame refuses
to start unless ``config.FLAME_ENABLED`` is true and the daemon accepts a pickle-
family serializer (Flame's answers are Python objects). See SECURITY.md.
"""

from __future__ import annotations

import builtins
import code
import contextlib
import importlib
import inspect
import io
import os
import stat
import sys
import threading
import types
from typing import Any, Optional

from pyro_client.flame import FLAME_SERIALIZERS, FlameBuiltin, FlameModule, RemoteInteractiveConsole, connect
from pyro_protocol import constants
from pyro_protocol.config import config
from pyro_protocol.errors import DaemonError, SecurityError
from pyro_protocol.uri import URI

from .daemon import Daemon
from .decorators import expose

__all__ = [
    "Flame",
    "InteractiveConsole",
    "start",
    "createModule",
    "exec_function",
    "connect",
    "FlameModule",
    "FlameBuiltin",
    "RemoteInteractiveConsole",
    "FLAME_SERIALIZERS",
]

#: The modules Pyro4's flame module had imported: code run by ``execute``/``evaluate``
#: there could use them without importing, so Flame's namespace starts with them.
_PRELOADED_MODULES = (builtins, code, importlib, os, stat, sys, types)


def _check_allowed() -> None:
    """Raise SecurityError unless the configuration allows a Flame server."""
    if not config.FLAME_ENABLED:
        raise SecurityError(
            "Flame is disabled in the server configuration: it lets every client run any code in this "
            "process. To allow it anyway, set config.FLAME_ENABLED = True (or PYRO_FLAME_ENABLED=true)"
        )
    if not set(config.SERIALIZERS_ACCEPTED) & set(FLAME_SERIALIZERS):
        raise SecurityError(
            "Flame needs the daemon to accept the pickle serializer, and SERIALIZERS_ACCEPTED is "
            f"{sorted(config.SERIALIZERS_ACCEPTED)}: add it with config.SERIALIZERS_ACCEPTED.add('pickle') "
            "(or PYRO_SERIALIZERS_ACCEPTED=pickle); clients must set SERIALIZER to pickle too"
        )


def exec_function(source: str, filename: str, global_map: dict[str, Any]) -> None:
    """Run ``source`` in the namespace ``global_map``; trailing whitespace is ignored."""
    # (a trailing indented blank line would otherwise be an IndentationError)
    exec(compile(source.rstrip(), filename, "exec"), global_map)


def createModule(  # noqa: N802 - Pyro4's name
    name: str, source: str, filename: str = "<dynamic-module>", namespace: Optional[dict[str, Any]] = None
) -> types.ModuleType:
    """Make (or update) module ``name`` from its source code and put it in ``sys.modules``.

    Dotted names get their missing parent packages as empty modules; modules
    that exist already are reused, so sending a module again runs the new source
    in it. With ``namespace`` (say ``globals()``) its top-level package is also
    bound there, as ``import name`` would.
    """
    parts = name.split(".")
    if not all(part.isidentifier() for part in parts):
        raise ValueError(f"invalid module name {name!r}")
    parent: Optional[types.ModuleType] = None
    for depth in range(1, len(parts) + 1):
        dotted = ".".join(parts[:depth])
        module = sys.modules.get(dotted)
        if module is None:
            module = sys.modules[dotted] = types.ModuleType(dotted)
            if parent is not None:
                setattr(parent, parts[depth - 1], module)
        parent = module
    assert parent is not None
    exec_function(source, filename, parent.__dict__)
    if namespace is not None:
        namespace[parts[0]] = sys.modules[parts[0]]
    return parent


#: Only one console at a time may have sys.stdout swapped for its buffer: two
#: interleaved swaps would leave one console's buffer as everyone's stdout.
_stdout_swap = threading.Lock()


class _StdoutConsole(code.InteractiveConsole):
    """A console whose error output (tracebacks) goes to stdout, so it is captured with the rest."""

    def write(self, data: str) -> None:
        sys.stdout.write(data)


class InteractiveConsole:
    """One remote console session (made by :meth:`Flame.console`), registered in the daemon."""

    def __init__(self, banner: str = "") -> None:
        self.banner = banner
        self._console = _StdoutConsole(filename="<remoteconsole>")

    @expose
    def push_and_get_output(self, line: str) -> tuple[str, bool]:
        """Run one line; returns (its output, whether more lines are needed to finish a block)."""
        buffer = io.StringIO()
        with _stdout_swap, contextlib.redirect_stdout(buffer):
            try:
                more = self._console.push(line)
            except SystemExit as exc:  # exit(): it must not stop the server's worker
                self._console.resetbuffer()
                print(f"SystemExit({exc.code!r}) ignored: end the remote session with end-of-input (Ctrl-D)")
                more = False
        return buffer.getvalue(), bool(more)

    @expose
    def get_banner(self) -> str:
        return self.banner

    @expose
    def terminate(self) -> None:
        """End the session: forget what was typed and leave the daemon."""
        self._console.resetbuffer()
        daemon = getattr(self, "_pyroDaemon", None)
        if daemon is not None:
            daemon.unregister(self)


@expose
class Flame:
    """The Flame server object: full access to this process for its clients.

    Publish it with :func:`start`. Making one raises SecurityError unless the configuration allows Flame.
    """

    def __init__(self) -> None:
        _check_allowed()
        # execute() and evaluate() share one namespace, so code can define what later code uses
        self._namespace: dict[str, Any] = {"__name__": "<flame>", "__builtins__": builtins}
        self._namespace.update((module.__name__, module) for module in _PRELOADED_MODULES)

    def _daemon(self) -> Daemon:
        daemon: Optional[Daemon] = getattr(self, "_pyroDaemon", None)
        if daemon is None:
            raise DaemonError("this Flame object is not registered in a daemon: publish it with start(daemon)")
        return daemon

    def module(self, name: str) -> FlameModule:
        """Import module ``name`` here; returns a wrapper to call its functions (not to read attributes)."""
        importlib.import_module(name)
        return FlameModule(self._daemon().uriFor(self), name)

    def builtin(self, name: str) -> FlameBuiltin:
        """A wrapper to call builtin function ``name`` here."""
        if not hasattr(builtins, name):
            raise AttributeError(f"there is no builtin named {name!r}")
        return FlameBuiltin(self._daemon().uriFor(self), name)

    def execute(self, code: str) -> None:
        """Run Python statements here."""
        exec_function(code, "<remote-code>", self._namespace)

    def evaluate(self, expression: str) -> Any:
        """The value of a Python expression, computed here."""
        return eval(expression, self._namespace)

    def sendmodule(self, modulename: str, modulesource: str) -> None:
        """Make module ``modulename`` here from its source (see :func:`createModule`)."""
        createModule(modulename, modulesource)

    def getmodule(self, modulename: str) -> str:
        """The source code of a module importable here."""
        return inspect.getsource(importlib.import_module(modulename))

    def sendfile(self, filename: str, filedata: bytes) -> None:
        """Write ``filedata`` to the file ``filename`` here, readable and writable by its owner only."""
        owner_only = stat.S_IRUSR | stat.S_IWUSR
        with open(os.open(filename, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, owner_only), "wb") as target:
            os.chmod(filename, owner_only)  # also when the file existed before
            target.write(filedata)

    def getfile(self, filename: str) -> bytes:
        """The contents of a file here."""
        with open(filename, "rb") as source:
            return source.read()

    def console(self) -> RemoteInteractiveConsole:
        """A new interactive console session here."""
        session = InteractiveConsole()
        uri = self._daemon().register(session)
        session.banner = f"Python {sys.version} on {sys.platform}\n(Remote console on {uri.location})"
        return RemoteInteractiveConsole(uri)

    def invokeBuiltin(self, builtin: str, args: Any, kwargs: Any) -> Any:  # noqa: N802 - Pyro4's name
        return getattr(builtins, builtin)(*args, **kwargs)

    def invokeModule(self, dottedname: str, args: Any, kwargs: Any) -> Any:  # noqa: N802 - Pyro4's name
        """Call ``package.module.function`` (or ``module.obj.method``...) of an imported module."""
        # Flame opens every door anyway, so any attribute path is followed, private or not.
        top, _, path = dottedname.partition(".")
        target: Any = sys.modules.get(top)
        if target is None or not path:
            raise ImportError(f"{dottedname!r} is not a function of an imported module; use module() first")
        for attribute in path.split("."):
            target = getattr(target, attribute)
        return target(*args, **kwargs)


def start(daemon: Daemon) -> URI:
    """Publish a Flame object in ``daemon`` under ``Pyro.Flame``; returns its URI.

    Anyone who can reach the daemon can then do anything this process can.
    """
    return daemon.register(Flame(), constants.FLAME_NAME)
