"""The broadcast responder that lets clients find the name server (protocol 6.4).

A UDP socket bound to ``(bchost or "", bcport)``. Every datagram is read with
a 100-byte buffer; a datagram that is exactly ``GET_NSURI`` is answered, to
the sender's address, with the name server's URI as latin-1 text. Anything
else is ignored. If the name server is bound to ``0.0.0.0`` (or ``::``), the
host in the reply becomes the address of the local interface that routes to
the requester, so the client gets an address it can connect to.

It runs in its own thread (:meth:`BroadcastServer.runInThread`) or inside a
daemon's request loop (``daemon.combine(bcserver)``: it offers ``sockets`` and
``events`` like a daemon does, and ``transportServer`` for Pyro4's daemons).
"""

from __future__ import annotations

import logging
import select
import selectors
import socket
import threading
from typing import Any, Iterable, Optional, Union

from pyro_protocol.config import config
from pyro_protocol.constants import BROADCAST_READ_SIZE, BROADCAST_REQUEST
from pyro_protocol.errors import CommunicationError
from pyro_protocol.uri import URI

__all__ = ["BroadcastServer"]

log = logging.getLogger("pyro.naming")

#: processRequest() waits at most this long for a datagram; so does each round of the thread's select.
THREAD_POLL = 0.5
_ANY_ADDRESSES = ("0.0.0.0", "::")


def _interface_address_towards(peer: str) -> str:
    """The local address the OS would use to send to ``peer`` (no packet is sent)."""
    family = socket.AF_INET6 if ":" in peer else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        probe.connect((peer, 53))
        return str(probe.getsockname()[0])


class BroadcastServer:
    """Answers ``GET_NSURI`` datagrams with the name server's URI."""

    def __init__(
        self, nsUri: Union[URI, str], bchost: Optional[str] = None, bcport: Optional[int] = None, ipv6: bool = False
    ) -> None:  # noqa: N803
        self.nsUri = URI(nsUri)
        if bcport is None:
            bcport = int(config.NS_BCPORT)
        if bchost is None:
            bchost = config.NS_BCHOST
        ipv6 = ipv6 or ":" in (self.nsUri.host or "") or ":" in (bchost or "")
        self.sock = self._bind(bchost or ("::" if ipv6 else ""), bcport, ipv6)
        bound_host, bound_port = self.sock.getsockname()[:2]
        shown = bchost or bound_host
        self.locationStr = f"[{shown}]:{bound_port}" if ":" in shown else f"{shown}:{bound_port}"
        self.transportServer = self  # so a Pyro4 daemon can combine() us too
        self.running = True
        self._thread: Optional[threading.Thread] = None
        self._wakeup: Optional[tuple[socket.socket, socket.socket]] = None
        log.info("name server broadcast responder on %s", self.locationStr)

    @staticmethod
    def _bind(host: str, port: int, ipv6: bool) -> socket.socket:
        sock = socket.socket(socket.AF_INET6 if ipv6 else socket.AF_INET, socket.SOCK_DGRAM)
        try:
            if config.SOCK_REUSE:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if not ipv6:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            sock.bind((host, port))
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            raise CommunicationError(
                f"cannot bind the broadcast server to {host or '*'}:{port}: {exc.strerror or exc}"
            ) from None
        return sock

    def __repr__(self) -> str:
        return f"<BroadcastServer on {self.locationStr} for {self.nsUri}>"

    # -- what a request loop needs ----------------------------------------------------

    @property
    def sockets(self) -> list[socket.socket]:
        return [self.sock] if self.running else []

    def fileno(self) -> int:
        return self.sock.fileno()

    def getPort(self) -> int:  # noqa: N802 - Pyro4's name
        return int(self.sock.getsockname()[1])

    def events(self, eventsockets: Iterable[Any]) -> None:
        """Called by a request loop when our socket is readable: answer what has arrived."""
        for _ in eventsockets:
            self._answer_one()

    def processRequest(self) -> None:  # noqa: N802 - Pyro4's name
        """Wait (up to a short timeout) for one datagram and answer it if it is a request."""
        try:
            readable, _, _ = select.select([self.sock], [], [], THREAD_POLL)
        except (OSError, ValueError):  # closed meanwhile
            return
        if readable:
            self._answer_one()

    def _answer_one(self) -> None:
        """Read one datagram without waiting and answer it if it is a request."""
        try:
            data, addr = self.sock.recvfrom(BROADCAST_READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            if self.running:
                log.debug("broadcast receive failed: %s", exc)
            return
        if not self.running:
            return
        if data != BROADCAST_REQUEST:
            log.debug("ignoring a %d-byte datagram from %s", len(data), addr[0])
            return
        reply = self.reply_for(addr[0])
        try:
            self.sock.sendto(reply.encode("latin-1"), addr)
            log.debug("told %s where the name server is: %s", addr[0], reply)
        except OSError as exc:
            log.debug("broadcast reply to %s failed: %s", addr[0], exc)

    def reply_for(self, requester: str) -> str:
        """The URI text sent to a requester at this address."""
        uri = URI(self.nsUri)
        if uri.host in _ANY_ADDRESSES:
            try:
                uri.host = _interface_address_towards(requester)
            except OSError:
                pass
        return str(uri)

    # -- its own thread ---------------------------------------------------------------

    def runInThread(self) -> threading.Thread:  # noqa: N802 - Pyro4's name
        """Answer requests in a background thread until :meth:`close`."""
        self._wakeup = socket.socketpair()
        self._thread = threading.Thread(target=self._loop, name="pyro-ns-broadcast", daemon=True)
        self._thread.start()
        return self._thread

    def _loop(self) -> None:
        assert self._wakeup is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.sock, selectors.EVENT_READ)
            selector.register(self._wakeup[0], selectors.EVENT_READ)
            while self.running:
                for key, _ in selector.select(THREAD_POLL):
                    if key.fileobj is self.sock and self.running:
                        self._answer_one()

    def close(self) -> None:
        """Stop answering and release the socket. Idempotent."""
        if not self.running and self.sock.fileno() == -1:
            return
        self.running = False
        if self._wakeup is not None:
            self._wakeup[1].send(b"!")
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=THREAD_POLL * 4)
        self._thread = None
        if self._wakeup is not None:
            for end in self._wakeup:
                end.close()
            self._wakeup = None
        self.sock.close()
        log.debug("broadcast responder closed")

    def __enter__(self) -> BroadcastServer:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()
