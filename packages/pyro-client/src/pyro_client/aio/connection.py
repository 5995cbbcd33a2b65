"""An aio proxy's connection: an asyncio transport driven by the protocol's ClientSession.

The asyncio front end of ``pyro_protocol.session`` (the sync one is
``pyro_client.connection``). Calls are sent without waiting for earlier replies;
each waits on a future of its own, found by the reply's sequence number, so
replies may come in any order. A call that is given up on (timeout, task
cancelled) is abandoned in the session: its late reply is dropped and the
connection goes on serving the others.

:class:`SessionProtocol` is the reading half both sides share (the asyncio
server's connections use it too): bytes go into the session, a large payload
straight into its buffer.
"""

from __future__ import annotations

import asyncio
import builtins
import ssl
import threading
from typing import Any, Mapping, Optional

from pyro_protocol import transport as pyro_transport
from pyro_protocol import wirelog
from pyro_protocol.config import config
from pyro_protocol.errors import CommunicationError, ConnectionClosedError, ProtocolError, PyroError, TimeoutError
from pyro_protocol.message import MSG_CONNECTFAIL, MSG_RESULT, Frames, Message
from pyro_protocol.session import ClientSession
from pyro_protocol.uri import URI

__all__ = ["SessionProtocol", "AioConnection", "open_connection", "RECEIVE_SIZE"]

#: Bytes asked of each receive: a small reply (or many pipelined ones) arrives in one.
RECEIVE_SIZE = 64 * 1024
#: Frames of a message at least this large are written on their own, not joined with others.
_JOIN_LIMIT = 64 * 1024


class _Scratch(threading.local):
    """One receive buffer per thread: a read is copied out of it before the next one starts."""

    def __init__(self) -> None:
        self.view = memoryview(bytearray(RECEIVE_SIZE))


_scratch = _Scratch()


class SessionProtocol(asyncio.BufferedProtocol):
    """Feeds what a connection receives into its session (``self.session``), on either side.

    Subclasses get the results in :meth:`messages_received` and any error of the
    session (garbage from the peer) in :meth:`bad_input`.
    """

    session: Any
    _into_target = False

    def get_buffer(self, sizehint: int) -> memoryview:
        """Where asyncio should put the next bytes: a large payload's own buffer, else the read buffer."""
        target = self.session.receive_target()
        if target is not None:  # the rest of a large payload, straight into its buffer
            self._into_target = True
            return target  # type: ignore[no-any-return]
        self._into_target = False
        return _scratch.view

    def buffer_updated(self, nbytes: int) -> None:
        try:
            if self._into_target:
                results = self.session.received(nbytes)
            else:
                results = self.session.receive(_scratch.view[:nbytes].tobytes())
        except Exception as exc:
            self.bad_input(exc)
            return
        if results:
            self.messages_received(results)

    def messages_received(self, results: list[Any]) -> None:
        raise NotImplementedError

    def bad_input(self, error: Exception) -> None:
        raise NotImplementedError

    # -- writing: the messages of one loop iteration go out together ---------------------------

    transport: Optional[asyncio.Transport]
    _outgoing: list[bytes]

    def write_frames(self, frames: Frames, gather: bool) -> None:
        """Write a message (``message.encode``'s frames) to the open transport. With ``gather``
        (more are on their way) it waits for the others of this loop iteration: one system call."""
        transport = self.transport
        assert transport is not None
        if len(frames) > 1:  # a large payload: no join, no copy
            self.flush()
            for frame in frames:
                transport.write(frame)
            return
        outgoing = self._outgoing
        if gather:
            if not outgoing:
                asyncio.get_running_loop().call_soon(self.flush)
            outgoing.append(frames[0])
        elif outgoing:
            outgoing.append(frames[0])
            self.flush()
        else:
            transport.write(frames[0])

    def flush(self) -> None:
        outgoing = self._outgoing
        if outgoing:
            self._outgoing = []
            if self.transport is not None and not self.transport.is_closing():
                self.transport.writelines(outgoing)


class AioConnection(SessionProtocol):
    """One open connection of an aio proxy, bound to the event loop it was opened on."""

    def __init__(self, session: ClientSession, loop: asyncio.AbstractEventLoop) -> None:
        self.session = session
        self.loop = loop
        self.transport: Optional[asyncio.Transport] = None
        #: seq -> the future of the call waiting for that reply: (message, value)
        self.waiting: dict[int, asyncio.Future[tuple[Message, Any]]] = {}
        #: the handshake's answer (while a handshake is on its way)
        self.handshake: Optional[asyncio.Future[tuple[Message, Any]]] = None
        #: why the connection ended (None while it is open)
        self.error: Optional[PyroError] = None
        self._outgoing: list[bytes] = []
        self._writable = asyncio.Event()
        self._writable.set()
        #: done when the transport is gone (connection_lost)
        self.lost: asyncio.Future[None] = loop.create_future()

    # -- the asyncio protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            pyro_transport.set_keepalive(sock)

    def messages_received(self, results: list[tuple[Message, Any]]) -> None:
        waiting = self.waiting
        for msg, value in results:
            if config.LOGWIRE:
                wirelog.log_message("proxy", "received", msg)
            if msg.type != MSG_RESULT:  # the handshake's answer
                if self.handshake is not None and not self.handshake.done():
                    self.handshake.set_result((msg, value))
                continue
            future = waiting.pop(msg.seq, None)
            if future is not None and not future.done():
                future.set_result((msg, value))

    def bad_input(self, error: Exception) -> None:
        self._end(error if isinstance(error, PyroError) else CommunicationError(f"receiving: {error}"))

    def eof_received(self) -> bool:
        return False  # (the transport closes, connection_lost follows)

    def connection_lost(self, exc: Optional[Exception]) -> None:
        reason = f": {exc}" if exc is not None else ""
        self._end(ConnectionClosedError(f"receiving: connection lost{reason}"))
        self._writable.set()  # (writers waiting for room learn that it is gone)
        if not self.lost.done():
            self.lost.set_result(None)

    async def wait_lost(self, timeout: float) -> None:
        """Wait, at most ``timeout`` seconds, until the transport is gone after :meth:`close`.
        A TLS transport takes a few turns of the loop to shut down; a loop that ends before
        that leaves its socket open."""
        if self.transport is None or self.lost.done() or self.loop is not asyncio.get_running_loop():
            return
        try:
            await asyncio.wait_for(asyncio.shield(self.lost), timeout)
        except builtins.TimeoutError:
            pass

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    # -- calls ------------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.error is None and self.transport is not None

    @property
    def can_write(self) -> bool:
        """False while the transport's buffer is full (or the connection is gone): wait in :meth:`writable`."""
        return self.error is None and self._writable.is_set()

    async def writable(self) -> None:
        """Wait while the transport's buffer is full (the peer reads slower than we call)."""
        if not self._writable.is_set():
            await self._writable.wait()
        if self.error is not None:
            raise self.error

    def send(self, frames: Frames) -> None:
        """Send a message; the messages of one loop iteration go out in one system call."""
        self._transport()  # (raises when the connection is gone)
        if config.LOGWIRE:
            wirelog.log_frames("proxy", frames)
        self.write_frames(frames, len(self.waiting) > 1)  # (a lone call goes out at once)

    def _transport(self) -> asyncio.Transport:
        if self.error is not None:
            raise self.error
        if self.transport is None:
            raise ConnectionClosedError("not connected")
        return self.transport

    def skip_busy_seq(self) -> None:
        """Move the session's sequence number past those whose replies are still awaited (or
        abandoned and not yet come): a reply must never answer the wrong call."""
        session = self.session
        for _ in range(0x10000):
            if ((session.seq + 1) & 0xFFFF) not in session.in_flight:
                return
            session.seq = (session.seq + 1) & 0xFFFF
        raise ProtocolError("65,536 calls are waiting for their replies on one connection: no sequence number is free")

    def expect(self, seq: int) -> asyncio.Future[tuple[Message, Any]]:
        """The future that the reply to call ``seq`` will complete."""
        future: asyncio.Future[tuple[Message, Any]] = self.loop.create_future()
        self.waiting[seq] = future
        return future

    def abandon(self, seq: int) -> None:
        """Give up on call ``seq``: its reply, when it comes, is dropped."""
        self.waiting.pop(seq, None)
        self.session.abandon(seq)

    def time_out(self, seq: int) -> None:
        """The call's time is up (a timer's callback): it fails, the connection stays."""
        future = self.waiting.get(seq)
        self.abandon(seq)
        if future is not None and not future.done():
            future.set_exception(TimeoutError("receiving: timeout"))

    def close(self) -> None:
        self._end(ConnectionClosedError("the connection was closed"))

    def _end(self, error: PyroError) -> None:
        """The connection is over: every waiting call fails with ``error``."""
        if self.error is None:
            self.error = error
        waiting, self.waiting = self.waiting, {}
        for future in waiting.values():
            if not future.done():
                future.set_exception(self.error)
        if self.handshake is not None and not self.handshake.done():
            self.handshake.set_exception(self.error)
        if self.transport is not None and not self.loop.is_closed():
            self.transport.close()


async def open_connection(
    uri: URI,
    session: ClientSession,
    handshake: Any,
    metadata: bool,
    annotations: Optional[Mapping[str, bytes]],
    timeout: Optional[float],
) -> tuple[AioConnection, Message, Any]:
    """Connect to ``uri`` and do the handshake: the connection, the answer and its value.

    A refused handshake (CONNECTFAIL, its value the daemon's reason) comes back too, the
    connection already closed: the caller decides what it means.
    """
    where = uri.location or str(uri)
    try:
        ssl_context = pyro_transport.client_ssl_context(config) if config.SSL else None
    except (OSError, ValueError) as exc:
        raise CommunicationError(f"cannot connect to {where}: TLS setup failed: {exc}") from exc
    loop = asyncio.get_running_loop()
    conn = AioConnection(session, loop)
    try:
        async with asyncio.timeout(timeout or None):
            await _connect(loop, conn, uri, ssl_context)
            conn.handshake = loop.create_future()
            conn.send(session.connect(handshake, uri.object if metadata else None, annotations))
            msg, value = await conn.handshake
    except TimeoutError:  # (Pyro's: already says what timed out)
        conn.close()
        raise
    except builtins.TimeoutError:  # asyncio.timeout's
        conn.close()
        raise TimeoutError(f"connecting to {where} timed out") from None
    except BaseException as exc:
        conn.close()
        failure = pyro_transport.handshake_failure(where, exc, ssl_context is not None)
        if failure is exc:
            raise
        raise failure from exc
    if msg.type == MSG_CONNECTFAIL:
        conn.close()
    return conn, msg, value


async def _connect(loop: asyncio.AbstractEventLoop, conn: AioConnection, uri: URI, ssl_context: Any) -> None:
    """Open the transport of ``conn`` to the location of a ``PYRO:`` uri (CommunicationError naming it)."""
    # (TLS without host name checks wants an empty server_hostname, else asyncio checks it)
    hostname = None if ssl_context is None or ssl_context.check_hostname else ""
    where = f"unix socket {uri.sockname}" if uri.sockname else f"{uri.host}:{uri.port}"
    try:
        if uri.sockname:
            await loop.create_unix_connection(lambda: conn, uri.sockname, ssl=ssl_context, server_hostname=hostname)
        elif uri.host and uri.port is not None:
            await loop.create_connection(lambda: conn, uri.host, uri.port, ssl=ssl_context, server_hostname=hostname)
        else:
            raise CommunicationError(f"uri {uri} has no location to connect to")
    except ssl.SSLError as exc:
        raise pyro_transport.tls_handshake_error(where, exc) from None
    except OSError as exc:
        raise CommunicationError(f"cannot connect to {where}: {exc.strerror or exc}") from None
