"""The Daemon: registry of Pyro objects, URIs, and what happens to each request."""

from __future__ import annotations

import collections.abc
import inspect
import logging
import marshal
import socket
import sys
import threading
import time
import traceback
import uuid
from types import MethodType
from typing import Any, Callable, Iterable, Optional, Union

from pyro_client import Proxy, SerializedBlob
from pyro_client.futures import WorkerPool
from pyro_protocol import constants, serializers, wirelog
from pyro_protocol import message as wire
from pyro_protocol.config import config
from pyro_protocol.context import current_context, new_correlation_bytes
from pyro_protocol.errors import (
    CommunicationError,
    DaemonError,
    ProtocolError,
    PyroError,
    SecurityError,
    SerializeError,
)
from pyro_protocol.message import Message, MessageDecoder
from pyro_protocol.socketutil import family_str
from pyro_protocol.uri import URI

from .connection import ClientConnection
from .decorators import expose
from .exposure import (
    get_attribute,
    get_exposed_members,
    get_exposed_property_value,
    reset_metadata_cache,
    set_exposed_property_value,
)
from .registration import nameserver_registration

__all__ = ["Daemon", "DaemonObject", "serveSimple"]

log = logging.getLogger("pyro.server")

#: A connection must finish its handshake within this many seconds, even when
#: COMMTIMEOUT is 0, so silent or slow peers cannot pile up.
HANDSHAKE_TIMEOUT = 10.0
#: Oneway calls (with ONEWAY_THREADED) run on a pool of at most this many threads.
ONEWAY_WORKERS = 16
_MARSHAL_ID = serializers.SERIALIZER_IDS["marshal"]
#: serializer id -> serializer, for the request path (filled on first use).
_serializers_by_id: dict[int, Any] = {}
#: Replies shorter than this are built as one bytes object and sent with one system call.
_PLAIN_REPLY_LIMIT = 64 * 1024
#: A BLBI annotation holds (info, object id, method name); a blob's info is meant to be small (a name,
#: an id), and an annotation can hold at most 64 KiB anyway.
BLBI_MAX_SIZE = 16 * 1024


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
        return self.daemon._get_metadata(objectId, as_lists)

    def get_next_stream_item(self, streamId: str) -> Any:
        return self.daemon._next_stream_item(streamId)

    def close_stream(self, streamId: str) -> None:
        self.daemon._close_stream(streamId)


class _Stream:
    __slots__ = ("iterator", "connection", "created", "detached_at")

    def __init__(self, iterator: Any, connection: Optional[ClientConnection]) -> None:
        self.iterator = iterator
        self.connection = connection
        self.created = time.monotonic()
        self.detached_at: Optional[float] = None


def _is_streamable(value: Any) -> bool:
    kind = type(value)
    if kind in _PLAIN_VALUE_TYPES:
        return False
    if inspect.isgenerator(value):
        return True
    # a Proxy has __next__ (it forwards iteration to its remote object) but is a value to send
    return isinstance(value, collections.abc.Iterator) and not isinstance(value, Proxy)


#: Entries kept in the daemon's handshake caches before they start over.
_HANDSHAKE_CACHE_SIZE = 256


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
    if len(cache) >= _HANDSHAKE_CACHE_SIZE:
        cache.clear()
    cache[key] = value


_PLAIN_VALUE_TYPES = frozenset({type(None), bool, int, float, str, bytes, list, tuple, dict, set})


def _format_traceback(exc: BaseException, detailed: bool) -> list[str]:
    if not detailed:
        return traceback.format_exception(type(exc), exc, exc.__traceback__)
    lines = ["Traceback (most recent call last, with local variables):\n"]
    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        code = frame.f_code
        lines.append(f'  File "{code.co_filename}", line {tb.tb_lineno}, in {code.co_name}\n')
        for name, value in sorted(frame.f_locals.items()):
            try:
                text = repr(value)
            except Exception as repr_error:
                text = f"<unrepresentable: {repr_error}>"
            if len(text) > 500:
                text = text[:500] + "..."
            lines.append(f"      {name} = {text}\n")
        tb = tb.tb_next
    lines.extend(traceback.format_exception_only(type(exc), exc))
    return lines


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
        self.streaming_responses: dict[str, _Stream] = {}
        self._streams_lock = threading.Lock()
        self._single_instances: dict[type, Any] = {}
        self._instances_lock = threading.Lock()
        self._shutting_down = False
        self._closed = False
        self._oneway_pool: Optional[WorkerPool] = None
        self._oneway_lock = threading.Lock()
        self._oneways_running = 0  # oneway calls handed to the pool and not finished
        self._connect_requests: dict[tuple[int, bytes], dict[str, Any]] = {}
        self._connect_replies: dict[tuple[Any, ...], tuple[Any, bytes]] = {}
        self.handshake_timeout = HANDSHAKE_TIMEOUT
        self.__mustshutdown = threading.Event()
        self.__loopstopped = threading.Event()
        self.__loopstopped.set()

        from .servers import make_server  # late: servers import this module

        self.transportServer = make_server(self, str(config.SERVERTYPE), host, port, unixsocket, connected_socket)
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
            if instancing[0] not in ("session", "single", "percall"):
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
            with self._instances_lock:
                if inspect.isclass(obj):
                    self._single_instances.pop(obj, None)

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
        # the handshake replies with its metadata, per serializer and response (see _connect_reply)
        self._connect_replies = {
            key: value for key, value in list(self._connect_replies.items()) if key[1] != object_id
        }

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
        with self._streams_lock:
            self.streaming_responses.clear()
        self._shutting_down = False

    def close(self) -> None:
        """Shut down and release every socket and thread. Idempotent."""
        if self._closed:
            return
        self.shutdown()
        self._closed = True
        self.transportServer.close()
        with self._oneway_lock:
            if self._oneway_pool is not None:
                self._oneway_pool.shutdown()
                self._oneway_pool = None
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

    # -- connections (called by the server types) --------------------------------------

    def _new_connection(self, sock: socket.socket, addr: Any) -> ClientConnection:
        decoder = MessageDecoder(int(config.MAX_MESSAGE_SIZE), self._pyroHmacKey)
        return ClientConnection(sock, addr, decoder, float(config.COMMTIMEOUT))

    def _connection_closed(self, conn: ClientConnection) -> None:
        """The end of a connection: hooks, session instances, lingering streams."""
        if conn.closed and not conn.pyroInstances and not conn.tracked_resources and getattr(conn, "_cleaned", False):
            return
        conn._cleaned = True  # type: ignore[attr-defined]
        if conn.handshake_done:  # (as Pyro4: the user's hook never sees a client that was not let in)
            try:
                self.clientDisconnect(conn)
            except Exception:
                log.exception("error in clientDisconnect hook")
        self._detach_streams(conn)
        conn.close()

    def _default_handshake_hooks(self) -> bool:
        """True when the hooks a handshake calls are the Daemon's own (quick, never blocking)."""
        return (
            getattr(self.validateHandshake, "__func__", None) is Daemon.validateHandshake
            and getattr(self.annotations, "__func__", None) is Daemon.annotations
        )

    def _handle(self, conn: ClientConnection, msg: Message) -> bool:
        """Process one message of a connection; False means: close the connection now."""
        if config.LOGWIRE:
            wirelog.log_message("daemon", "received", msg)
        if not conn.handshake_done:
            return self._handshake(conn, msg)
        return self._request(conn, msg)

    def _protocol_failure(self, conn: ClientConnection, error: Exception) -> None:
        """The peer sent bytes we cannot read. Before the handshake it gets a CONNECTFAIL."""
        log.warning("closing connection from %s: %s", conn.addr, error)
        if not conn.handshake_done:
            self._connect_fail(conn, str(error), 0, _MARSHAL_ID)

    # -- handshake ---------------------------------------------------------------------

    def _connect_fail(self, conn: ClientConnection, reason: str, seq: int, serializer_id: int) -> None:
        try:
            serializer = serializers.get_serializer_by_id(serializer_id)
        except SerializeError:
            serializer, serializer_id = serializers.get_serializer("marshal"), _MARSHAL_ID
        try:
            head, body = wire.encode(
                wire.MSG_CONNECTFAIL,
                serializer.dumps(reason),
                serializer_id,
                0,
                seq,
                self._reply_annotations(None),
                hmac_key=self._pyroHmacKey,
            )
            conn.send(head, body)
        except Exception as exc:
            log.debug("could not send CONNECTFAIL to %s: %s", conn.addr, exc)

    def _handshake(self, conn: ClientConnection, msg: Message) -> bool:
        if msg.type != wire.MSG_CONNECT:
            self._connect_fail(conn, f"invalid msg type {msg.type} received", 0, _MARSHAL_ID)
            return False
        if not self._accepts(msg.serializer_id):
            self._connect_fail(conn, _refused_serializer(msg.serializer_id), msg.seq, _MARSHAL_ID)
            return False
        corr = msg.annotations.get("CORR")
        correlation = corr if corr and len(corr) == 16 else new_correlation_bytes()
        current_context.set_correlation_bytes(correlation)
        current_context.client = conn
        current_context.client_sock_addr = conn.addr
        serializer = serializers.get_serializer_by_id(msg.serializer_id)
        try:
            data = self._connect_request(serializer, msg.data)
            response = self.validateHandshake(conn, data["handshake"])
            flags = 0
            if msg.flags & wire.FLAGS_META_ON_CONNECT:
                flags = wire.FLAGS_META_ON_CONNECT
                body = self._connect_reply(serializer, data["object"], response)
            else:
                body = serializer.dumps(response)
        except Exception as exc:
            reason = f"{exc.args[0]!r}" if isinstance(exc, KeyError) and exc.args else str(exc)
            log.info("handshake from %s refused: %s", conn.addr, reason)
            self._connect_fail(conn, reason, msg.seq, msg.serializer_id)
            return False
        annotations = self._reply_annotations(correlation)
        try:
            head, body = wire.encode(
                wire.MSG_CONNECTOK,
                body,
                msg.serializer_id,
                flags,
                msg.seq,
                annotations,
                compress=bool(config.COMPRESSION),
                max_message_size=int(config.MAX_MESSAGE_SIZE),
                hmac_key=self._pyroHmacKey,
            )
            conn.send(head, body)
        except (CommunicationError, OSError) as exc:
            log.info("handshake reply to %s failed: %s", conn.addr, exc)
            return False
        conn.handshake_done = True
        return True

    def _connect_request(self, serializer: Any, payload: bytes) -> dict[str, Any]:
        """The handshake payload; clients of one kind send the same bytes every time: read once."""
        key = (serializer.serializer_id, payload)
        data = self._connect_requests.get(key)
        if data is None:
            data = serializer.loads(payload)
            if not isinstance(data, dict):
                raise ProtocolError("handshake payload must be a dict")
            if all(type(value) in serializers.PLAIN_SCALARS for value in data.values()):
                _remember(self._connect_requests, key, data)
            else:
                return data
        return dict(data)  # (validateHandshake may change it)

    def _connect_reply(self, serializer: Any, object_id: Any, response: Any) -> bytes:
        """The serialized handshake reply with the object's metadata, reused while nothing it depends on changed."""
        obj = self.objectsById.get(object_id) if type(object_id) is str else None
        if obj is None or type(response) not in serializers.PLAIN_SCALARS:
            return serializer.dumps({"handshake": response, "meta": self._get_metadata(object_id, as_lists=True)})
        key = (serializer.serializer_id, object_id, response, bool(config.REQUIRE_EXPOSE))
        cached = self._connect_replies.get(key)
        if cached is not None and cached[0] is obj:
            return cached[1]
        body: bytes = serializer.dumps({"handshake": response, "meta": self._get_metadata(object_id, as_lists=True)})
        _remember(self._connect_replies, key, (obj, body))
        return body

    def _accepts(self, serializer_id: int) -> bool:
        return serializers.serializer_name(serializer_id) in config.SERIALIZERS_ACCEPTED

    def _reply_annotations(
        self, correlation: Optional[bytes], extra: Optional[dict[str, bytes]] = None
    ) -> dict[str, bytes]:
        annotations = dict(extra) if extra else {}
        if correlation is not None:
            annotations["CORR"] = correlation
        hook = self.annotations()
        if hook:
            annotations.update(hook)
        return annotations

    # -- requests ----------------------------------------------------------------------

    def _request(self, conn: ClientConnection, msg: Message) -> bool:
        """One request: the hot path of the server. Keep it flat."""
        ctx = current_context
        annotations = msg.annotations
        corr = annotations.get("CORR") if annotations else None
        correlation = corr if corr is not None and len(corr) == 16 else new_correlation_bytes()
        msg_flags = msg.flags
        serializer_id = msg.serializer_id
        ctx.client = conn
        ctx.client_sock_addr = conn.addr
        ctx.seq = msg.seq
        ctx.msg_flags = msg_flags
        ctx.serializer_id = serializer_id
        ctx.annotations = annotations
        ctx.response_annotations = {}
        ctx._correlation_id = None  # (set_correlation_bytes, inlined: this runs for every request)
        ctx.correlation_bytes = correlation
        if msg.type != wire.MSG_INVOKE:
            if msg.type == wire.MSG_PING:
                head, body = wire.encode(
                    wire.MSG_PING,
                    b"pong",
                    serializer_id,
                    0,
                    msg.seq,
                    self._reply_annotations(correlation),
                    hmac_key=self._pyroHmacKey,
                )
                conn.send(head, body)
                return True
            log.warning("closing connection from %s: invalid msg type %d received", conn.addr, msg.type)
            return False
        oneway = msg_flags & wire.FLAGS_ONEWAY
        serializer = _serializers_by_id.get(serializer_id)
        if serializer is None:
            try:
                serializer = _serializers_by_id[serializer_id] = serializers.get_serializer_by_id(serializer_id)
            except SerializeError as exc:  # an unknown id, or a serializer that cannot load here
                log.warning("closing connection from %s: serializer id %d: %s", conn.addr, serializer_id, exc)
                return False
        is_callback = False
        try:
            if serializer.name not in config.SERIALIZERS_ACCEPTED:
                raise SerializeError(_refused_serializer(serializer_id))
            if msg_flags & wire.FLAGS_KEEPSERIALIZED:
                object_id, method, vargs, kwargs = _blob_request(msg)  # (its payload stays as it is)
            else:
                data = msg.data
                object_id, method, vargs, kwargs = serializer.loadsCall(data)
                if type(data) is memoryview:
                    conn.decoder.recycle(data)  # a large payload's buffer: read, so reusable
            obj = self.objectsById.get(object_id)
            if obj is None:
                raise _unknown_object(object_id)
            if isinstance(obj, type):
                obj = self._instance_for(obj, conn)
            if msg_flags & wire.FLAGS_BATCH:
                result = self._run_batch(obj, vargs, bool(oneway))
            elif method == "__getattr__":
                result = get_exposed_property_value(obj, vargs[0])
            elif method == "__setattr__":
                set_exposed_property_value(obj, vargs[0], vargs[1])
                result = None
            else:
                function = get_attribute(obj, method)
                # (on the function, not the bound method: a missing attribute of a bound method
                # costs a formatted AttributeError, and this runs for every request)
                is_callback = getattr(
                    function.__func__ if type(function) is MethodType else function, "_pyroCallback", False
                )
                if oneway and config.ONEWAY_THREADED:
                    self._run_oneway(function, vargs, kwargs)
                    return True
                result = function(*vargs, **kwargs) if kwargs else function(*vargs)
            if oneway:
                return True
            # read after the call: the method may have put a new dict there (Pyro4's docs do so)
            response_annotations = ctx.response_annotations
            if type(result) not in _PLAIN_VALUE_TYPES and _is_streamable(result) and not msg_flags & wire.FLAGS_BATCH:
                return self._start_stream(conn, msg, serializer, result)
            parts = None
            if (
                type(result) is bytes
                and len(result) >= _PLAIN_REPLY_LIMIT
                and not self.__hmac_key
                and not config.COMPRESSION
                and not config.MAX_MESSAGE_SIZE
                and type(self).annotations is Daemon.annotations
                and "annotations" not in self.__dict__
                and not response_annotations
            ):
                parts = serializer.bytes_parts(result)
            if parts is not None:  # a large bytes result goes out as it is: no serialized copy
                prefix, suffix = parts
                reply = b""
                head = (
                    wire.plain_header(
                        wire.MSG_RESULT,
                        len(prefix) + len(result) + len(suffix),
                        serializer_id,
                        msg_flags & wire.FLAGS_BATCH,
                        msg.seq,
                        correlation,
                    )
                    + prefix
                )
                body = result
            else:
                data = serializer.dumps(result)
                if (
                    len(data) < _PLAIN_REPLY_LIMIT
                    and not response_annotations
                    and not self.__hmac_key
                    and not config.COMPRESSION
                    and not config.MAX_MESSAGE_SIZE
                    and type(self).annotations is Daemon.annotations
                    and "annotations" not in self.__dict__
                ):
                    reply = wire.encode_plain(
                        wire.MSG_RESULT, data, serializer_id, msg_flags & wire.FLAGS_BATCH, msg.seq, correlation
                    )
                    head = body = b""
                else:
                    reply = b""
                    head, body = wire.encode(
                        wire.MSG_RESULT,
                        data,
                        serializer_id,
                        msg_flags & wire.FLAGS_BATCH,
                        msg.seq,
                        self._reply_annotations(correlation, response_annotations),
                        compress=bool(config.COMPRESSION),
                        max_message_size=int(config.MAX_MESSAGE_SIZE),
                        hmac_key=self.__hmac_key,
                    )
        except Exception as exc:
            if oneway:
                log.warning("oneway call from %s failed: %s: %s", conn.addr, type(exc).__name__, exc)
                return True
            return self._send_exception(conn, msg, serializer, exc, bool(is_callback))
        if reply:
            conn.send_all(reply)
        else:
            conn.send(head, body, parts[1] if parts is not None else b"")
        return True

    def _send_exception(
        self, conn: ClientConnection, msg: Message, serializer: Any, exc: Exception, is_callback: bool
    ) -> bool:
        exc._pyroTraceback = _format_traceback(exc, bool(config.DETAILED_TRACEBACK))  # type: ignore[attr-defined]
        if isinstance(exc, (CommunicationError, SecurityError)):
            log.warning("error handling a request from %s: %s", conn.addr, exc)
        else:
            log.debug("remote call raised %s: %s", type(exc).__name__, exc)
        try:
            body = serializer.dumps(exc)
        except Exception as serialize_error:
            replacement = PyroError(
                f"Error serializing exception: {serialize_error}. Original exception: {type(exc).__name__}: {exc}"
            )
            replacement._pyroTraceback = exc._pyroTraceback  # type: ignore[attr-defined]
            body = serializer.dumps(replacement)
        head, body = wire.encode(
            wire.MSG_RESULT,
            body,
            msg.serializer_id,
            wire.FLAGS_EXCEPTION,
            msg.seq,
            self._reply_annotations(None),
            hmac_key=self._pyroHmacKey,
        )
        conn.send(head, body)
        if is_callback:
            log.warning(
                "callback method raised %s: %s; closing the connection\n%s",
                type(exc).__name__,
                exc,
                "".join(exc._pyroTraceback),  # type: ignore[attr-defined]
            )
        return not (is_callback or isinstance(exc, (CommunicationError, SecurityError)))

    def _run_batch(self, obj: Any, calls: Any, oneway: bool) -> list[Any]:
        results: list[Any] = []
        for call in calls:
            method, vargs, kwargs = call
            try:
                function = get_attribute(obj, method)
                results.append(function(*vargs, **(kwargs or {})))
            except Exception as exc:
                exc._pyroTraceback = _format_traceback(exc, bool(config.DETAILED_TRACEBACK))  # type: ignore[attr-defined]
                results.append(serializers.ExceptionWrapper(exc))
                break
        return results

    def _run_oneway(self, function: Callable[..., Any], vargs: Any, kwargs: Any) -> None:
        context = current_context.to_global()

        def run() -> None:
            current_context.from_global(context)
            try:
                function(*vargs, **(kwargs or {}))
            except Exception as exc:
                log.warning("oneway call raised %s: %s", type(exc).__name__, exc)
            finally:
                with self._oneway_lock:
                    self._oneways_running -= 1

        with self._oneway_lock:
            if self._oneway_pool is None:
                # daemon threads, as Pyro4's oneway threads: a running call does not keep the program alive
                self._oneway_pool = WorkerPool(ONEWAY_WORKERS, name="oneway-call")
            self._oneway_pool.submit(run)
            self._oneways_running += 1

    # -- instance modes ----------------------------------------------------------------

    def _instance_for(self, cls: type, conn: ClientConnection) -> Any:
        mode, creator = getattr(cls, "_pyroInstancing", ("session", None))
        if mode == "percall":
            return self._create_instance(cls, creator)
        if mode == "single":
            instance = self._single_instances.get(cls)
            if instance is None:
                with self._instances_lock:
                    instance = self._single_instances.get(cls)
                    if instance is None:
                        instance = self._single_instances[cls] = self._create_instance(cls, creator)
            return instance
        instance = conn.pyroInstances.get(cls)
        if instance is None:
            instance = conn.pyroInstances[cls] = self._create_instance(cls, creator)
        return instance

    def _create_instance(self, cls: type, creator: Optional[Callable[[type], Any]]) -> Any:
        instance = creator(cls) if creator is not None else cls()
        if not isinstance(instance, cls):
            raise TypeError("instance creator returned object of different type")
        try:
            instance._pyroDaemon = self
            instance._pyroId = cls._pyroId  # type: ignore[attr-defined]
        except AttributeError:
            pass
        return instance

    # -- metadata ----------------------------------------------------------------------

    def _get_metadata(self, objectId: str, as_lists: bool = False) -> dict[str, Any]:
        obj = self.objectsById.get(objectId)
        if obj is None:
            raise _unknown_object(objectId)
        meta = get_exposed_members(obj, as_lists=as_lists)
        if not meta["methods"] and not meta["attrs"]:
            log.warning("object %r exposes nothing (REQUIRE_EXPOSE is on: forgot @expose?)", objectId)
        return meta

    # -- iterator streams ----------------------------------------------------------------

    def _start_stream(self, conn: ClientConnection, msg: Message, serializer: Any, iterator: Any) -> bool:
        marker = ProtocolError("result of call is an iterator")
        marker._pyroTraceback = None  # type: ignore[attr-defined]
        annotations = self._reply_annotations(None)
        if config.ITER_STREAMING:
            stream_id = str(uuid.uuid4())
            with self._streams_lock:
                self.streaming_responses[stream_id] = _Stream(iterator, conn)
            annotations["STRM"] = stream_id.encode("ascii")
        head, body = wire.encode(
            wire.MSG_RESULT,
            serializer.dumps(marker),
            msg.serializer_id,
            wire.FLAGS_EXCEPTION | wire.FLAGS_ITEMSTREAMRESULT,
            msg.seq,
            annotations,
            hmac_key=self._pyroHmacKey,
        )
        conn.send(head, body)
        return True

    def _next_stream_item(self, stream_id: str) -> Any:
        with self._streams_lock:
            stream = self.streaming_responses.get(stream_id)
            if stream is not None:
                stream.connection = current_context.client
                stream.detached_at = None
        if stream is None:
            raise PyroError("item stream terminated")
        try:
            return next(stream.iterator)
        except BaseException:
            with self._streams_lock:
                self.streaming_responses.pop(stream_id, None)
            raise

    def _close_stream(self, stream_id: str) -> None:
        with self._streams_lock:
            stream = self.streaming_responses.pop(stream_id, None)
        if stream is not None and hasattr(stream.iterator, "close"):
            try:
                stream.iterator.close()
            except Exception:
                pass

    def _detach_streams(self, conn: ClientConnection) -> None:
        linger = float(config.ITER_STREAM_LINGER)
        now = time.monotonic()
        with self._streams_lock:
            for stream_id, stream in list(self.streaming_responses.items()):
                if stream.connection is conn:
                    if linger > 0:
                        stream.connection = None
                        stream.detached_at = now
                    else:
                        del self.streaming_responses[stream_id]

    def _housekeeping(self) -> None:
        """Expire streams by lifetime and linger time, then run the user hook."""
        lifetime = float(config.ITER_STREAM_LIFETIME)
        linger = float(config.ITER_STREAM_LINGER)
        now = time.monotonic()
        with self._streams_lock:
            for stream_id, stream in list(self.streaming_responses.items()):
                too_old = lifetime > 0 and now - stream.created > lifetime
                orphaned = stream.detached_at is not None and now - stream.detached_at > linger
                if too_old or orphaned:
                    del self.streaming_responses[stream_id]
        try:
            self.housekeeping()
        except Exception:
            log.exception("error in housekeeping hook")


def _blob_request(msg: Message) -> tuple[str, str, tuple[SerializedBlob], dict[str, Any]]:
    """A FLAGS_KEEPSERIALIZED call: object and method from its BLBI annotation, the message itself as the argument."""
    blbi = msg.annotations.get("BLBI")
    if blbi is None:
        raise ProtocolError("serialized-blob call (FLAGS_KEEPSERIALIZED) without a BLBI annotation")
    if len(blbi) > BLBI_MAX_SIZE:
        raise ProtocolError(f"BLBI annotation of {len(blbi)} bytes is too large (at most {BLBI_MAX_SIZE})")
    try:
        serializers.check_marshal(blbi)  # (marshal.loads trusts the sizes it reads)
        info, object_id, method = marshal.loads(blbi)
    except Exception as exc:
        raise ProtocolError(
            f"invalid BLBI annotation (expected a marshal dump of (info, object id, method name)): {exc}"
        ) from None
    if type(object_id) is not str or type(method) is not str:
        raise ProtocolError("invalid BLBI annotation: the object id and method name must be strings")
    return object_id, method, (SerializedBlob(info, msg, is_blob=True),), {}


def _refused_serializer(serializer_id: int) -> str:
    """Why a message's serializer is refused. Starts with Pyro4's text (programs match it), then says more."""
    return (
        f"message used serializer that is not accepted: {serializer_id} ({serializers.serializer_name(serializer_id)});"
        f" this daemon accepts {', '.join(sorted(config.SERIALIZERS_ACCEPTED))} (config SERIALIZERS_ACCEPTED)"
    )


def _unknown_object(object_id: Any) -> DaemonError:
    return DaemonError(f"unknown object {object_id!r}: no object is registered with that id in this daemon")


def _own_pyro_id(obj_or_class: Any) -> Optional[str]:
    """The Pyro id set on this very object or class (not one inherited from its registered class)."""
    try:
        return vars(obj_or_class).get("_pyroId")
    except TypeError:  # no __dict__
        return getattr(obj_or_class, "_pyroId", None)


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
