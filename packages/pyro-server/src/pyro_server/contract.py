"""The contract between the Daemon and its server types, declared.

A server type (thread, multiplex) owns the sockets: it listens, accepts, reads
and writes, and decides which thread runs what. The daemon owns the meaning of
the messages. Between them stand two interfaces, and nothing else:

- :class:`RequestHandler`, what the server types call: the daemon's Dispatcher
  makes each connection, handles each whole message, hears of bad bytes and of
  a connection's end, and runs the periodic housekeeping;
- :class:`ServerType`, what the daemon calls: run the loop, take events from a
  foreign loop, combine, wake up, close.
"""

from __future__ import annotations

import socket
from typing import Any, Callable, Optional, Protocol

from pyro_protocol.message import Message

from .connection import ClientConnection

__all__ = ["RequestHandler", "ServerType"]


class RequestHandler(Protocol):
    """The daemon's side: what a server type may ask of it."""

    #: Seconds a new connection has for its handshake.
    handshake_timeout: float
    #: Oneway calls running in the daemon's own pool (they compete for the GIL).
    oneways_running: int

    def new_connection(self, sock: socket.socket, addr: Any, handshake_done: bool = False) -> ClientConnection:
        """A connection object (with its protocol session) for an accepted socket."""
        ...

    def handle(self, conn: ClientConnection, msg: Message) -> bool:
        """Process one whole message; False: close the connection now."""
        ...

    def protocol_failure(self, conn: ClientConnection, error: Exception) -> None:
        """The peer sent bytes that are not the protocol (the connection ends after this)."""
        ...

    def connection_closed(self, conn: ClientConnection) -> None:
        """The connection ended (any reason): hooks, instances, streams. Safe to call twice."""
        ...

    def quick_handshakes(self) -> bool:
        """Whether answering a handshake never blocks (the daemon's hooks are its own)."""
        ...

    def housekeeping(self) -> None:
        """Periodic work (about every POLLTIMEOUT seconds), from the server's loop."""
        ...


class ServerType(Protocol):
    """The server side: what the daemon may ask of its server type."""

    name: str
    location_str: str
    bound_port: int
    listen_sock: Optional[socket.socket]
    connections: set[ClientConnection]

    @property
    def sock(self) -> Optional[socket.socket]: ...

    @property
    def sockets(self) -> list[Any]: ...

    def loop(self, condition: Callable[[], bool]) -> None:
        """Serve until ``condition()`` is false or the server is closed."""
        ...

    def events(self, eventsockets: list[Any]) -> None:
        """Handle activity on these sockets (from the user's own event loop)."""
        ...

    def combine(self, other: Any) -> None:
        """Serve ``other``'s sockets (another daemon, a broadcast server) from this loop too."""
        ...

    def wakeup(self) -> None: ...

    def is_loop_thread(self) -> bool: ...

    def is_worker_thread(self) -> bool: ...

    def close(self) -> None: ...
