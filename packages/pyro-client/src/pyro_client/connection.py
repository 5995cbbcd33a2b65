"""A proxy's connection: a socket driven by the protocol's ClientSession (the sync front end).

The Proxy is the attribute façade (remote methods, metadata, hooks, call context);
this is the I/O under it: open and handshake, send a call's frames, wait for its
reply. The protocol rules are the session's (pyro_protocol.session); this module
only moves bytes and turns socket errors into Pyro's errors.
"""

from __future__ import annotations

import builtins
import socket
import ssl
import threading
from typing import Any, Mapping, Optional

from pyro_protocol import transport, wirelog
from pyro_protocol.config import config
from pyro_protocol.constants import RECEIVE_SIZE
from pyro_protocol.errors import CommunicationError, ConnectionClosedError, ProtocolError, TimeoutError
from pyro_protocol.message import MSG_CONNECTFAIL, Frames, Message
from pyro_protocol.session import ClientSession
from pyro_protocol.spinwait import SpinWait
from pyro_protocol.uri import URI

__all__ = ["ProxyConnection", "RECEIVE_SIZE"]

_WAITALL = getattr(socket, "MSG_WAITALL", 0)


class ProxyConnection:
    """One open connection of a proxy, after a successful handshake (used under the proxy's lock)."""

    __slots__ = ("sock", "session", "spin", "waitall")

    def __init__(self, sock: socket.socket, session: ClientSession) -> None:
        self.sock = sock
        self.session = session
        tls = isinstance(sock, ssl.SSLSocket)
        # (TLS may hold decrypted bytes already: polling the socket would not see them)
        self.spin = None if tls else SpinWait.for_this_process()
        self.waitall = 0 if tls or not config.USE_MSG_WAITALL else _WAITALL

    @classmethod
    def open(
        cls,
        uri: URI,
        session: ClientSession,
        handshake: Any,
        metadata: bool,
        annotations: Optional[Mapping[str, bytes]],
        timeout: Optional[float],
    ) -> tuple[ProxyConnection, Message, Any]:
        """Connect to ``uri`` and do the handshake; returns the connection, the answer and its value.

        A refused handshake (a CONNECTFAIL answer, its value the daemon's reason) comes back
        too, the connection already closed: the caller decides what it means.
        """
        where = uri.location or str(uri)
        try:
            ssl_context = transport.client_ssl_context(config) if config.SSL else None
        except (OSError, ValueError) as exc:
            raise CommunicationError(f"cannot connect to {where}: TLS setup failed: {exc}") from exc
        sock = transport.connect(uri, timeout, ssl_context)
        conn = cls(sock, session)
        try:
            conn.send(session.connect(handshake, uri.object if metadata else None, annotations))
            msg, value = conn.receive()
        except BaseException as exc:
            transport.close_socket(sock)
            failure = transport.handshake_failure(where, exc, ssl_context is not None)
            if failure is exc:
                raise
            raise failure from exc
        if msg.type == MSG_CONNECTFAIL:
            transport.close_socket(sock)
        return conn, msg, value

    def send(self, frames: Frames) -> None:
        if config.LOGWIRE:
            wirelog.log_frames("proxy", frames)
        sock = self.sock
        try:
            if len(frames) == 1:
                sock.sendall(frames[0])
            else:
                transport.send_frames(sock, frames)
        except builtins.TimeoutError:
            raise TimeoutError("sending: timeout") from None
        except (OSError, ValueError) as exc:
            raise ConnectionClosedError(f"sending: connection lost: {exc}") from None

    def receive(self) -> tuple[Message, Any]:
        """Wait for the next reply (or handshake answer): the message and its value."""
        sock = self.sock
        session = self.session
        try:
            while True:
                target = session.receive_target() if session.decoder.in_message else None
                if target is None:
                    if self.spin is not None:
                        # polling holds the GIL: only a process's single thread polls
                        self.spin.before_read(sock, threading.active_count() == 1)
                    data = sock.recv(RECEIVE_SIZE)
                    if not data:
                        raise transport.connection_lost(b"")
                    replies = session.receive(data)
                else:  # the rest of a large payload, straight into its buffer
                    with target:
                        count = sock.recv_into(target, 0, self.waitall)
                    if not count:
                        raise transport.connection_lost(b"")
                    replies = session.received(count)
                if replies:
                    break
        except builtins.TimeoutError:
            raise TimeoutError("receiving: timeout") from None
        except ssl.SSLError as exc:
            raise ConnectionClosedError(f"receiving: TLS error: {exc}") from None
        except (OSError, ValueError) as exc:
            raise ConnectionClosedError(f"receiving: connection lost: {exc}") from None
        if len(replies) > 1:
            raise ProtocolError("received more replies than calls were made")
        if config.LOGWIRE:
            wirelog.log_message("proxy", "received", replies[0][0])
        return replies[0]

    def close(self) -> None:
        transport.close_socket(self.sock)
