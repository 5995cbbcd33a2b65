"""One client connection as the daemon sees it: a non-blocking socket, its
incremental decoder and the per-connection state (session instances, tracked
resources, handshake status)."""

from __future__ import annotations

import logging
import select
import socket
import ssl
import time
from typing import Any, Optional

from pyro_protocol.errors import ConnectionClosedError, TimeoutError
from pyro_protocol.message import Message, MessageDecoder

log = logging.getLogger("pyro.server")

#: Read at least this much per recv; more when a large message is on its way.
_MIN_READ = 64 * 1024
_MAX_READ = 1024 * 1024
#: A send that makes no progress for this long drops the connection (when COMMTIMEOUT is 0).
DEFAULT_SEND_TIMEOUT = 60.0


def _wait(sock: socket.socket, event: int, timeout: float, strict: bool = False) -> bool:
    """Wait until ``sock`` is ready for ``event``. poll, not select: no limit on descriptor numbers.

    True also when the socket is in error or closed (the next read or send says why);
    with ``strict``, a poll failure raises instead.
    """
    poller = select.poll()
    try:
        poller.register(sock, event)
        return bool(poller.poll(timeout * 1000.0))
    except (OSError, ValueError):
        if strict:
            raise
        return True  # let the read find out what is wrong


class ClientConnection:
    """A connected client. Passed to ``Daemon.validateHandshake`` and ``clientDisconnect``."""

    def __init__(self, sock: socket.socket, addr: Any, decoder: MessageDecoder, send_timeout: float) -> None:
        self.sock = sock
        self.addr = addr
        self.decoder = decoder
        self.send_timeout = send_timeout or DEFAULT_SEND_TIMEOUT
        self.handshake_done = False
        self.created = self.last_activity = time.monotonic()
        self.pyroInstances: dict[type, Any] = {}
        self.tracked_resources: set[Any] = set()
        self.keep_open = True
        self.closed = False
        self.pending: list[Message] = []
        self.tls_pending = self.tls = isinstance(sock, ssl.SSLSocket)
        sock.setblocking(False)

    def fileno(self) -> int:
        return self.sock.fileno()

    def getpeercert(self) -> Optional[dict[str, Any]]:
        """The client's TLS certificate (two-way TLS), else None."""
        if isinstance(self.sock, ssl.SSLSocket):
            return self.sock.getpeercert()
        return None

    def read_available(self) -> bool:
        """Read what the socket has without blocking; decoded messages go to ``pending``.

        Returns False when the peer closed the connection. Raises ProtocolError for garbage.
        """
        if self.tls_pending and not self._continue_tls_handshake():
            return False
        if self.tls_pending:
            return True
        while True:
            target = self.decoder.receive_target()
            if target is not None:  # a large payload: straight into its buffer
                with target:
                    want = len(target)
                    try:
                        count = self.sock.recv_into(target)
                    except (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                        return True
                    except (ConnectionError, OSError):
                        return False
                if not count:
                    return False
                self.last_activity = time.monotonic()
                self.pending.extend(self.decoder.received(count))
                if count < want and not (self.tls and self.sock.pending()):  # type: ignore[attr-defined]
                    return True
                continue
            want = min(max(self.decoder.wanted, _MIN_READ), _MAX_READ)
            try:
                data = self.sock.recv(want)
            except (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                return True
            except (ConnectionError, OSError):
                return False
            if not data:
                return False
            self.last_activity = time.monotonic()
            self.pending.extend(self.decoder.feed(data))
            if len(data) < want and not isinstance(self.sock, ssl.SSLSocket):
                return True
            if isinstance(self.sock, ssl.SSLSocket) and not self.sock.pending() and len(data) < want:
                return True

    def _continue_tls_handshake(self) -> bool:
        """Advance the server side TLS handshake; False if it failed (certificate refused, say)."""
        assert isinstance(self.sock, ssl.SSLSocket)
        try:
            self.sock.do_handshake()
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return True
        except (ssl.SSLError, OSError) as exc:
            log.warning("TLS handshake with %s failed: %s", self.addr, exc)
            return False
        self.tls_pending = False
        self.last_activity = time.monotonic()
        return True

    def wait_readable(self, timeout: float) -> bool:
        if self.tls and self.sock.pending():  # type: ignore[attr-defined]
            return True
        return _wait(self.sock, select.POLLIN, timeout)

    def send(self, head: bytes, body: bytes = b"") -> None:
        """Send a whole message; waits for the socket to drain, bounded by the send timeout."""
        if len(body) < 65536:
            self.send_all(head + body if body else head)
            return
        self._send_view(memoryview(head))
        self._send_view(memoryview(body))
        self.last_activity = time.monotonic()

    def send_all(self, data: bytes) -> None:
        """Send one buffer: a single system call when the socket takes it all (the usual case)."""
        try:
            sent = self.sock.send(data)
        except (BlockingIOError, InterruptedError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
            sent = 0
        except (ConnectionError, OSError) as exc:
            raise ConnectionClosedError(f"sending to {self.addr}: {exc}") from None
        if sent != len(data):
            with memoryview(data) as view:
                self._send_view(view[sent:])
        self.last_activity = time.monotonic()

    def _send_view(self, view: memoryview) -> None:
        sent_total = 0
        while sent_total < len(view):
            try:
                sent_total += self.sock.send(view[sent_total:])
                continue
            except (BlockingIOError, InterruptedError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                pass
            except (ConnectionError, OSError) as exc:
                raise ConnectionClosedError(f"sending to {self.addr}: {exc}") from None
            try:
                writable = _wait(self.sock, select.POLLOUT, self.send_timeout, strict=True)
            except (OSError, ValueError) as exc:
                raise ConnectionClosedError(f"sending to {self.addr}: {exc}") from None
            if not writable:
                raise TimeoutError(f"sending to {self.addr}: no progress for {self.send_timeout} s")

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except (OSError, ValueError):
            pass
        try:
            self.sock.close()
        except OSError:
            pass
        for resource in list(self.tracked_resources):
            try:
                resource.close()
            except Exception:  # a user resource failing to close must not hurt the daemon
                log.exception("error closing tracked resource %r", resource)
        self.tracked_resources.clear()
        self.pyroInstances.clear()

    def __repr__(self) -> str:
        return f"<ClientConnection {self.addr} {'open' if not self.closed else 'closed'}>"
