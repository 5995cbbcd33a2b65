"""Flame's client half: connect to a Flame server and use its modules, builtins and console.

Flame ("foreign location automatic module exposer", Pyro4's ``Pyro4.utils.flame``)
gives a client the server's whole Python: importing and calling modules, builtins,
running code, moving files and an interactive console. The server half is
``pyro_server.flame``; this module is all a thin client app needs.

Flame's answers are Python objects of its own (the wrappers below), so it only
works with a pickle-family serializer: set ``config.SERIALIZER = "pickle"``
(``PYRO_SERIALIZER=pickle``) before connecting, as in Pyro4. The wrappers travel
under Pyro4's class names (``Pyro4.utils.flame.FlameModule``, ...), so genuine
Pyro4 clients and servers understand ours and the other way round.
"""

from __future__ import annotations

import code
import sys
from typing import Any, Optional, Union

from pyro_protocol import constants, serializers
from pyro_protocol.config import config
from pyro_protocol.errors import SerializeError
from pyro_protocol.names import is_dunder
from pyro_protocol.uri import URI

from .proxy import Proxy

__all__ = ["connect", "FlameModule", "FlameBuiltin", "RemoteInteractiveConsole", "FLAME_SERIALIZERS"]

#: Serializers that can carry Flame's objects (both ends must use one of them).
FLAME_SERIALIZERS = ("pickle", "dill", "cloudpickle")
#: Where Pyro4 keeps these classes: their name in pickled data.
_WIRE_MODULE = "Pyro4.utils.flame"


def _proxy_to(flameserver: Any) -> Proxy:
    """A proxy of its own (with its own connection) for the object at ``flameserver``: a proxy,
    a uri, or (as Pyro4's server side passes it) the registered Flame object itself."""
    if isinstance(flameserver, Proxy):
        return flameserver.__copy__()
    daemon = getattr(flameserver, "_pyroDaemon", None)
    if daemon is not None:
        return Proxy(daemon.uriFor(flameserver))
    return Proxy(flameserver)


class _Wrapper:
    """What the wrappers share: a proxy of their own (in ``_proxy_attribute``), released by ``with``."""

    _proxy_attribute = "flameserver"

    def _proxy(self) -> Proxy:
        proxy: Proxy = getattr(self, self._proxy_attribute)
        return proxy

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._proxy()._pyroRelease()

    def _describe(self) -> str:
        raise NotImplementedError

    def __repr__(self) -> str:
        where = self._proxy()._pyroUri.location
        return f"<{type(self).__module__}.{type(self).__name__} at 0x{id(self):x}; {self._describe()} at {where}>"


class FlameModule(_Wrapper):
    """A module on the Flame server: ``module.function(...)`` calls it there.

    Only calls work; read attributes with the Flame server's ``evaluate``.
    """

    def __init__(self, flameserver: Union[Proxy, URI, str], module: str) -> None:
        # The attribute names and this dict are Pyro4's pickled form: keep them as they are.
        self.flameserver = _proxy_to(flameserver)
        self.module = module

    def __getattr__(self, name: str) -> Any:
        state = self.__dict__
        if is_dunder(name) or "module" not in state:
            raise AttributeError(name)  # protocol probes (pickle, copy), or a half-built object
        return _ModuleFunction(state["flameserver"], f"{state['module']}.{name}")

    def __getstate__(self) -> dict[str, Any]:
        return self.__dict__

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__ = state

    def _describe(self) -> str:
        return f"module '{self.module}'"


class _ModuleFunction:
    """``remote_module.name`` (or ``.name.name2``...): calling it runs that function there."""

    __slots__ = ("_flameserver", "_dotted_name")

    def __init__(self, flameserver: Proxy, dotted_name: str) -> None:
        self._flameserver = flameserver
        self._dotted_name = dotted_name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._flameserver.invokeModule(self._dotted_name, args, kwargs)

    def __getattr__(self, name: str) -> _ModuleFunction:
        # remote_os.path.join(...): the server follows the whole dotted path
        if is_dunder(name):
            raise AttributeError(name)
        return _ModuleFunction(self._flameserver, f"{self._dotted_name}.{name}")

    def __repr__(self) -> str:
        return f"<remote function {self._dotted_name!r} at {self._flameserver._pyroUri.location}>"


class FlameBuiltin(_Wrapper):
    """A builtin function on the Flame server (``print``, ``open``, ...): calling it runs it there."""

    def __init__(self, flameserver: Union[Proxy, URI, str], builtin: str) -> None:
        # The attribute names are Pyro4's pickled form: keep them as they are.
        self.flameserver = _proxy_to(flameserver)
        self.builtin = builtin

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.flameserver.invokeBuiltin(self.builtin, args, kwargs)

    def _describe(self) -> str:
        return f"builtin '{self.builtin}'"


class RemoteInteractiveConsole(_Wrapper):
    """An interactive Python console session on the Flame server (from its ``console()``).

    ``interact()`` reads lines here (``input()``), runs them there and prints their
    output here; end it with end-of-input (Ctrl-D). ``close()`` (or the end of a
    ``with`` block) ends the session on the server.
    """

    _proxy_attribute = "remoteconsole"

    class LineSendingConsole(code.InteractiveConsole):
        """A local console loop whose lines are run by the remote console."""

        def __init__(self, remoteconsole: Proxy) -> None:
            super().__init__(filename="<remoteconsole>")
            self.remoteconsole = remoteconsole

        def push(self, line: str, *more_args: Any) -> bool:  # (newer Pythons pass more arguments)
            output, more = self.remoteconsole.push_and_get_output(line)
            if output:
                sys.stdout.write(output)
            return bool(more)

    def __init__(self, remoteconsoleuri: Union[Proxy, URI, str]) -> None:
        # The attribute name is Pyro4's pickled form: keep it as it is.
        self.remoteconsole = _proxy_to(remoteconsoleuri)

    def interact(self) -> None:
        console = self.LineSendingConsole(self.remoteconsole)
        console.interact(banner=self.remoteconsole.get_banner(), exitmsg="")
        print("(Remote session ended)")

    def close(self) -> None:
        """End the session on the server and drop the connection."""
        self.remoteconsole.terminate()
        self.remoteconsole._pyroRelease()

    def terminate(self) -> None:
        self.close()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _describe(self) -> str:
        return "console"


for _wrapper in (FlameModule, FlameBuiltin, RemoteInteractiveConsole):
    serializers.register_pickle_name(_wrapper, _WIRE_MODULE, _wrapper.__name__)


class _FlameProxy(Proxy):
    """The proxy :func:`connect` returns.

    A Flame server sends its module, builtin and console wrappers with proxies that
    have no HMAC key (it must not put the key on the wire), so calls through them
    would be refused by a server that has one; this proxy gives them its own key.
    """

    def _pyroInvoke(  # noqa: N802 - Pyro4's name
        self,
        methodname: str,
        vargs: Any,
        kwargs: Optional[dict[str, Any]],
        flags: int = 0,
        objectId: Optional[str] = None,  # noqa: N803
    ) -> Any:
        result = super()._pyroInvoke(methodname, vargs, kwargs, flags, objectId)
        if self._pyro_hmac is not None and isinstance(result, _Wrapper):
            result._proxy()._pyroHmacKey = self._pyro_hmac
        return result


def connect(location: str, hmac_key: Union[str, bytes, None] = None) -> Proxy:
    """A connected proxy for the Flame server at ``location`` ("host:port" or "./u:socketpath").

    ``hmac_key`` is needed when the server was started with one.
    """
    if config.SERIALIZER not in FLAME_SERIALIZERS:
        raise SerializeError(
            f"Flame needs the pickle serializer, but config.SERIALIZER is {config.SERIALIZER!r}: "
            'set config.SERIALIZER = "pickle" (or the environment variable PYRO_SERIALIZER=pickle)'
        )
    proxy = _FlameProxy(f"PYRO:{constants.FLAME_NAME}@{location}")
    if hmac_key:
        proxy._pyroHmacKey = hmac_key
    proxy._pyroBind()
    return proxy
