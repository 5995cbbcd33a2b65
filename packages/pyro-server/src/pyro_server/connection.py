"""One client connection as the daemon sees it: a non-blocking socket, its
protocol session (pyro_protocol.session.ServerSession: handshake state and the
decoder) and the per-connection state (session instances, tracked resources).

Its life, in every server type: accepted (``session.state`` NEW) -> handshake
answered (READY) -> requests -> closed (``closed``; ``cleaned_up`` once the
daemon's hooks ran). The thread server also moves it between the selector
(idle: ``queued_for_poller``) and a worker (served).
"""

from __future__ import annotations

import logging
import socket
import ssl
import struct
import time
from typing import Any, Callable, Optional

from pyro_protocol import wirelog
from pyro_protocol.config import config
from pyro_protocol.constants import RECEIVE_SIZE
from pyro_protocol.errors import ConnectionClosedError
from pyro_protocol.message import Frames, Message
from pyro_protocol.session import READY, ServerSession
from pyro_protocol.socketutil import family_str
from pyro_protocol.spinwait import SpinWait
from pyro_protocol.transport import POLLIN, STALL_TIMEOUT, TRY_AGAIN, recv_exactly, send_waiting, wait_ready

__all__ = ["ClientConnection"]

log = logging.getLogger("pyro.server")

#: Read at least this much per recv; more when a large message is on its way.
_MIN_READ = RECEIVE_SIZE
_MAX_READ = 1024 * 1024
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)
#: While a large payload arrives, a worker keeps reading only while each read brings at
#: least this much; a slower sender waits in the selector and holds no worker.
_BULK_PROGRESS = 16 * 1024


def _timeval(seconds: float) -> bytes:
    whole = int(seconds)
    return struct.pack("@ll", whole, int((seconds - whole) * 1e6))


class ClientConnection:
    """A connected client. Passed to ``Daemon.validateHandshake`` and ``clientDisconnect``, and is
    ``current_context.client`` during a call. Has what Pyro4's server-side SocketConnection has:
    ``sock``, ``objectId`` (None here), ``pyroInstances``, ``tracked_resources``, ``keep_open``,
    ``send``, ``recv``, ``close``, ``fileno``, ``family()``, ``timeout``/``getTimeout``/``setTimeout``
    and ``getpeercert()``.
    """

    def __init__(self, sock: socket.socket, addr: Any, session: ServerSession, send_timeout: float) -> None:
        self.sock = sock
        self.addr = addr
        self.session = session
        self.send_timeout = send_timeout or STALL_TIMEOUT
        self.cleaned_up = False  # the daemon's end-of-connection work ran
        self.queued_for_poller = False  # (thread server) handed to the poller, not yet served
        self.served = False  # (thread server, connected socket) its first serving began
        self.created = self.last_activity = time.monotonic()
        self.pyroInstances: dict[type, Any] = {}
        self.tracked_resources: set[Any] = set()
        self.keep_open = False  # (Pyro4's flag: True only on a proxy's connected socket)
        self.objectId: Optional[str] = None  # (Pyro4's; only its client-side connections have one)
        self.closed = False
        self.pending: list[Message] = []
        self.peer_closed = False  # (a worker's blocking session) the peer closed its side
        self.tls_pending = self.tls = isinstance(sock, ssl.SSLSocket)
        # reads never wait, also while a worker has switched the socket to blocking mode
        self.dontwait = 0 if self.tls else _DONTWAIT
        self.linger_set = -1.0
        self.just_accepted = False
        # polls before a worker's blocking reads (TLS sessions never block: no need)
        self.spin = None if self.tls else SpinWait.for_this_process()
        sock.setblocking(False)

    @property
    def handshake_done(self) -> bool:
        return self.session.state is READY

    def fileno(self) -> int:
        return self.sock.fileno()

    def family(self) -> str:
        """The address family: "IPv4", "IPv6" or "Unix"."""
        return family_str(self.sock)

    @property
    def timeout(self) -> float:
        """Seconds a send or :meth:`recv` may wait for the peer (COMMTIMEOUT, else STALL_TIMEOUT).

        Pyro4 set it on the socket; here the socket stays non-blocking and the waits use it.
        """
        return self.send_timeout

    @timeout.setter
    def timeout(self, seconds: Optional[float]) -> None:
        self.send_timeout = seconds or STALL_TIMEOUT
        self.linger_set = -1.0  # a worker's blocking session sets SO_SNDTIMEO from it again

    def setTimeout(self, timeout: Optional[float]) -> None:  # noqa: N802 - Pyro4's name
        self.timeout = timeout

    def getTimeout(self) -> float:  # noqa: N802 - Pyro4's name
        return self.timeout

    def recv(self, size: int) -> bytes:
        """Exactly ``size`` bytes from the raw connection, for programs that talk on it themselves.

        Waits at most :attr:`timeout` for each part. Bytes the daemon has already read (a
        message's worth may have come with the request being served) are not among them.
        """
        data = recv_exactly(self.sock, size, self.send_timeout)
        self.last_activity = time.monotonic()
        return data

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
        flags = self.dontwait
        while True:
            target = self.session.receive_target()
            if target is not None:  # a large payload: straight into its buffer
                with target:
                    want = len(target)
                    try:
                        count = self.sock.recv_into(target, 0, flags)
                    except TRY_AGAIN:
                        return True
                    except (ConnectionError, OSError):
                        return False
                if not count:
                    return False
                self.last_activity = time.monotonic()
                self.pending.extend(self.session.received(count))
                if count < want and not (self.tls and self.sock.pending()):  # type: ignore[attr-defined]
                    return True
                continue
            want = min(max(self.session.decoder.wanted, _MIN_READ), _MAX_READ)
            try:
                data = self.sock.recv(want, flags)
            except TRY_AGAIN:
                return True
            except (ConnectionError, OSError):
                return False
            if not data:
                return False
            self.last_activity = time.monotonic()
            self.pending.extend(self.session.receive(data))
            if len(data) < want and not isinstance(self.sock, ssl.SSLSocket):
                return True
            if isinstance(self.sock, ssl.SSLSocket) and not self.sock.pending() and len(data) < want:
                return True

    # -- a worker's blocking session (thread server, plain TCP or unix sockets) -----------------

    def enter_blocking(self, linger: float) -> bool:
        """Make reads block for at most ``linger`` s (one recv per request, no poll); False if not possible."""
        if self.tls or not self.dontwait:
            return False
        sock = self.sock
        try:
            if self.linger_set != linger:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _timeval(linger))
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, _timeval(self.send_timeout))
                self.linger_set = linger
            sock.setblocking(True)
        except OSError:
            return False
        return True

    def leave_blocking(self) -> None:
        try:
            self.sock.setblocking(False)
        except OSError:
            pass  # closed meanwhile

    def wait_and_read(self, alone: Callable[[], bool]) -> Optional[list[Message]]:
        """In a blocking session: wait (up to the linger time) for the next request and read it.

        ``alone()``: whether this is the server's only session now (so the wait may poll first,
        see spinwait). Returns the messages that arrived (none for part of one), or None when
        nothing came in time. When the peer closed, ``peer_closed`` is set (after the messages
        it sent before). Raises ProtocolError for garbage.
        """
        if self.session.decoder.in_message:
            return self._read_rest()
        spin = self.spin
        try:
            if spin is not None:
                spin.before_read(self.sock, alone())
            data = self.sock.recv(_MIN_READ)
        except (BlockingIOError, InterruptedError):
            return None  # SO_RCVTIMEO: the linger time is over
        except (ConnectionError, OSError):
            data = b""
        if not data:
            self.peer_closed = True
            return []
        self.last_activity = time.monotonic()
        if len(data) == _MIN_READ:  # there may be more
            self.pending += self.session.receive(data)
            self.peer_closed = not self.read_available()
            return self.take_pending()
        return self.session.receive(data)

    def take_pending(self) -> list[Message]:
        """The messages decoded by earlier reads and not handled yet (``pending`` is emptied)."""
        pending = self.pending
        self.pending = []
        return pending

    def _read_rest(self) -> Optional[list[Message]]:
        """The rest of a message that has begun: a large payload goes straight into its buffer."""
        session = self.session
        target = session.receive_target()
        if target is None:
            return None  # half a small message: the selector waits for the rest
        with target:
            try:
                count = self.sock.recv_into(target)
            except (BlockingIOError, InterruptedError):
                return None
            except (ConnectionError, OSError):
                count = 0
        if not count:
            self.peer_closed = True
            return []
        self.last_activity = time.monotonic()
        messages = session.received(count)
        if count < _BULK_PROGRESS and session.decoder.in_message:
            self.pending += messages
            return None  # trickling in: let the selector wait for the rest
        return messages

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
        return wait_ready(self.sock, POLLIN, timeout)

    def send_frames(self, frames: Frames) -> None:
        """Send one whole message (``message.encode``'s frames): a single system call when the
        socket takes it all (the usual case); else waits for the socket to drain, bounded by the
        send timeout. A large frame is sent as it is, without a copy."""
        if config.LOGWIRE:
            wirelog.log_frames("daemon", frames)
        if len(frames) == 1:
            data = frames[0]
            try:
                sent = self.sock.send(data)
            except TRY_AGAIN:
                sent = 0
            except (ConnectionError, OSError) as exc:
                raise ConnectionClosedError(f"sending to {self.addr}: {exc}") from None
            if sent != len(data):
                with memoryview(data) as view:
                    self._send_view(view[sent:])
        else:
            for frame in frames:
                with memoryview(frame) as view:
                    self._send_view(view)
        self.last_activity = time.monotonic()

    def send(self, data: bytes) -> None:
        """Pyro4's ``send(data)``: raw bytes, for programs that talk on the connection themselves."""
        with memoryview(data) as view:
            self._send_view(view)
        self.last_activity = time.monotonic()

    def _send_view(self, view: memoryview) -> None:
        send_waiting(self.sock, view, self.send_timeout, f"sending to {self.addr}")

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
        self.release_resources()

    def release_resources(self) -> None:
        """Close the tracked resources and drop the session instances (the connection has ended)."""
        for resource in list(self.tracked_resources):
            try:
                resource.close()
            except Exception:  # a user resource failing to close must not hurt the daemon
                log.exception("error closing tracked resource %r", resource)
        self.tracked_resources.clear()
        self.pyroInstances.clear()

    def __repr__(self) -> str:
        return f"<ClientConnection {self.addr} {'open' if not self.closed else 'closed'}>"
