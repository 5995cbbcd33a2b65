"""The server types behind one small interface: ``thread`` (a worker pool fed by a
selector; idle connections hold no worker) and ``multiplex`` (one thread, reads
never block). The daemon talks to them only through :class:`ServerBase`."""

from __future__ import annotations

import errno
import itertools
import logging
import math
import queue
import select
import selectors
import socket
import ssl
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Optional

from pyro_protocol import transport
from pyro_protocol.config import config
from pyro_protocol.errors import CommunicationError, PyroError

from .connection import ClientConnection

if TYPE_CHECKING:
    from .daemon import Daemon

log = logging.getLogger("pyro.server")

#: After a request, a worker keeps watching its connection this long for the next
#: one before handing it back to the selector (saves a thread hop per call for busy clients).
WORKER_LINGER = 0.05
#: Idle workers above THREADPOOL_SIZE_MIN exit after this many seconds.
WORKER_IDLE_EXIT = 30.0
#: When accept fails (out of file descriptors, say), wait this long before trying again.
ACCEPT_BACKOFF = 0.1
#: Idle connections are looked at no more often than this (each look goes over all of them),
#: so one is dropped at most this late after its COMMTIMEOUT or handshake deadline.
EXPIRY_SLACK = 0.05
#: Numbers for worker thread names, unique in the process (Pyro4 names them Pyro-Worker-<number>,
#: and programs print thread names to show which worker ran a call).
_worker_numbers = itertools.count(1)


def make_server(
    daemon: Daemon,
    servertype: str,
    host: Optional[str],
    port: int,
    unixsocket: Optional[str],
    connected_socket: Optional[socket.socket],
) -> ServerBase:
    kinds: dict[str, type[ServerBase]] = {"thread": ThreadServer, "multiplex": MultiplexServer}
    kind = kinds.get(servertype)
    if kind is None:
        raise PyroError(f"invalid server type {servertype!r}: use 'thread' or 'multiplex'")
    return kind(daemon, host, port, unixsocket, connected_socket)


class _Waker:
    """A socketpair that wakes a selector from another thread."""

    def __init__(self) -> None:
        self.reader, self.writer = socket.socketpair()
        self.reader.setblocking(False)
        self.writer.setblocking(False)

    def wake(self) -> None:
        try:
            self.writer.send(b"!")
        except (BlockingIOError, OSError):
            pass

    def drain(self) -> None:
        try:
            while self.reader.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def close(self) -> None:
        self.reader.close()
        self.writer.close()


class ServerBase:
    """What both server types share: the listening socket, accepting, combining, housekeeping."""

    name = "base"

    def __init__(
        self,
        daemon: Daemon,
        host: Optional[str],
        port: int,
        unixsocket: Optional[str],
        connected_socket: Optional[socket.socket],
    ) -> None:
        self.daemon = daemon
        self.listen_sock: Optional[socket.socket] = None
        self.unixsocket = unixsocket
        self.bound_port = 0
        self.ssl_context: Optional[ssl.SSLContext] = transport.server_ssl_context(config) if config.SSL else None
        self.combined: list[Any] = []
        self.connections: set[ClientConnection] = set()
        self.connections_lock = threading.Lock()
        self.waker = _Waker()
        self.loop_thread: Optional[int] = None
        self.last_housekeeping = time.monotonic()
        self.next_expiry = 0.0  # when to look for expired connections next (monotonic time)
        self.closed = False
        self._accept_paused_until = 0.0
        if connected_socket is not None:
            self.location_str = "./u:<<not-bound>>"
            self._adopt(
                connected_socket,
                connected_socket.getpeername() if connected_socket.family != socket.AF_UNIX else "",
                handshake_done=True,
            )
            return
        host = host if host is not None else str(config.HOST)
        try:
            self.listen_sock = transport.create_server_socket(host, port, unixsocket, bool(config.SOCK_REUSE))
        except BaseException:
            self.waker.close()  # the daemon never comes to life: nobody else would close it
            raise
        self.listen_sock.setblocking(False)
        # what each accepted socket is made of, read once (the socket properties build enums every time)
        self._accepted_kind = (int(self.listen_sock.family), int(self.listen_sock.type), self.listen_sock.proto)
        if unixsocket:
            self.location_str = f"./u:{unixsocket}"
        else:
            _bound_host, self.bound_port = self.listen_sock.getsockname()[:2]
            shown = host if host not in ("", "0.0.0.0", "::") else socket.gethostname()
            self.location_str = f"[{shown}]:{self.bound_port}" if ":" in shown else f"{shown}:{self.bound_port}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.location_str}, {len(self.connections)} connections>"

    # -- the interface the daemon uses ---------------------------------------------------

    @property
    def sock(self) -> Optional[socket.socket]:
        """The listening socket (None for a connected_socket daemon): Pyro4's name for it."""
        return self.listen_sock

    @property
    def sockets(self) -> list[Any]:
        socks: list[Any] = [self.listen_sock] if self.listen_sock is not None else []
        for other in self.combined:
            socks.extend(other.sockets)
        return socks

    def events(self, eventsockets: list[Any]) -> None:
        raise NotImplementedError

    def combine(self, other: Any) -> None:
        if other is self.daemon:
            raise PyroError("cannot combine a daemon with itself")
        self.combined.append(other)
        self.wakeup()

    def loop(self, condition: Callable[[], bool]) -> None:
        raise NotImplementedError

    def wakeup(self) -> None:
        self.waker.wake()

    def is_loop_thread(self) -> bool:
        return self.loop_thread == threading.get_ident()

    def is_worker_thread(self) -> bool:
        return False

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.wakeup()
        with self.connections_lock:
            connections = list(self.connections)
            self.connections.clear()
        for conn in connections:
            self.daemon._connection_closed(conn)
        if self.listen_sock is not None:
            self.listen_sock.close()
            if self.unixsocket:
                import os

                try:
                    os.remove(self.unixsocket)
                except OSError:
                    pass
        self.waker.close()

    # -- shared helpers ----------------------------------------------------------------

    def _accept(self) -> Optional[ClientConnection]:
        assert self.listen_sock is not None
        if time.monotonic() < self._accept_paused_until:
            return None
        try:
            fd, addr = self.listen_sock._accept()  # type: ignore[attr-defined]  # accept() without its enum lookups
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                log.error("accept failed (%s); pausing new connections for %.1f s", exc, ACCEPT_BACKOFF)
                self._accept_paused_until = time.monotonic() + ACCEPT_BACKOFF
            else:
                log.warning("accept failed: %s", exc)
            return None
        sock = socket.socket(*self._accepted_kind, fileno=fd)
        transport.set_nodelay(sock)
        if self.ssl_context is not None:
            try:
                # the TLS handshake itself happens in the connection's non-blocking reads
                sock = self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
            except (ssl.SSLError, OSError) as exc:
                log.warning("TLS setup for %s failed: %s", addr, exc)
                sock.close()
                return None
        return self._adopt(sock, addr)

    def _adopt(self, sock: socket.socket, addr: Any, handshake_done: bool = False) -> ClientConnection:
        conn = self.daemon._new_connection(sock, addr)
        conn.handshake_done = handshake_done
        with self.connections_lock:
            self.connections.add(conn)
        return conn

    def _drop(self, conn: ClientConnection) -> None:
        with self.connections_lock:
            self.connections.discard(conn)
        self.daemon._connection_closed(conn)

    def _serve_ready(self, conn: ClientConnection) -> bool:
        """Read what is there and handle every whole message. False: the connection is finished."""
        try:
            alive = conn.read_available()
        except CommunicationError as exc:  # garbage from the peer
            self.daemon._protocol_failure(conn, exc)
            return False
        except Exception as exc:
            self.daemon._protocol_failure(conn, exc)
            return False
        return self._handle_pending(conn, alive)

    def _handle_pending(self, conn: ClientConnection, alive: bool, limit: int = -1) -> bool:
        """Handle every whole message received (at most ``limit`` if given). False: the connection is finished."""
        while conn.pending and limit:
            limit -= 1
            msg = conn.pending.pop(0)
            try:
                if not self.daemon._handle(conn, msg):
                    return False
            except CommunicationError as exc:
                log.info("connection %s failed: %s", conn.addr, exc)
                return False
            except Exception:
                log.exception("unexpected error handling a request from %s", conn.addr)
                return False
            except (SystemExit, GeneratorExit) as exc:
                # A remote method called exit() (or the like): as Pyro4, only this connection ends;
                # sending the exception back would make the client's program exit too.
                log.warning("a call from %s raised %s; closing that connection", conn.addr, type(exc).__name__)
                return False
        return alive

    def _housekeeping_due(self) -> bool:
        interval = min(float(config.POLLTIMEOUT) or 2.0, 2.0)
        now = time.monotonic()
        if now - self.last_housekeeping < interval:
            return False
        self.last_housekeeping = now
        return True

    def _expiry_due(self) -> bool:
        return time.monotonic() >= self.next_expiry

    def _expired_connections(self, candidates: list[ClientConnection]) -> list[ClientConnection]:
        """The candidates past their handshake deadline or idle for COMMTIMEOUT; schedules the next look."""
        now = time.monotonic()
        idle_limit = float(config.COMMTIMEOUT)
        handshake_timeout = self.daemon.handshake_timeout
        # A connection that comes later cannot expire before now + idle_limit: no need to look sooner.
        next_expiry = now + (min(idle_limit, self._select_timeout()) if idle_limit else self._select_timeout())
        expired = []
        for conn in candidates:
            deadline = conn.last_activity + idle_limit if idle_limit else math.inf
            if not conn.handshake_done:
                deadline = min(deadline, conn.created + handshake_timeout)
            if now < deadline:
                next_expiry = min(next_expiry, deadline)
                continue
            if not conn.handshake_done and now >= conn.created + handshake_timeout:
                log.info("dropping %s: no handshake within %.1f s", conn.addr, handshake_timeout)
            else:
                log.warning("dropping %s: idle for more than COMMTIMEOUT (%.1f s)", conn.addr, idle_limit)
            expired.append(conn)
        self.next_expiry = max(next_expiry, now + EXPIRY_SLACK)
        return expired

    def _select_timeout(self) -> float:
        return min(float(config.POLLTIMEOUT) or 2.0, 1.0)

    def _wait_time(self) -> float:
        """How long a selector may sleep: the select timeout, or less when a connection expires sooner."""
        return max(0.0, min(self._select_timeout(), self.next_expiry - time.monotonic()))

    def _combined_events(self, ready: list[Any]) -> None:
        for other in self.combined:
            mine = [s for s in ready if s in other.sockets]
            if mine:
                other.events(mine)


class ThreadServer(ServerBase):
    """Calls run on a pool of worker threads; idle connections wait in a selector, holding no worker."""

    name = "thread"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.poller_selector = selectors.DefaultSelector()
        # Not the loop's waker: the poller would drain it first and leave the request
        # loop asleep for a whole select timeout after shutdown(). It has its own waker.
        self.handback: queue.SimpleQueue[ClientConnection] = queue.SimpleQueue()
        self.work: queue.SimpleQueue[Optional[ClientConnection]] = queue.SimpleQueue()
        self.workers: set[threading.Thread] = set()
        self.idle_workers = 0
        self.workers_lock = threading.Lock()
        self.poller: Optional[threading.Thread] = None
        self.poller_waker = _Waker()
        self.poller_selector.register(self.poller_waker.reader, selectors.EVENT_READ, None)
        self.stopping = False
        self.worker_idents: set[int] = set()

    def __repr__(self) -> str:
        return f"<thread server {self.location_str}, {len(self.workers)} workers, {len(self.connections)} connections>"

    def is_worker_thread(self) -> bool:
        return threading.get_ident() in self.worker_idents

    # -- accepting (the request loop thread, or the user's own loop via events) ------------

    def loop(self, condition: Callable[[], bool]) -> None:
        self.loop_thread = threading.get_ident()
        self._start_poller()
        selector = selectors.DefaultSelector()
        selector.register(self.waker.reader, selectors.EVENT_READ, None)
        if self.listen_sock is not None:
            selector.register(self.listen_sock, selectors.EVENT_READ, None)
        try:
            while condition() and not self.closed:
                foreign = self._register_foreign(selector)
                events = selector.select(self._select_timeout())
                ready = [key.fileobj for key, _ in events]
                if self.waker.reader in ready:
                    self.waker.drain()
                if self.listen_sock is not None and self.listen_sock in ready:
                    self._accept_all()
                if foreign:
                    self._combined_events([s for s in ready if s in foreign])
                    for sock in foreign:
                        try:
                            selector.unregister(sock)
                        except (KeyError, ValueError):
                            pass
                if self.listen_sock is None and not self.connections:
                    break  # a connected_socket daemon whose one connection ended
                if self._housekeeping_due():
                    self.daemon._housekeeping()
        finally:
            selector.close()
            self.loop_thread = None

    def _register_foreign(self, selector: selectors.BaseSelector) -> list[Any]:
        foreign = []
        for other in self.combined:
            for sock in other.sockets:
                try:
                    selector.register(sock, selectors.EVENT_READ, None)
                    foreign.append(sock)
                except (KeyError, ValueError):
                    pass
        return foreign

    def events(self, eventsockets: list[Any]) -> None:
        self._start_poller()
        if self.listen_sock is not None and self.listen_sock in eventsockets:
            self._accept_all()
        self._combined_events(eventsockets)

    def _accept_all(self) -> None:
        for _ in range(64):  # bounded, so one busy listener cannot starve the loop
            conn = self._accept()
            if conn is None:
                return
            if self._pool_full():
                self.handback.put(conn)  # the selector waits for its handshake
                self.poller_waker.wake()
            elif self._handshake_at_once(conn):
                self._dispatch(conn)

    def _handshake_at_once(self, conn: ClientConnection) -> bool:
        """Answer a new client's handshake in this thread if it is already here; False: the connection is finished.

        A client sends its handshake right after connecting, so it is often here by the time
        the connection is accepted. Answering it at once saves the client the wait for a worker
        to wake up; the worker then wakes while the client reads the reply. Only done when the
        daemon's handshake hooks are its own (they do not block: this thread accepts everyone).
        """
        conn.just_accepted = True  # (else) a worker waits for the handshake, briefly, in its blocking read
        if conn.tls or not self.daemon._default_handshake_hooks():
            return True
        try:
            alive = conn.read_available()
        except Exception as exc:  # garbage from the peer
            self.daemon._protocol_failure(conn, exc)
            self._drop(conn)
            return False
        if conn.pending:
            if not self._handle_pending(conn, alive, limit=1):
                self._drop(conn)
                return False
            conn.just_accepted = not conn.pending  # (else) the worker handles what came with it first
        elif not alive:
            self._drop(conn)
            return False
        return True

    # -- the poller: idle connections in a selector ---------------------------------------

    def _start_poller(self) -> None:
        if self.poller is None or not self.poller.is_alive():
            self.poller = threading.Thread(target=self._poll, name="pyro-poller", daemon=True)
            self.poller.start()
        with self.connections_lock:
            orphans = [c for c in self.connections if c.handshake_done and not c.closed]
        if orphans and self.listen_sock is None:  # a connected_socket daemon: serve that one connection
            for conn in orphans:
                if not getattr(conn, "_queued", False):
                    conn._queued = True  # type: ignore[attr-defined]
                    self.handback.put(conn)
                    self.poller_waker.wake()

    def _poll(self) -> None:
        selector = self.poller_selector
        while not self.closed:
            try:
                events = selector.select(self._wait_time())
            except (OSError, ValueError):
                if self.closed:
                    return
                raise
            for key, _ in events:
                if key.data is None:
                    self.poller_waker.drain()
                    continue
                conn = key.data
                selector.unregister(conn.sock)
                self._dispatch(conn)
            self._take_handbacks(selector)
            self._expire(selector)

    def _take_handbacks(self, selector: selectors.BaseSelector) -> None:
        while True:
            try:
                conn = self.handback.get_nowait()
            except queue.Empty:
                return
            if conn.closed:
                continue
            if conn.pending or (
                conn.handshake_done and self.listen_sock is None and not getattr(conn, "_served", False)
            ):
                conn._served = True  # type: ignore[attr-defined]
                self._dispatch(conn)
                continue
            try:
                selector.register(conn.sock, selectors.EVENT_READ, conn)
            except (KeyError, ValueError, OSError):
                self._drop(conn)

    def _expire(self, selector: selectors.BaseSelector) -> None:
        if not self._expiry_due():
            return
        idle = [key.data for key in selector.get_map().values() if isinstance(key.data, ClientConnection)]
        for conn in self._expired_connections(idle):
            selector.unregister(conn.sock)
            self._drop(conn)

    # -- workers -----------------------------------------------------------------------

    def _dispatch(self, conn: ClientConnection) -> None:
        self.work.put(conn)
        with self.workers_lock:
            if self.idle_workers > 0 or len(self.workers) >= max(1, int(config.THREADPOOL_SIZE)):
                return
            worker = threading.Thread(target=self._work, name=f"Pyro-Worker-{next(_worker_numbers)}", daemon=True)
            self.workers.add(worker)
            self.idle_workers += 1
        worker.start()

    def _work(self) -> None:
        self.worker_idents.add(threading.get_ident())
        me = threading.current_thread()
        try:
            while not self.closed:
                try:
                    conn = self.work.get(timeout=WORKER_IDLE_EXIT)
                except queue.Empty:
                    with self.workers_lock:
                        if len(self.workers) > int(config.THREADPOOL_SIZE_MIN):
                            self.workers.discard(me)
                            self.idle_workers -= 1
                            return
                    continue
                if conn is None:
                    break
                with self.workers_lock:
                    self.idle_workers -= 1
                try:
                    self._serve(conn)
                finally:
                    with self.workers_lock:
                        self.idle_workers += 1
        finally:
            with self.workers_lock:
                if me in self.workers:
                    self.workers.discard(me)
                    self.idle_workers -= 1
            self.worker_idents.discard(threading.get_ident())

    def _serve(self, conn: ClientConnection) -> None:
        """Serve a connection while it keeps sending requests, then hand it back."""
        if conn.enter_blocking(WORKER_LINGER):
            finished = True
            try:
                finished = self._serve_blocking(conn)
            finally:
                if not finished:  # (a finished connection is closed next: no need)
                    conn.leave_blocking()
            if finished:
                self._drop(conn)
                return
        else:
            self._serve_polling(conn)
            if conn.closed:
                return
        conn.decoder.release_buffer()
        if self.closed:
            self._drop(conn)
            return
        self.handback.put(conn)
        self.poller_waker.wake()

    def _serve_blocking(self, conn: ClientConnection) -> bool:
        """Serve while requests keep coming within the linger time; True: the connection is finished."""
        if conn.just_accepted:
            conn.just_accepted = False  # its handshake is on its way: wait for it below
        elif not self._serve_ready(conn):
            return True
        while not self.closed:
            if not self.work.empty() and self._pool_full():
                return False  # others wait for a worker
            try:
                alive = conn.wait_and_read(self._alone())
            except Exception as exc:  # garbage from the peer
                self.daemon._protocol_failure(conn, exc)
                return True
            if alive is None:
                return False  # nothing within the linger time: back to the selector
            if not self._handle_pending(conn, alive):
                return True
        return False

    def _serve_polling(self, conn: ClientConnection) -> None:
        """The same for TLS connections: wait with poll, read without blocking."""
        poller = None
        linger = WORKER_LINGER * 1000.0
        while not self.closed:
            if not self._serve_ready(conn):
                self._drop(conn)
                return
            if conn.decoder.in_message or (not self.work.empty() and self._pool_full()):
                break  # half a message: let the selector wait for the rest; or others wait for a worker
            if conn.tls or not hasattr(select, "poll"):
                if not conn.wait_readable(WORKER_LINGER):
                    break
                continue
            if poller is None:
                poller = select.poll()
                try:
                    poller.register(conn.sock, select.POLLIN)
                except (OSError, ValueError):
                    continue  # let the read find out what is wrong
            if not poller.poll(linger):
                break

    def _alone(self) -> bool:
        """Whether the calling worker is the only thread with work here (the only busy worker, no oneway calls running)."""
        return len(self.workers) - self.idle_workers <= 1 and not self.daemon._oneways_running

    def _pool_full(self) -> bool:
        """True when no idle worker is left and no new one may start."""
        return self.idle_workers <= 0 and len(self.workers) >= max(1, int(config.THREADPOOL_SIZE))

    def close(self) -> None:
        if self.closed:
            return
        super().close()
        self.poller_waker.wake()
        with self.workers_lock:
            workers = list(self.workers)
        for _ in workers:
            self.work.put(None)
        if self.poller is not None and self.poller.ident is not None and self.poller is not threading.current_thread():
            self.poller.join(timeout=2.0)
        current = threading.current_thread()
        for worker in workers:
            if worker is not current and worker.ident is not None:
                worker.join(timeout=2.0)
        try:
            self.poller_selector.close()
        except Exception:
            pass
        self.poller_waker.close()


class MultiplexServer(ServerBase):
    """One thread, one call at a time; non-blocking reads, so half a message stalls nobody."""

    name = "multiplex"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.waker.reader, selectors.EVENT_READ, None)
        if self.listen_sock is not None:
            self.selector.register(self.listen_sock, selectors.EVENT_READ, None)
        with self.connections_lock:
            for conn in self.connections:  # a connected_socket daemon
                self.selector.register(conn.sock, selectors.EVENT_READ, conn)

    def __repr__(self) -> str:
        return f"<multiplex server {self.location_str}, {len(self.connections)} connections>"

    @property
    def sockets(self) -> list[Any]:
        socks = super().sockets
        with self.connections_lock:
            socks.extend(conn.sock for conn in self.connections)
        return socks

    def loop(self, condition: Callable[[], bool]) -> None:
        self.loop_thread = threading.get_ident()
        try:
            while condition() and not self.closed:
                foreign = self._register_foreign()
                events = self.selector.select(self._wait_time())
                ready = [key.fileobj for key, _ in events]
                self._handle_ready(events)
                if foreign:
                    self._combined_events([s for s in ready if s in foreign])
                    for sock in foreign:
                        try:
                            self.selector.unregister(sock)
                        except (KeyError, ValueError):
                            pass
                if self.listen_sock is None and not self.connections:
                    break  # a connected_socket daemon whose one connection ended
                if self._expiry_due():
                    self._expire()
                if self._housekeeping_due():
                    self.daemon._housekeeping()
        finally:
            self.loop_thread = None

    def _register_foreign(self) -> list[Any]:
        foreign = []
        for other in self.combined:
            for sock in other.sockets:
                try:
                    self.selector.register(sock, selectors.EVENT_READ, "foreign")
                    foreign.append(sock)
                except (KeyError, ValueError):
                    pass
        return foreign

    def _handle_ready(self, events: list[tuple[selectors.SelectorKey, int]]) -> None:
        for key, _ in events:
            if key.fileobj is self.waker.reader:
                self.waker.drain()
            elif key.fileobj is self.listen_sock:
                for _ in range(64):
                    conn = self._accept()
                    if conn is None:
                        break
                    self.selector.register(conn.sock, selectors.EVENT_READ, conn)
            elif isinstance(key.data, ClientConnection):
                conn = key.data
                if not self._serve_ready(conn):
                    self._unregister(conn)
                    self._drop(conn)

    def events(self, eventsockets: list[Any]) -> None:
        by_sock = {key.fileobj: key for key in self.selector.get_map().values()}
        events = []
        for sock in eventsockets:
            key = by_sock.get(sock)
            if key is not None:
                events.append((key, selectors.EVENT_READ))
        self._handle_ready(events)
        self._combined_events(eventsockets)

    def _unregister(self, conn: ClientConnection) -> None:
        try:
            self.selector.unregister(conn.sock)
        except (KeyError, ValueError):
            pass

    def _expire(self) -> None:
        with self.connections_lock:
            candidates = list(self.connections)
        for conn in self._expired_connections(candidates):
            self._unregister(conn)
            self._drop(conn)

    def close(self) -> None:
        if self.closed:
            return
        super().close()
        try:
            self.selector.close()
        except Exception:
            pass
