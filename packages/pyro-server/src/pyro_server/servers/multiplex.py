"""The multiplex server: one thread serves every connection; reads never block."""

from __future__ import annotations

import selectors
import threading
from typing import Any, Callable

from ..connection import ClientConnection
from .base import ServerBase

__all__ = ["MultiplexServer"]


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
                    self.handler.housekeeping()
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
