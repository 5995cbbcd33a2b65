"""The asyncio server: every connection is served on one asyncio event loop.

``await daemon.serve()`` serves on the running loop (of any daemon: one made with
another SERVERTYPE hands its listening socket over, if it has served nobody yet);
with ``SERVERTYPE = "asyncio"``, ``daemon.requestLoop()`` runs a loop of the
server's own in the calling thread. ``async def`` methods run on the loop, plain
methods in a pool of at most THREADPOOL_SIZE worker threads
(``servers/aio_calls.py``), so the loop keeps reading while calls run: the
pipelined requests of one connection run at once and are answered as they
finish (by sequence number, as the client matches them).

Bad input and slow peers: reads never block (the loop reads what arrived and
the session decodes it, limits before memory); a connection with
MAX_CALLS_IN_PROGRESS calls in progress, or whose replies its peer does not
read (the transport's buffer is full), is not read until that drains, so a
client pipelining 100,000 calls makes the server hold at most that many; a
peer that goes away cancels its own pending ``async def`` calls only.

Connections served by ``await daemon.serve()`` are closed when it returns (they
belong to that loop); the server's own loop keeps them between ``requestLoop()``
calls. ``daemon.sockets`` and ``daemon.events()`` step the server's own loop from
a select loop of yours: EVENT_STEPS iterations per call; results of plain methods
wake it through a socket among ``daemon.sockets``.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import logging
import ssl
import threading
import time
from typing import Any, Callable, Optional

from pyro_client.aio.connection import SessionProtocol
from pyro_client.futures import WorkerPool
from pyro_protocol import wirelog
from pyro_protocol.config import config
from pyro_protocol.context import CallState
from pyro_protocol.errors import PyroError
from pyro_protocol.message import MSG_INVOKE, Frames, Message
from pyro_protocol.session import READY, ServerSession

from ..connection import ClientConnection
from .aio_calls import Calls, in_state, wait_for
from .base import ACCEPT_BACKOFF, EXPIRY_SLACK, ServerBase

__all__ = ["AsyncioServer", "AioClientConnection", "MAX_CALLS_IN_PROGRESS", "CLOSE_GRACE", "EVENT_STEPS"]

log = logging.getLogger("pyro.server")

#: A connection with this many calls in progress is not read until one finishes: the work
#: (and the results held) per connection stays bounded however many calls a client pipelines.
MAX_CALLS_IN_PROGRESS = 100
#: When serve() ends, calls in progress get this many seconds to finish and be answered (a remote
#: ``shutdown()`` call gets its reply) before the loop stops serving.
CLOSE_GRACE = 2.0
#: Loop iterations that one ``events()`` call runs: enough for a request to be read, an
#: ``async def`` method that does not wait to run, and its reply to be written.
EVENT_STEPS = 4


class AioClientConnection(ClientConnection, SessionProtocol):
    """A client connection of the asyncio server: the daemon's connection object and the asyncio protocol of its transport."""

    def __init__(self, server: AsyncioServer, sock: Any, addr: Any, session: ServerSession) -> None:
        super().__init__(sock, addr, session, float(config.COMMTIMEOUT))
        self.server = server
        self.transport: Optional[asyncio.Transport] = None
        self.opening: Optional[asyncio.Task[None]] = None  # the transport being set up (a TLS handshake)
        self.queue: collections.deque[Message] = collections.deque()  # received, not yet started
        self.in_progress = 0  # calls started and not yet answered
        self.held = False  # a request runs that the next ones must wait for (a handshake in a worker)
        self.reading = True
        self.write_paused = False
        self.tasks: set[asyncio.Task[None]] = set()  # this client's running async calls (cancelled when it goes)
        self._outgoing: list[bytes] = []

    # -- the asyncio protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.opening = None
        self.tls_pending = False
        self.last_activity = time.monotonic()
        if self.closed:
            transport.close()

    def messages_received(self, results: list[Message]) -> None:
        self.last_activity = time.monotonic()
        self.queue.extend(results)
        self.server.run(self)

    def bad_input(self, error: Exception) -> None:
        self.server.refuse(self, error)

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self.server.drop(self)

    def pause_writing(self) -> None:
        self.write_paused = True
        self.server.update_reading(self)

    def resume_writing(self) -> None:
        self.write_paused = False
        self.server.update_reading(self)

    # -- writing (the daemon's code calls send_frames from any thread) ------------------------

    def send_frames(self, frames: Frames) -> None:
        if config.LOGWIRE:
            wirelog.log_frames("daemon", frames)
        if self.server.on_loop_thread():
            self.write(frames)
        else:
            self.server.from_thread(self.write, frames)

    def send(self, data: bytes) -> None:
        """Pyro4's ``send(data)``: raw bytes on the connection."""
        self.send_frames((bytes(data),))

    def recv(self, size: int) -> bytes:
        raise PyroError("the asyncio server reads its connections itself: recv() is not possible")

    def getpeercert(self) -> Optional[dict[str, Any]]:
        """The client's TLS certificate (two-way TLS), else None."""
        return self.transport.get_extra_info("peercert") if self.transport is not None else None

    def write(self, frames: Frames) -> None:
        """Write a message (on the loop); replies that finish together go out in one system call."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        self.last_activity = time.monotonic()
        self.write_frames(frames, self.in_progress > 0)  # (more replies on their way: gather them)

    def close(self) -> None:
        """End the connection (on the loop): what is written still goes out; its async calls are cancelled."""
        if self.closed:
            return
        self.closed = True
        loop = self.server.aio_loop
        if self.transport is not None and loop is not None and not loop.is_closed():
            self.flush()
            self.transport.close()
        else:  # (not opened yet, or its loop is gone: the socket is all there is to close)
            if self.opening is not None:
                self.opening.cancel()
            try:
                self.sock.close()
            except OSError:
                pass
        for task in list(self.tasks):
            task.cancel()
        self.release_resources()


class AsyncioServer(ServerBase):
    """Serves every connection on one asyncio event loop (see the module's docstring)."""

    name = "asyncio"
    aio_loop: Optional[asyncio.AbstractEventLoop] = None  # the loop the connections belong to
    own_loop: Optional[asyncio.AbstractEventLoop] = None  # the one requestLoop() and events() run

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.serving = False
        self.listening = False
        super().__init__(*args, **kwargs)
        # asyncio does TLS itself: the accepted sockets stay plain (ServerBase would wrap them)
        self.tls_context, self.ssl_context = self.ssl_context, None
        self.calls = Calls(self, self.handler)
        self.pool: Optional[WorkerPool] = None
        self.worker_idents: set[int] = set()
        self.stopped: Optional[asyncio.Future[None]] = None
        self.condition: Callable[[], bool] = lambda: True
        self.timer: Optional[asyncio.TimerHandle] = None
        self.foreign: dict[int, Any] = {}  # fd -> socket of a combined daemon, watched by the loop
        self.partners: list[tuple[AsyncioServer, asyncio.Task[None]]] = []  # combined asyncio daemons
        self.stepping = False
        #: callbacks from the workers for the loop to run, and whether a run of them is due there
        self.handed_over: collections.deque[tuple[Callable[..., Any], tuple[Any, ...]]] = collections.deque()
        self.hand_over_due = False

    def __repr__(self) -> str:
        return f"<asyncio server {self.location_str}, {len(self.connections)} connections>"

    @classmethod
    def taking_over(cls, old: ServerBase) -> AsyncioServer:
        """An asyncio server on ``old``'s listening socket (another server type that has served nobody)."""
        if old.connections or old.loop_thread is not None or old.listen_sock is None:
            raise PyroError(
                f"await daemon.serve() needs SERVERTYPE 'asyncio' for a daemon that served with its {old.name} server"
            )
        server = cls(old.handler, None, 0, old.unixsocket, None, listen_sock=old.listen_sock)
        server.location_str, server.bound_port, server.combined = old.location_str, old.bound_port, old.combined
        old.listen_sock = old.unixsocket = None  # (closing it must not close the socket or remove the unix socket)
        old.close()
        return server

    # -- serving -------------------------------------------------------------------------

    async def serve(self, condition: Callable[[], bool] = lambda: True) -> None:
        """Serve on the running loop until ``condition()`` is false or the server is closed."""
        loop = asyncio.get_running_loop()
        if self.closed:
            raise PyroError("the daemon is closed")
        if self.serving:
            raise PyroError("the daemon is serving already")
        self._bind(loop)
        self.serving, self.condition, self.loop_thread = True, condition, threading.get_ident()
        self.stopped = loop.create_future()
        try:
            self._activate()
            self._tick()
            await self.stopped
            await self._calls_finished(CLOSE_GRACE)
        finally:
            self.serving = False
            self.loop_thread = None
            self._deactivate()
            if loop is not self.own_loop:  # (the connections belong to the caller's loop: they end with serve)
                self._close_connections()
            for partner, task in self.partners:
                partner._stop()
                await asyncio.gather(task, return_exceptions=True)
            self.partners = []

    async def _calls_finished(self, grace: float) -> None:
        """Wait (at most ``grace`` s) until no connection has a call in progress."""
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            with self.connections_lock:
                if not any(getattr(conn, "in_progress", 0) for conn in self.connections):
                    return
            await asyncio.sleep(0.01)

    def loop(self, condition: Callable[[], bool]) -> None:
        """requestLoop(): serve on the server's own loop, in the calling thread."""
        if _loop_running_here():
            raise PyroError("requestLoop() cannot run inside a running event loop: use 'await daemon.serve()'")
        loop = self._own_loop()
        task = loop.create_task(self.serve(condition))
        try:
            loop.run_until_complete(task)
        except BaseException:  # (Ctrl-C): let the serving task end before the loop stops
            task.cancel()
            loop.run_until_complete(asyncio.gather(task, return_exceptions=True))
            raise

    def _own_loop(self) -> asyncio.AbstractEventLoop:
        if self.own_loop is None:
            self.own_loop = asyncio.new_event_loop()
        return self.own_loop

    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """From now on the connections belong to ``loop`` (those of an earlier one end)."""
        if self.aio_loop is not loop:
            if self.aio_loop is not None:
                self._deactivate()
                self._close_connections()
                _finish_loop(self.own_loop, close=False)
                self._drop_handed_over()  # (for those connections; a run of them due there may never come)
            self.aio_loop = loop

    def _activate(self) -> None:
        """Listen, watch the combined daemons' sockets, open the connections made meanwhile."""
        loop = self.aio_loop
        assert loop is not None
        if not self.listening and self.listen_sock is not None:
            loop.add_reader(self.listen_sock, self._accept_ready)
            self.listening = True
        with self.connections_lock:
            waiting = [conn for conn in self.connections if isinstance(conn, AioClientConnection)]
        for conn in waiting:
            if conn.transport is None and conn.opening is None and not conn.closed:
                self._open(conn)
        if self.serving:  # (a select loop of the user's hands the combined daemons their events itself)
            self._watch_combined()

    def _deactivate(self) -> None:
        loop = self.aio_loop
        if loop is None or loop.is_closed():
            return
        if self.listening and self.listen_sock is not None:
            loop.remove_reader(self.listen_sock)
        self.listening = False
        for fd in list(self.foreign):
            loop.remove_reader(fd)
        self.foreign.clear()
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _tick(self) -> None:
        """Periodic work on the loop: the loop condition, expired connections, housekeeping."""
        self.timer = None
        if not self.serving:
            return
        if self.closed or not self.condition():
            self._stop()
            return
        if self._expiry_due():
            self._expire()
        if self._housekeeping_due():
            self.handler.housekeeping()
        self._watch_combined()
        delay = max(self._wait_time(), EXPIRY_SLACK)
        self.timer = self.aio_loop.call_later(delay, self._tick)  # type: ignore[union-attr]

    def _stop(self) -> None:
        if self.stopped is not None and not self.stopped.done():
            self.stopped.set_result(None)

    def _wake(self) -> None:
        if self.serving and (self.closed or not self.condition()):
            self._stop()
        elif self.serving:
            self._watch_combined()

    def wakeup(self) -> None:
        super().wakeup()
        loop = self.aio_loop
        if self.serving and loop is not None:
            try:
                loop.call_soon_threadsafe(self._wake)
            except RuntimeError:  # the loop is closed
                pass

    def is_worker_thread(self) -> bool:
        return threading.get_ident() in self.worker_idents

    def on_loop_thread(self) -> bool:
        return self.loop_thread == threading.get_ident()

    # -- accepting -------------------------------------------------------------------------

    def _accept_ready(self) -> None:
        for _ in range(64):  # bounded, so one busy listener cannot starve the loop
            if self._accept() is None:
                break
        if time.monotonic() < self._accept_paused_until and self.listening:  # out of descriptors: pause
            self.aio_loop.remove_reader(self.listen_sock)  # type: ignore[union-attr,arg-type]
            self.listening = False
            self.aio_loop.call_later(ACCEPT_BACKOFF, self._resume_accepting)  # type: ignore[union-attr]

    def _resume_accepting(self) -> None:
        if self.serving or self.stepping:
            self._activate()

    def _adopt(self, sock: Any, addr: Any, handshake_done: bool = False) -> ClientConnection:
        # the daemon makes the session (its HMAC key); the connection object is this server's
        session = self.handler.new_connection(sock, addr, handshake_done).session
        conn = AioClientConnection(self, sock, addr, session)
        with self.connections_lock:
            self.connections.add(conn)
        if self.aio_loop is not None and (self.serving or self.stepping):
            self._open(conn)
        return conn

    def _open(self, conn: AioClientConnection) -> None:
        conn.opening = self.aio_loop.create_task(self._open_transport(conn))  # type: ignore[union-attr]

    async def _open_transport(self, conn: AioClientConnection) -> None:
        tls = self.tls_context
        try:
            await self.aio_loop.connect_accepted_socket(  # type: ignore[union-attr]
                lambda: conn,
                conn.sock,
                ssl=tls,
                ssl_handshake_timeout=self.handler.handshake_timeout if tls is not None else None,
            )
        except asyncio.CancelledError:
            pass  # closed meanwhile
        except (OSError, ssl.SSLError, asyncio.TimeoutError) as exc:
            log.warning("TLS handshake with %s failed: %s", conn.addr, exc)
            conn.opening = None
            self.drop(conn)

    # -- a connection's requests -------------------------------------------------------------

    def run(self, conn: AioClientConnection) -> None:
        """Start the connection's received requests, as far as its limits allow."""
        queue = conn.queue
        while queue and not conn.held and conn.in_progress < MAX_CALLS_IN_PROGRESS and not conn.closed:
            if not self._start(conn, queue.popleft()):
                self.drop(conn)
                return
        self.update_reading(conn)

    def _start(self, conn: AioClientConnection, msg: Message) -> bool:
        if conn.session.state is not READY:  # the handshake
            if self.handler.quick_handshakes():
                return self._handle(conn, msg)
            conn.held = True  # (the user's hooks may block: a worker runs them, the next requests wait)
            self.in_worker(self._handshake_in_worker, conn, msg)
            return True
        if msg.type != MSG_INVOKE:  # a PING, or what the dispatcher refuses
            return self._handle(conn, msg)
        return self.calls.start(conn, msg)

    def _handle(self, conn: AioClientConnection, msg: Message) -> bool:
        """A handshake or a PING: the dispatcher (and the other server types' error rules) in a
        context of its own, so what it sets there does not stay in the loop thread's context."""
        conn.pending.append(msg)
        return bool(in_state(CallState(), self._handle_pending, conn, True, 1))

    def _handshake_in_worker(self, conn: AioClientConnection, msg: Message) -> None:
        ok = self._handle(conn, msg)
        self.from_thread(self._handshake_done, conn, ok)

    def _handshake_done(self, conn: AioClientConnection, ok: bool) -> None:
        conn.held = False
        if ok:
            self.run(conn)
        else:
            self.drop(conn)

    def update_reading(self, conn: AioClientConnection) -> None:
        """Read the connection only while it has room for more work and its peer reads its replies."""
        transport = conn.transport
        if transport is None or conn.closed:
            return
        wanted = not conn.queue and not conn.write_paused and conn.in_progress < MAX_CALLS_IN_PROGRESS
        if wanted != conn.reading:
            conn.reading = wanted
            if wanted:
                transport.resume_reading()
            else:
                transport.pause_reading()

    def refuse(self, conn: AioClientConnection, error: Exception) -> None:
        """The peer sent bytes that are not the protocol: the dispatcher may answer, then it ends."""
        self.handler.protocol_failure(conn, error)
        self.drop(conn)

    def drop(self, conn: ClientConnection) -> None:
        self._drop(conn)

    def _expire(self) -> None:
        with self.connections_lock:
            idle = [c for c in self.connections if not getattr(c, "in_progress", 0)]
        for conn in self._expired_connections(idle):
            self.drop(conn)

    def _close_connections(self) -> None:
        with self.connections_lock:
            connections = list(self.connections)
            self.connections.clear()
        for conn in connections:
            self.handler.connection_closed(conn)

    # -- threads ----------------------------------------------------------------------------

    def in_worker(self, function: Callable[..., Any], *args: Any) -> None:
        """Run ``function(*args)`` in the worker pool (THREADPOOL_SIZE threads at most)."""
        if self.pool is None:
            self.pool = WorkerPool(max(1, int(config.THREADPOOL_SIZE)), name="Pyro-Worker")
        self.pool.submit(self._job, function, args)

    def _job(self, function: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.worker_idents.add(threading.get_ident())
        function(*args)

    def from_thread(self, callback: Callable[..., Any], *args: Any) -> None:
        """Have the loop run ``callback(*args)`` (from a worker); a loop that is gone drops it.

        What the workers hand over while a run of them is due goes with that run: one wake-up
        of the loop (a system call) for all of them, not one each.
        """
        loop = self.aio_loop
        if loop is None:
            return
        self.handed_over.append((callback, args))
        if self.hand_over_due:
            return  # (the due run has not begun taking them: it takes this one too)
        self.hand_over_due = True
        try:
            loop.call_soon_threadsafe(self._run_handed_over)
        except RuntimeError:  # the loop is closed: so are its connections
            self._drop_handed_over()
            return
        if not self.serving:
            self.waker.wake()  # (a select loop of the user's steps this one: make it look)

    def _run_handed_over(self) -> None:
        """On the loop: the callbacks the workers handed over, in the order they came."""
        self.hand_over_due = False  # (before counting them: a later one asks for a run of its own)
        handed_over = self.handed_over
        for _ in range(len(handed_over)):
            callback, args = handed_over.popleft()
            try:
                callback(*args)
            except Exception:  # (one failing must not keep the others from running)
                log.exception("error in %r, handed over by a worker to the loop", callback)

    def _drop_handed_over(self) -> None:
        self.handed_over.clear()
        self.hand_over_due = False

    def await_from_worker(self, coro: Any) -> Any:
        """Run a coroutine on the loop and wait for its result (in a worker thread)."""
        if self.on_loop_thread() or self.aio_loop is None:
            raise PyroError("awaiting on the server's loop from the loop's own thread")
        future = asyncio.run_coroutine_threadsafe(_awaiting(coro), self.aio_loop)
        if not self.serving:
            self.waker.wake()
        return wait_for(future, lambda: not self.closed)

    # -- your own select loop, combined daemons ------------------------------------------------

    @property
    def sockets(self) -> list[Any]:
        socks = super().sockets
        with self.connections_lock:
            socks.extend(conn.sock for conn in self.connections if not conn.closed)
        socks.append(self.waker.reader)  # (results of plain methods, when the loop is stepped from outside)
        return socks

    def events(self, eventsockets: list[Any]) -> None:
        """Step the server's own loop (from a select loop of the user's), then the combined daemons."""
        if self.serving:
            raise PyroError("the daemon is serving on its event loop: events() is for a select loop of your own")
        if self.waker.reader in eventsockets:
            self.waker.drain()
        loop = self._own_loop()
        self._bind(loop)
        self.stepping, self.loop_thread = True, threading.get_ident()
        try:
            self._activate()
            loop.run_until_complete(_steps(EVENT_STEPS))
        finally:
            self.stepping, self.loop_thread = False, None
        self._combined_events(eventsockets)

    def _watch_combined(self) -> None:
        """Have the loop watch the sockets of combined daemons (their set changes as they accept)."""
        loop = self.aio_loop
        if loop is None:
            return
        wanted: dict[int, Any] = {}
        for other in self.combined:
            server = getattr(other, "transportServer", None)
            if isinstance(server, AsyncioServer):
                if self.serving and all(partner is not server for partner, _ in self.partners):
                    self.partners.append((server, loop.create_task(server.serve(lambda: self.serving))))
                continue
            for sock in other.sockets:
                try:
                    wanted[sock.fileno()] = (sock, other)
                except (OSError, ValueError):
                    continue
        for fd in [fd for fd in self.foreign if fd not in wanted]:
            loop.remove_reader(fd)
            del self.foreign[fd]
        for fd, (sock, other) in wanted.items():
            if fd >= 0 and fd not in self.foreign:
                self.foreign[fd] = sock
                loop.add_reader(fd, self._foreign_ready, other, sock)

    def _foreign_ready(self, other: Any, sock: Any) -> None:
        other.events([sock])
        self._watch_combined()

    # -- the end -------------------------------------------------------------------------------

    def close(self) -> None:
        if self.closed:
            return
        loop = self.aio_loop
        if self.serving and not self.on_loop_thread() and loop is not None:
            # its connections belong to the loop serving them in another thread: close there
            try:
                asyncio.run_coroutine_threadsafe(_called(self.close), loop).result(CLOSE_GRACE + 3.0)
                return
            except (concurrent.futures.TimeoutError, RuntimeError):
                log.warning("the asyncio server's loop did not close its connections in time")
        self._deactivate()
        super().close()  # (ends every connection)
        if _loop_running_here():  # (another loop runs in this thread: finish the server's own elsewhere)
            finisher = threading.Thread(target=_finish_loop, args=(self.own_loop, True))
            finisher.start()
            finisher.join(CLOSE_GRACE)
        else:
            _finish_loop(self.own_loop, close=True)
        if self.pool is not None:
            self.pool.shutdown()


async def _awaiting(awaitable: Any) -> Any:
    """A coroutine of any awaitable (run_coroutine_threadsafe takes coroutines only)."""
    return await awaitable


async def _called(function: Callable[[], Any]) -> Any:
    return function()


def _loop_running_here() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def _steps(count: int) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


async def _cancel_all() -> None:
    pending = asyncio.all_tasks() - {asyncio.current_task()}
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


def _finish_loop(loop: Optional[asyncio.AbstractEventLoop], close: bool) -> None:
    """Let the server's own loop (not running now) finish what closing connections left: their
    transports' last callbacks, the cancelled calls; then close it if asked."""
    if loop is None or loop.is_running() or loop.is_closed():
        return
    loop.run_until_complete(_steps(2))
    loop.run_until_complete(_cancel_all())
    if close:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
