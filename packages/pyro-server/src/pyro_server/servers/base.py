"""What every server type shares: the listening socket, accepting, combining,
reading a connection's messages and handing them to the RequestHandler, and the
expiry of idle connections (see ``pyro_server.contract`` for the interfaces)."""

from __future__ import annotations

import errno
import logging
import math
import socket
import ssl
import threading
import time
from typing import Any, Callable, Optional

from pyro_protocol import transport
from pyro_protocol.config import config
from pyro_protocol.errors import CommunicationError

from ..connection import ClientConnection
from ..contract import RequestHandler

log = logging.getLogger("pyro.server")

#: When accept fails (out of file descriptors, say), wait this long before trying again.
ACCEPT_BACKOFF = 0.1
#: Idle connections are looked at no more often than this (each look goes over all of them),
#: so one is dropped at most this late after its COMMTIMEOUT or handshake deadline.
EXPIRY_SLACK = 0.05


__all__ = ["ServerBase", "Waker", "ACCEPT_BACKOFF", "EXPIRY_SLACK"]


class Waker:
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
        handler: RequestHandler,
        host: Optional[str],
        port: int,
        unixsocket: Optional[str],
        connected_socket: Optional[socket.socket],
        listen_sock: Optional[socket.socket] = None,
    ) -> None:
        """``listen_sock``: listen on this socket (another server type's, taken over) instead of a new one."""
        self.handler = handler
        self.listen_sock: Optional[socket.socket] = None
        self.unixsocket = unixsocket
        self.bound_port = 0
        self.ssl_context: Optional[ssl.SSLContext] = transport.server_ssl_context(config) if config.SSL else None
        self.combined: list[Any] = []
        self.connections: set[ClientConnection] = set()
        self.connections_lock = threading.Lock()
        self.waker = Waker()
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
            self.listen_sock = listen_sock or transport.create_server_socket(
                host, port, unixsocket, bool(config.SOCK_REUSE)
            )
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
            self.handler.connection_closed(conn)
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
        conn = self.handler.new_connection(sock, addr, handshake_done)
        with self.connections_lock:
            self.connections.add(conn)
        return conn

    def _drop(self, conn: ClientConnection) -> None:
        with self.connections_lock:
            self.connections.discard(conn)
        self.handler.connection_closed(conn)

    def _serve_ready(self, conn: ClientConnection) -> bool:
        """Read what is there and handle every whole message. False: the connection is finished."""
        try:
            alive = conn.read_available()
        except CommunicationError as exc:  # garbage from the peer
            self.handler.protocol_failure(conn, exc)
            return False
        except Exception as exc:
            self.handler.protocol_failure(conn, exc)
            return False
        return self._handle_pending(conn, alive)

    def _handle_pending(self, conn: ClientConnection, alive: bool, limit: int = -1) -> bool:
        """Handle every whole message received (at most ``limit`` if given). False: the connection is finished."""
        while conn.pending and limit:
            limit -= 1
            msg = conn.pending.pop(0)
            try:
                if not self.handler.handle(conn, msg):
                    return False
            except (Exception, SystemExit, GeneratorExit) as exc:
                self._handler_failed(conn, exc)
                return False
        return alive

    def _handler_failed(self, conn: ClientConnection, exc: BaseException) -> None:
        """Log why handling a message of ``conn`` failed (the connection is closed after)."""
        if isinstance(exc, CommunicationError):
            log.info("connection %s failed: %s", conn.addr, exc)
        elif isinstance(exc, Exception):
            log.error("unexpected error handling a request from %s", conn.addr, exc_info=exc)
        else:
            # A remote method called exit() (or the like): as Pyro4, only this connection ends;
            # sending the exception back would make the client's program exit too.
            log.warning("a call from %s raised %s; closing that connection", conn.addr, type(exc).__name__)

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
        handshake_timeout = self.handler.handshake_timeout
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
