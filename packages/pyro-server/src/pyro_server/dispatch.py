"""What happens to each message a daemon's connections receive: the server's call path.

The :class:`Dispatcher` is the daemon's side of the contract with its server
types (``contract.RequestHandler``): the server types move bytes and hand over
whole messages; the dispatcher answers the handshake (``handshake.py``), runs
calls on the registered objects and frames their replies with the connection's
ServerSession (``pyro_protocol.session``).
"""

from __future__ import annotations

import inspect
import logging
import marshal
import socket
import threading
import traceback
from typing import Any, Callable, Optional

from pyro_client import SerializedBlob
from pyro_client.futures import WorkerPool
from pyro_protocol import serializers, wirelog
from pyro_protocol.config import config
from pyro_protocol.constants import JOIN_LIMIT
from pyro_protocol.context import current_context, new_correlation_bytes
from pyro_protocol.errors import CommunicationError, ProtocolError, PyroError, SecurityError, SerializeError
from pyro_protocol.message import (
    FLAGS_BATCH,
    FLAGS_EXCEPTION,
    FLAGS_ITEMSTREAMRESULT,
    FLAGS_KEEPSERIALIZED,
    FLAGS_ONEWAY,
    MSG_INVOKE,
    MSG_PING,
    Message,
)
from pyro_protocol.session import READY, ServerSession

from .connection import ClientConnection
from .exposure import get_attribute, get_exposed_property_value, set_exposed_property_value
from .handshake import MARSHAL_ID, Handshakes, refused_serializer, unknown_object
from .streams import VALUE_TYPES, is_streamable

__all__ = [
    "Dispatcher",
    "format_traceback",
    "request_correlation",
    "HANDSHAKE_TIMEOUT",
    "ONEWAY_WORKERS",
    "BLBI_MAX_SIZE",
]

log = logging.getLogger("pyro.server")

#: A connection must finish its handshake within this many seconds, even when
#: COMMTIMEOUT is 0, so silent or slow peers cannot pile up.
HANDSHAKE_TIMEOUT = 10.0
#: Oneway calls (with ONEWAY_THREADED) run on a pool of at most this many threads.
ONEWAY_WORKERS = 16
#: A BLBI annotation holds (info, object id, method name); a blob's info is meant to be small (a name,
#: an id), and an annotation can hold at most 64 KiB anyway.
BLBI_MAX_SIZE = 16 * 1024
#: serializer id -> serializer, for the request path (filled on first use).
_serializers_by_id: dict[int, Any] = {}


class Dispatcher:
    """Handles the messages of one daemon's connections (the server types' ``RequestHandler``)."""

    def __init__(self, daemon: Any, daemon_class: Any) -> None:
        self.daemon = daemon
        self.daemon_class = daemon_class  # the Daemon class itself: are its hooks overridden?
        # a subclass's annotations hook (an instance's own is looked for per reply)
        self.annotations_overridden = type(daemon).annotations is not daemon_class.annotations
        self.objects: dict[str, Any] = daemon.objectsById
        self.handshakes = Handshakes(daemon, self.reply_annotations)
        self.handshake_timeout = HANDSHAKE_TIMEOUT
        self.oneway_pool: Optional[WorkerPool] = None
        self.oneway_lock = threading.Lock()
        self.oneways_running = 0  # oneway calls handed to the pool and not finished

    # -- the contract with the server types -------------------------------------------------

    def new_connection(self, sock: socket.socket, addr: Any, handshake_done: bool = False) -> ClientConnection:
        session = ServerSession(hmac_key=self.daemon._pyroHmacKey, handshake_done=handshake_done)
        return ClientConnection(sock, addr, session, float(config.COMMTIMEOUT))

    def protocol_failure(self, conn: ClientConnection, error: Exception) -> None:
        """The peer sent bytes we cannot read. Before the handshake it gets a CONNECTFAIL."""
        log.warning("closing connection from %s: %s", conn.addr, error)
        if conn.session.state is not READY:
            self.handshakes.refuse(conn, str(error), 0, MARSHAL_ID)

    def connection_closed(self, conn: ClientConnection) -> None:
        """The end of a connection: hooks, session instances, lingering streams (once)."""
        if conn.cleaned_up:
            return
        conn.cleaned_up = True
        if conn.handshake_done:  # (as Pyro4: the user's hook never sees a client that was not let in)
            try:
                self.daemon.clientDisconnect(conn)
            except Exception:
                log.exception("error in clientDisconnect hook")
        self.daemon.streams.detach(conn)
        conn.close()

    def quick_handshakes(self) -> bool:
        """True when the hooks a handshake calls are the Daemon's own (quick, never blocking)."""
        return (
            getattr(self.daemon.validateHandshake, "__func__", None) is self.daemon_class.validateHandshake
            and getattr(self.daemon.annotations, "__func__", None) is self.daemon_class.annotations
        )

    def housekeeping(self) -> None:
        """Expire streams, then run the daemon's housekeeping hook."""
        self.daemon.streams.expire()
        try:
            self.daemon.housekeeping()
        except Exception:
            log.exception("error in housekeeping hook")

    # -- requests ---------------------------------------------------------------------------

    def handle(self, conn: ClientConnection, msg: Message) -> bool:
        """Process one message of a connection; False means: close the connection now.

        The hot path of the server is the INVOKE of a plain method; the rest goes to helpers.
        """
        if msg.type != MSG_INVOKE or conn.session.state is not READY or config.LOGWIRE:
            handled = self._not_a_call(conn, msg)
            if handled is not None:
                return handled
        serializer = self.request_serializer(conn, msg)
        if serializer is None:
            return False
        flags = msg.flags
        correlation = request_correlation(msg)
        ctx = current_context.state
        ctx.client = conn
        ctx.client_sock_addr = conn.addr
        ctx.seq = msg.seq
        ctx.msg_flags = flags
        ctx.serializer_id = msg.serializer_id
        ctx.annotations = msg.annotations
        ctx.response_annotations = {}
        ctx.correlation_bytes = correlation
        obj = method = None
        try:
            obj, method, vargs, kwargs = self.call_of(conn, msg, serializer)
            if flags & (FLAGS_BATCH | FLAGS_ONEWAY) or method[:1] == "_" or config.REQUIRE_EXPOSE:
                # (get_attribute decides about these names; any other is an attribute lookup)
                return self._special_call(conn, msg, serializer, obj, method, vargs, kwargs, correlation)
            function = getattr(obj, method)
            result = function(*vargs, **kwargs) if kwargs else function(*vargs)
            if type(result) not in VALUE_TYPES and _served_as_stream(result):
                return self.start_stream(conn, msg, serializer, result)
            frames = self.reply_frames(conn, msg, serializer, result, correlation, ctx.response_annotations)
        except Exception as exc:
            if flags & FLAGS_ONEWAY:
                log.warning("oneway call from %s failed: %s: %s", conn.addr, type(exc).__name__, exc)
                return True
            return self.send_exception(conn, msg, serializer, exc, _is_callback(obj, method))
        conn.send_frames(frames)
        return True

    def request_serializer(self, conn: ClientConnection, msg: Message) -> Any:
        """The serializer a request came with (None: an id unknown here; the connection ends)."""
        return _serializers_by_id.get(msg.serializer_id) or _serializer_for(conn, msg.serializer_id)

    def call_of(self, conn: ClientConnection, msg: Message, serializer: Any) -> tuple[Any, str, Any, Any]:
        """An INVOKE's object, method name and arguments, for any server type. The object is the
        one to call: for a registered class, the instance its instance mode gives this connection.
        Raises what the client is to be told (a refused serializer, bad data, an unknown object)."""
        if serializer.name not in config.SERIALIZERS_ACCEPTED:
            raise SerializeError(refused_serializer(msg.serializer_id))
        if msg.flags & FLAGS_KEEPSERIALIZED:
            object_id, method, vargs, kwargs = _blob_request(msg)  # (its payload stays as it is)
        else:
            object_id, method, vargs, kwargs = serializer.loadsCall(msg.data)
            if type(msg.data) is memoryview:
                conn.session.decoder.recycle(msg.data)  # a large payload's buffer: read, so reusable
        obj = self.objects.get(object_id)
        if obj is None:
            raise unknown_object(object_id)
        if isinstance(obj, type):
            obj = self.daemon.instances.instance_for(obj, conn)
        return obj, method, vargs, kwargs

    def _not_a_call(self, conn: ClientConnection, msg: Message) -> Optional[bool]:
        """A handshake, a PING or a message refused; None for a call to run (with LOGWIRE on)."""
        if config.LOGWIRE:
            wirelog.log_message("daemon", "received", msg)
        if conn.session.state is not READY:
            return self.handshakes.answer(conn, msg)
        if msg.type == MSG_INVOKE:
            return None
        return self._other(conn, msg)

    def _special_call(
        self,
        conn: ClientConnection,
        msg: Message,
        serializer: Any,
        obj: Any,
        method: str,
        vargs: Any,
        kwargs: Any,
        correlation: bytes,
    ) -> bool:
        """A batch, a oneway call, a remote attribute or a dunder method."""
        flags = msg.flags
        if flags & FLAGS_BATCH:
            result = self._run_batch(obj, vargs, bool(flags & FLAGS_ONEWAY))
        elif method == "__getattr__":
            result = get_exposed_property_value(obj, vargs[0])
        elif method == "__setattr__":
            set_exposed_property_value(obj, vargs[0], vargs[1])
            result = None
        else:
            function = get_attribute(obj, method)
            if flags & FLAGS_ONEWAY and config.ONEWAY_THREADED:
                self._run_oneway(function, vargs, kwargs)
                return True
            result = function(*vargs, **kwargs) if kwargs else function(*vargs)
        if flags & FLAGS_ONEWAY:
            return True
        if type(result) not in VALUE_TYPES and _served_as_stream(result) and not flags & FLAGS_BATCH:
            return self.start_stream(conn, msg, serializer, result)
        extra = current_context.state.response_annotations
        conn.send_frames(self.reply_frames(conn, msg, serializer, result, correlation, extra))
        return True

    def reply_frames(
        self, conn: ClientConnection, msg: Message, serializer: Any, result: Any, correlation: bytes, extra: Any
    ) -> Any:
        """The frames of a call's reply; ``extra``: the response annotations the method set (read after
        the call: the method may have put a new dict there, as Pyro4's docs do)."""
        payload: Any = None
        if type(result) is bytes and len(result) >= JOIN_LIMIT:
            around = serializer.bytes_parts(result)  # a large bytes result goes out without a copy
            if around is not None:
                payload = (around[0], result, around[1])
        if payload is None:
            payload = serializer.dumps(result)
        if extra or self.annotations_overridden or "annotations" in self.daemon.__dict__:
            annotations = self.reply_annotations(correlation, extra)
        else:
            annotations = {"CORR": correlation}
        return conn.session.reply(payload, msg.serializer_id, msg.flags & FLAGS_BATCH, msg.seq, annotations)

    def _other(self, conn: ClientConnection, msg: Message) -> bool:
        """A message after the handshake that is not a call: PING gets its answer, others end the connection."""
        if msg.type != MSG_PING:
            log.warning("closing connection from %s: invalid msg type %d received", conn.addr, msg.type)
            return False
        correlation = current_context.state.correlation_bytes = request_correlation(msg)
        conn.send_frames(conn.session.pong(msg.serializer_id, msg.seq, self.reply_annotations(correlation)))
        return True

    def reply_annotations(
        self, correlation: Optional[bytes], extra: Optional[dict[str, bytes]] = None
    ) -> dict[str, bytes]:
        """A reply's annotations: the method's response annotations, CORR, then the daemon hook's."""
        annotations = dict(extra) if extra else {}
        if correlation is not None:
            annotations["CORR"] = correlation
        hook = self.daemon.annotations()
        if hook:
            annotations.update(hook)
        return annotations

    def send_exception(
        self, conn: ClientConnection, msg: Message, serializer: Any, exc: Exception, is_callback: bool
    ) -> bool:
        exc._pyroTraceback = format_traceback(exc, bool(config.DETAILED_TRACEBACK))  # type: ignore[attr-defined]
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
        frames = conn.session.reply(body, msg.serializer_id, FLAGS_EXCEPTION, msg.seq, self.reply_annotations(None))
        conn.send_frames(frames)
        if is_callback:
            log.warning(
                "callback method raised %s: %s; closing the connection\n%s",
                type(exc).__name__,
                exc,
                "".join(exc._pyroTraceback),  # type: ignore[attr-defined]
            )
        return not (is_callback or isinstance(exc, (CommunicationError, SecurityError)))

    def start_stream(self, conn: ClientConnection, msg: Message, serializer: Any, iterator: Any) -> bool:
        marker = ProtocolError("result of call is an iterator")
        marker._pyroTraceback = None  # type: ignore[attr-defined]
        annotations = self.reply_annotations(None)
        if config.ITER_STREAMING:
            annotations["STRM"] = self.daemon.streams.start(iterator, conn).encode("ascii")
        flags = FLAGS_EXCEPTION | FLAGS_ITEMSTREAMRESULT
        conn.send_frames(conn.session.reply(serializer.dumps(marker), msg.serializer_id, flags, msg.seq, annotations))
        return True

    def _run_batch(self, obj: Any, calls: Any, oneway: bool) -> list[Any]:
        results: list[Any] = []
        for call in calls:
            method, vargs, kwargs = call
            try:
                function = get_attribute(obj, method)
                results.append(function(*vargs, **(kwargs or {})))
            except Exception as exc:
                exc._pyroTraceback = format_traceback(exc, bool(config.DETAILED_TRACEBACK))  # type: ignore[attr-defined]
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
                with self.oneway_lock:
                    self.oneways_running -= 1

        with self.oneway_lock:
            if self.oneway_pool is None:
                # daemon threads, as Pyro4's oneway threads: a running call does not keep the program alive
                self.oneway_pool = WorkerPool(ONEWAY_WORKERS, name="oneway-call")
            self.oneway_pool.submit(run)
            self.oneways_running += 1

    def close(self) -> None:
        with self.oneway_lock:
            if self.oneway_pool is not None:
                self.oneway_pool.shutdown()
                self.oneway_pool = None


def request_correlation(msg: Message) -> bytes:
    """A request's correlation id: the client's (its CORR annotation), else a new one (replies carry it)."""
    corr = msg.annotations.get("CORR") if msg.annotations else None
    return corr if corr is not None and len(corr) == 16 else new_correlation_bytes()


def _served_as_stream(result: Any) -> bool:
    """Whether a call's result is an iterator to serve as a stream. A coroutine or an async generator
    (from an ``async def`` method) is refused: only the asyncio server type runs those."""
    if inspect.iscoroutine(result) or inspect.isasyncgen(result):
        if inspect.iscoroutine(result):
            result.close()  # (a coroutine never awaited would warn so at exit)
        raise TypeError(
            f"the method is an async def (it returned a {type(result).__name__}): "
            "it runs on the asyncio server type only (config SERVERTYPE='asyncio')"
        )
    return is_streamable(result)


def _is_callback(obj: Any, method: Optional[str]) -> bool:
    """Whether the method that failed is marked @callback (its errors are logged and end the connection)."""
    if obj is None or not method:
        return False
    function = getattr(type(obj), method, None)
    return bool(getattr(function, "_pyroCallback", False))


def _serializer_for(conn: ClientConnection, serializer_id: int) -> Any:
    """The serializer of an id not used before (None: unknown here, the connection ends)."""
    try:
        serializer = _serializers_by_id[serializer_id] = serializers.get_serializer_by_id(serializer_id)
    except SerializeError as exc:  # an unknown id, or a serializer that cannot load here
        log.warning("closing connection from %s: serializer id %d: %s", conn.addr, serializer_id, exc)
        return None
    return serializer


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


def format_traceback(exc: BaseException, detailed: bool) -> list[str]:
    """The traceback lines a remote exception carries (with local variables when ``detailed``)."""
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
