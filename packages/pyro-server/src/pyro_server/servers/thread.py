"""The thread server: calls run on a pool of worker threads; idle connections wait in a
selector (the poller thread) and hold no worker. A worker that served a request keeps
reading its connection for WORKER_LINGER seconds before handing it back, so a busy
client's calls need no thread hop."""

from __future__ import annotations

import itertools
import queue
import select
import selectors
import threading
from typing import Any, Callable, Optional

from pyro_protocol.config import config

from ..connection import ClientConnection
from .base import ServerBase, Waker

__all__ = ["ThreadServer", "WORKER_LINGER", "WORKER_IDLE_EXIT"]

#: After a request, a worker keeps watching its connection this long for the next
#: one before handing it back to the selector (saves a thread hop per call for busy clients).
WORKER_LINGER = 0.05
#: Idle workers above THREADPOOL_SIZE_MIN exit after this many seconds.
WORKER_IDLE_EXIT = 30.0
#: Numbers for worker thread names, unique in the process (Pyro4 names them Pyro-Worker-<number>,
#: and programs print thread names to show which worker ran a call).
_worker_numbers = itertools.count(1)


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
        self.poller_waker = Waker()
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
                    self.handler.housekeeping()
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
        if conn.tls or not self.handler.quick_handshakes():
            return True
        try:
            alive = conn.read_available()
        except Exception as exc:  # garbage from the peer
            self.handler.protocol_failure(conn, exc)
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
                if not conn.queued_for_poller:
                    conn.queued_for_poller = True
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
            if conn.pending or (conn.handshake_done and self.listen_sock is None and not conn.served):
                conn.served = True
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
        """Queue a connection for a worker; start one unless an idle worker is there for each queued one.

        (Comparing with the queue's length, not just "is a worker idle": two connections queued
        while one worker was idle left the second waiting for as long as the busy workers kept
        lingering on their clients.)
        """
        self.work.put(conn)
        with self.workers_lock:
            if self.work.qsize() <= self.idle_workers or len(self.workers) >= max(1, int(config.THREADPOOL_SIZE)):
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
        conn.session.decoder.release_buffer()
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
        handle = self.handler.handle
        while not self.closed:
            if not self.work.empty() and self._pool_full():
                return False  # others wait for a worker
            try:
                messages = conn.wait_and_read(self._alone)
            except Exception as exc:  # garbage from the peer
                self.handler.protocol_failure(conn, exc)
                return True
            if messages is None:
                return False  # nothing within the linger time: back to the selector
            for msg in messages:
                try:
                    if not handle(conn, msg):
                        return True
                except (Exception, SystemExit, GeneratorExit) as exc:
                    self._handler_failed(conn, exc)
                    return True
            if conn.peer_closed:
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
            if conn.session.decoder.in_message or (not self.work.empty() and self._pool_full()):
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
        return len(self.workers) - self.idle_workers <= 1 and not self.handler.oneways_running

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
