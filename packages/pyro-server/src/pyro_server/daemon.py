"""The Daemon: registry of Pyro objects, URIs, and what happens to each request."""

from __future__ import annotations

import inspect
import logging
import socket
import sys
import threading
import uuid
from typing import Any, Callable, Iterable, Optional, Union

from pyro_client import Proxy
from pyro_protocol import constants, serializers
from pyro_protocol.config import config
from pyro_protocol.errors import DaemonError, PyroError
from pyro_protocol.socketutil import family_str
from pyro_protocol.uri import URI

from .connection import ClientConnection
from .decorators import expose
from .dispatch import Dispatcher
from .exposure import get_exposed_members, reset_metadata_cache
from .handshake import object_metadata
from .instances import MODES, InstanceModes
from .registration import nameserver_registration
from .servers import make_server
from .streams import StreamRegistry

__all__ = ["Daemon", "DaemonObject", "serveSimple"]

log = logging.getLogger("pyro.server")


@expose
class DaemonObject:
    """The daemon's own remote interface, registered as ``Pyro.Daemon``."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon

    def registered(self) -> list[str]:
        return list(self.daemon.objectsById)

    def ping(self) -> None:
        pass

    def info(self) -> str:
        return (
            f"{constants.DAEMON_NAME} bound on {self.daemon.locationStr}, NAT {self.daemon.natLocationStr}, "
            f"{len(self.daemon.objectsById)} objects registered. Servertype: {self.daemon.transportServer}"
        )

    def get_metadata(self, objectId: str, as_lists: bool = False) -> dict[str, Any]:
        return object_metadata(self.daemon.objectsById, objectId, as_lists)

    def get_next_stream_item(self, streamId: str) -> Any:
        return self.daemon.streams.next_item(streamId)

    def close_stream(self, streamId: str) -> None:
        self.daemon.streams.close(streamId)


class Daemon:
    """Publishes objects for remote calls: ``uri = daemon.register(obj); daemon.requestLoop()``."""

    def __init__(
        self,
        host: Optional[str] = None,
        port: int = 0,
        unixsocket: Optional[str] = None,
        nathost: Optional[str] = None,
        natport: Optional[int] = None,
        interface: type = DaemonObject,
        connected_socket: Optional[socket.socket] = None,
    ) -> None:
        if connected_socket is not None and (host or port or unixsocket):
            raise ValueError("when using a connected_socket, don't give host, port or unixsocket")
        if unixsocket and (host or port):
            raise ValueError("give either a unixsocket or host/port, not both")
        if nathost is None and config.NATHOST:
            nathost, natport = config.NATHOST, natport if natport is not None else config.NATPORT
        if natport is not None and nathost is None:
            raise ValueError("must also give nathost when giving natport")
        self._pyroHmacKey: Optional[bytes] = None
        self.objectsById: dict[str, Any] = {}
        self.streams = StreamRegistry()
        self.streaming_responses = self.streams.streams  # (Pyro4's name for them)
        self.instances = InstanceModes(self)
        self._shutting_down = False
        self._closed = False
        self.__mustshutdown = threading.Event()
        self.__loopstopped = threading.Event()
        self.__loopstopped.set()
        self.dispatcher = Dispatcher(self, Daemon)
        self.transportServer = make_server(
            self.dispatcher, str(config.SERVERTYPE), host, port, unixsocket, connected_socket
        )
        self.locationStr = self.transportServer.location_str
        self.natLocationStr: Optional[str] = None
        if nathost:
            if natport == 0 and not self.transportServer.bound_port:
                raise ValueError("natport 0 needs a TCP daemon (it repeats the bound port)")
            port_out = natport or self.transportServer.bound_port
            self.natLocationStr = f"[{nathost}]:{port_out}" if ":" in nathost else f"{nathost}:{port_out}"
        self.register(interface(self), constants.DAEMON_NAME)
        log.debug("daemon created on %s (%s server)", self.locationStr, config.SERVERTYPE)

    # -- configuration -----------------------------------------------------------------

    @property
    def _pyroHmacKey(self) -> Optional[bytes]:  # noqa: N802 - Pyro4's name
        return self.__hmac_key

    @_pyroHmacKey.setter
    def _pyroHmacKey(self, value: Union[str, bytes, None]) -> None:  # noqa: N802
        self.__hmac_key = value.encode("utf-8") if isinstance(value, str) else value

    @property
    def handshake_timeout(self) -> float:
        """Seconds a new connection has for its handshake (HANDSHAKE_TIMEOUT), even when COMMTIMEOUT is 0."""
        return self.dispatcher.handshake_timeout

    @handshake_timeout.setter
    def handshake_timeout(self, seconds: float) -> None:
        self.dispatcher.handshake_timeout = seconds

    @property
    def sock(self) -> Optional[socket.socket]:
        return self.transportServer.listen_sock

    @property
    def sockets(self) -> list[Any]:
        """Every socket the daemon listens on, for use in your own event loop with :meth:`events`."""
        return self.transportServer.sockets

    def events(self, eventsockets: Iterable[Any]) -> None:
        """Handle the activity on the given sockets (from your own select loop)."""
        self.transportServer.events(list(eventsockets))

    def combine(self, daemon: Any) -> None:
        """Serve another daemon (or the name server's broadcast server) from this daemon's loop."""
        if daemon is self:
            raise PyroError("cannot combine a daemon with itself")
        self.transportServer.combine(daemon)

    # -- registry ----------------------------------------------------------------------

    def register(self, obj_or_class: Any, objectId: Optional[str] = None, force: bool = False) -> URI:
        """Publish an object (one instance for everyone) or a class (instances by instance mode)."""
        if objectId is not None:
            if not isinstance(objectId, str):
                raise TypeError("objectId must be a string or None")
        else:
            objectId = "obj_" + uuid.uuid4().hex
        if inspect.isclass(obj_or_class):
            instancing = getattr(obj_or_class, "_pyroInstancing", ("session", None))
            if instancing[0] not in MODES:
                raise ValueError(f"invalid instance mode {instancing[0]!r} on {obj_or_class.__name__}")
        elif type(obj_or_class).__module__ == "builtins":
            raise DaemonError(
                f"cannot register an object of builtin type {type(obj_or_class).__name__}: "
                "it can't hold the _pyroId/_pyroDaemon attributes; wrap it in a class"
            )
        if not force:
            if _own_pyro_id(obj_or_class):
                raise DaemonError("object or class already has a Pyro id")
            if objectId in self.objectsById:
                raise DaemonError("an object or class is already registered with that id")
        try:
            obj_or_class._pyroId = objectId
            obj_or_class._pyroDaemon = self
        except (AttributeError, TypeError):
            raise DaemonError(
                f"cannot register {type(obj_or_class).__name__}: it does not allow custom attributes "
                "(__slots__ without _pyroId and _pyroDaemon?)"
            ) from None
        if not inspect.isclass(obj_or_class) and config.AUTOPROXY:
            serializers.register_type_replacement(type(obj_or_class), autoproxy_for)
        self.objectsById[objectId] = obj_or_class
        return self.uriFor(objectId)

    def unregister(self, objectOrId: Any) -> None:
        """Remove an object (or the object with that id) from the daemon."""
        if objectOrId is None:
            raise ValueError("object or objectid argument expected")
        object_id = objectOrId if isinstance(objectOrId, str) else getattr(objectOrId, "_pyroId", None)
        if object_id is None:
            raise DaemonError("object isn't registered")
        if object_id == constants.DAEMON_NAME:
            return
        obj = self.objectsById.pop(object_id, None)
        if obj is not None:
            for attribute in ("_pyroId", "_pyroDaemon"):
                try:
                    delattr(obj, attribute)
                except AttributeError:
                    pass
            if inspect.isclass(obj):
                self.instances.forget(obj)

    def uriFor(self, objectOrId: Any, nat: bool = True) -> URI:  # noqa: N802 - Pyro4's name
        """The URI of a registered object (or an id); the NAT address unless ``nat=False``."""
        if not isinstance(objectOrId, str):
            objectOrId = getattr(objectOrId, "_pyroId", None)
            if objectOrId is None or objectOrId not in self.objectsById:
                raise DaemonError("object isn't registered in this daemon")
        location = self.natLocationStr if nat and self.natLocationStr else self.locationStr
        return URI(f"PYRO:{objectOrId}@{location}")

    def resetMetadataCache(self, objectOrId: Any, nat: bool = True) -> None:  # noqa: N802 - Pyro4's name
        """Forget the cached metadata of a registered object whose exposed members changed.

        Proxies made afterwards see the change; existing ones keep what they got. (``nat``
        only matters to Pyro4's signature: the object is found by its id either way.)
        """
        object_id = self.uriFor(objectOrId, nat).object
        obj = self.objectsById.get(object_id)
        if obj is None:
            return  # nothing registered under that id: nothing cached either
        reset_metadata_cache(obj if inspect.isclass(obj) else type(obj))
        self.dispatcher.handshakes.forget_object(object_id)  # (its answers carry the metadata)

    def proxyFor(self, objectOrId: Any, nat: bool = True) -> Any:  # noqa: N802 - Pyro4's name
        """A client Proxy for a registered object, with its metadata already filled in."""
        uri = self.uriFor(objectOrId, nat)
        proxy = Proxy(uri)
        obj = self.objectsById.get(uri.object)
        if obj is None:
            raise DaemonError("object isn't registered in this daemon")
        meta = get_exposed_members(obj)
        proxy._pyroOneway = set(meta["oneway"])
        proxy._pyroMethods = set(meta["methods"])
        proxy._pyroAttrs = set(meta["attrs"])
        return proxy

    # -- overridable hooks -------------------------------------------------------------

    def validateHandshake(self, conn: ClientConnection, data: Any) -> Any:  # noqa: N802 - Pyro4's name
        """Check a client's handshake data; raise to refuse it. The return value goes back to the client."""
        return "hello"

    def clientDisconnect(self, conn: ClientConnection) -> None:  # noqa: N802 - Pyro4's name
        """Called when a client connection ends (one that completed its handshake)."""

    def housekeeping(self) -> None:
        """Called periodically from the request loop (about every POLLTIMEOUT seconds)."""

    def annotations(self) -> dict[str, bytes]:
        """Extra annotations to put on every reply message."""
        return {}

    # -- the request loop --------------------------------------------------------------

    def requestLoop(self, loopCondition: Callable[[], bool] = lambda: True) -> None:  # noqa: N802
        """Serve requests until :meth:`shutdown` is called, ``loopCondition()`` is false or Ctrl-C is pressed."""
        self.__mustshutdown.clear()
        self.__loopstopped.clear()
        try:
            self.transportServer.loop(lambda: not self.__mustshutdown.is_set() and loopCondition())
        except KeyboardInterrupt:
            # as Pyro4: Ctrl-C ends the loop and the program goes on after requestLoop()
            log.info("request loop stopped by a break signal")
        finally:
            self.__loopstopped.set()
        log.debug("daemon request loop ended")

    async def serve(self) -> None:
        """Serve on the running asyncio event loop until :meth:`shutdown` (the asyncio server type).

        ``async def`` methods run on this loop, plain ones in worker threads. A daemon made
        with another SERVERTYPE hands its listening socket to an asyncio server first (it
        must not have served anyone yet). The connections end when this returns.
        """
        from .servers.aio import AsyncioServer

        server = self.transportServer
        if not isinstance(server, AsyncioServer):
            server = self.transportServer = AsyncioServer.taking_over(server)
        self.__mustshutdown.clear()
        self.__loopstopped.clear()
        try:
            await server.serve(lambda: not self.__mustshutdown.is_set())
        finally:
            self.__loopstopped.set()
        log.debug("daemon serve() ended")

    def shutdown(self) -> None:
        """Stop the request loop. Idempotent; safe from a remote call and from another thread."""
        if self._shutting_down:
            return
        self._shutting_down = True
        self.__mustshutdown.set()
        self.transportServer.wakeup()
        in_loop_thread = self.transportServer.is_loop_thread()
        if not in_loop_thread and not self.transportServer.is_worker_thread():
            self.__loopstopped.wait(timeout=5.0)
        self.streams.clear()
        self._shutting_down = False

    def close(self) -> None:
        """Shut down and release every socket and thread. Idempotent."""
        if self._closed:
            return
        self.shutdown()
        self._closed = True
        self.transportServer.close()
        self.dispatcher.close()
        for obj in list(self.objectsById.values()):
            for attribute in ("_pyroId", "_pyroDaemon"):
                try:
                    delattr(obj, attribute)
                except AttributeError:
                    pass
        self.objectsById.clear()

    def __enter__(self) -> Daemon:
        if self._closed:
            raise PyroError("cannot reuse a closed daemon")
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if not self._closed:
                self.transportServer.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        kind = type(self)
        sock = self.sock
        family = family_str(sock) if sock is not None else "connected socket"
        return (
            f"<{kind.__module__}.{kind.__qualname__} at 0x{id(self):x}; {self.locationStr} - {family}; "
            f"{len(self.objectsById)} objects>"
        )

    def __getstate__(self) -> dict[str, Any]:
        return {}  # a daemon travels only as an unusable placeholder (Pyro4.core.Daemon)


def _own_pyro_id(obj_or_class: Any) -> Optional[str]:
    """The Pyro id set on this very object or class (not one inherited from its registered class)."""
    own: Optional[str]
    try:
        own = vars(obj_or_class).get("_pyroId")
    except TypeError:  # no __dict__
        own = getattr(obj_or_class, "_pyroId", None)
    return own


def autoproxy_for(obj: Any) -> Any:
    """The proxy a registered object travels as (Pyro4's pyroObjectToAutoProxy); anything else is returned as it is.

    Installed as the type replacement of registered objects' classes.
    """
    daemon = getattr(obj, "_pyroDaemon", None)
    object_id = getattr(obj, "_pyroId", None)
    if daemon is None or not config.AUTOPROXY or daemon.objectsById.get(object_id) is not obj:
        return obj
    return daemon.proxyFor(obj)


def serveSimple(  # noqa: N802 - Pyro4's name
    objects: dict[Any, Optional[str]],
    host: Optional[str] = None,
    port: int = 0,
    daemon: Optional[Daemon] = None,
    ns: bool = True,
    verbose: bool = True,
    lease: Optional[float] = None,
) -> None:
    """Publish a dict ``{object_or_class: name}`` and run the request loop until shutdown.

    With ``ns=True`` each named object is registered in the name server under its
    name (and gets a generated id in the daemon); with ``ns=False`` the names are
    the object ids in the daemon. ``None`` means a generated id and no name server entry.
    ``lease`` (seconds; our name server only): the names are registered with that lease
    and renewed while the loop runs, so they disappear once the daemon is gone.
    """
    if daemon is None:
        daemon = Daemon(host, port)
    with daemon, nameserver_registration(ns, lease) as name_server:
        for obj, name in objects.items():
            uri = daemon.register(obj, None if ns else name)
            if verbose:
                print(f"Object {obj!r}:\n    uri = {uri}")
            if name and name_server is not None:
                name_server.register(name, uri)
                if verbose:
                    print(f"    name = {name}")
        if name_server is not None:
            name_server.serving()
        if verbose:
            print("Pyro daemon running.")
            sys.stdout.flush()
        daemon.requestLoop()


Daemon.serveSimple = staticmethod(serveSimple)  # type: ignore[attr-defined]
