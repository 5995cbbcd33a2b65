"""The name server's daemon, and the helpers that start one: ``startNS`` (for your own
loop) and ``startNSloop`` (runs until shut down, like the ``pyro-ns`` command)."""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import sys
import threading
from types import FrameType
from typing import Any, Callable, Iterator, Optional, Union

from pyro_protocol.config import config
from pyro_protocol.constants import NAMESERVER_NAME
from pyro_server import Daemon

from .autoclean import DEFAULT_GRACE, AutoCleaner, check_interval
from .broadcast import BroadcastServer
from .nameserver import NameServer
from .storage import Storage, make_storage

__all__ = ["NameServerDaemon", "startNS", "startNSloop", "NAMESERVER_METADATA"]

log = logging.getLogger("pyro.naming")

#: The metadata the name server registers itself with (Pyro4's class name: clients may query it).
NAMESERVER_METADATA = frozenset({"class:Pyro4.naming.NameServer"})


class NameServerDaemon(Daemon):
    """A daemon serving a :class:`NameServer` as ``Pyro.NameServer``.

    ``storage`` is ``None``/``"memory"``, ``"sql:<file>"``, ``"dbm:<file>"`` or a
    :class:`Storage` instance. ``autoclean`` is the NS_AUTOCLEAN interval in seconds
    (default: the config item; 0 = off, else at least 3); ``autoclean_grace`` is how
    long a daemon may stay unreachable before its names are removed.
    """

    def __init__(
        self,
        host: Optional[str] = None,
        port: Optional[int] = None,
        unixsocket: Optional[str] = None,
        nathost: Optional[str] = None,
        natport: Optional[int] = None,
        storage: Union[str, Storage, None] = None,
        *,
        autoclean: Optional[float] = None,
        autoclean_grace: float = DEFAULT_GRACE,
    ) -> None:
        interval = check_interval(config.NS_AUTOCLEAN if autoclean is None else autoclean)
        store = storage if isinstance(storage, Storage) else make_storage(storage)
        self.nameserver: Optional[NameServer] = NameServer(store)
        self.cleaner: Optional[AutoCleaner] = None
        if not unixsocket:
            host = config.HOST if host is None else host
            port = int(config.NS_PORT) if port is None else port
        try:
            super().__init__(host, port or 0, unixsocket, nathost=nathost, natport=natport)
        except BaseException:
            store.close()
            raise
        existing = self.nameserver.count()
        if existing:
            log.info("storage %r holds %d registrations", store, existing)
        self.register(self.nameserver, NAMESERVER_NAME)
        self.nameserver.register(NAMESERVER_NAME, self.uriFor(self.nameserver), metadata=NAMESERVER_METADATA)
        if interval:
            self.cleaner = AutoCleaner(self.nameserver, interval, autoclean_grace, lambda: self._pyroHmacKey)
            self.cleaner.start()
        log.info("name server daemon on %s, storage %r", self.locationStr, store)

    def close(self) -> None:
        """Stop serving, stop the autocleaner, close the storage. Idempotent."""
        super().close()
        cleaner, self.cleaner = self.cleaner, None
        if cleaner is not None:
            cleaner.stop()
        nameserver, self.nameserver = self.nameserver, None
        if nameserver is not None:
            nameserver.storage.close()

    def __enter__(self) -> NameServerDaemon:
        super().__enter__()
        return self


def _listening_address(daemon: NameServerDaemon) -> tuple[str, int]:
    sock = daemon.sock
    assert sock is not None
    return str(sock.getsockname()[0]), sock.family


def _broadcast_refusal(daemon: NameServerDaemon, unixsocket: Optional[str], strict: bool) -> Optional[str]:
    """Why no broadcast responder should run (None: it may). ``strict``: startNSloop's rules."""
    if unixsocket:
        return "Unix domain socket"
    address, family = _listening_address(daemon)
    if strict and family == socket.AF_INET6:
        return "IPv6"
    if address.startswith("127.") or (strict and address == "::1"):
        return "localhost"
    return None


def _start(
    strict: bool,
    host: Optional[str],
    port: Optional[int],
    enableBroadcast: bool,
    bchost: Optional[str],  # noqa: N803
    bcport: Optional[int],
    unixsocket: Optional[str],
    nathost: Optional[str],
    natport: Optional[int],
    storage: Union[str, Storage, None],
    hmac: Union[str, bytes, None],
) -> tuple[Any, NameServerDaemon, Optional[BroadcastServer], Optional[str]]:
    daemon = NameServerDaemon(host, port, unixsocket, nathost=nathost, natport=natport, storage=storage)
    daemon._pyroHmacKey = hmac
    ns_uri = daemon.uriFor(NAMESERVER_NAME)
    refusal = _broadcast_refusal(daemon, unixsocket, strict)
    bcserver = None
    if enableBroadcast and refusal is None:
        try:
            bcserver = BroadcastServer(
                daemon.uriFor(NAMESERVER_NAME, nat=False),
                bchost,
                bcport,
                ipv6=_listening_address(daemon)[1] == socket.AF_INET6,
            )
        except BaseException:
            daemon.close()
            raise
    return ns_uri, daemon, bcserver, refusal


def startNS(  # noqa: N802 - Pyro4's name
    host: Optional[str] = None,
    port: Optional[int] = None,
    enableBroadcast: bool = True,  # noqa: N803
    bchost: Optional[str] = None,
    bcport: Optional[int] = None,
    unixsocket: Optional[str] = None,
    nathost: Optional[str] = None,
    natport: Optional[int] = None,
    storage: Union[str, Storage, None] = None,
    hmac: Union[str, bytes, None] = None,
) -> tuple[Any, NameServerDaemon, Optional[BroadcastServer]]:
    """Create a name server for your own loop: ``(nsUri, daemon, bcserver)``.

    No broadcast responder (``bcserver`` is None) on a unix socket, on a 127.x
    address, or with ``enableBroadcast=False``. Serve both from one loop with
    ``daemon.combine(bcserver)``.
    """
    ns_uri, daemon, bcserver, _ = _start(
        False, host, port, enableBroadcast, bchost, bcport, unixsocket, nathost, natport, storage, hmac
    )
    return ns_uri, daemon, bcserver


def _say(text: str) -> None:
    print(text)
    sys.stdout.flush()


def startNSloop(  # noqa: N802 - Pyro4's name
    host: Optional[str] = None,
    port: Optional[int] = None,
    enableBroadcast: bool = True,  # noqa: N803
    bchost: Optional[str] = None,
    bcport: Optional[int] = None,
    unixsocket: Optional[str] = None,
    nathost: Optional[str] = None,
    natport: Optional[int] = None,
    storage: Union[str, Storage, None] = None,
    hmac: Union[str, bytes, None] = None,
) -> None:
    """Start a name server, print where it is, and serve until shut down.

    The broadcast responder (not for loopback, IPv6 or unix sockets) runs in the
    daemon's own request loop. Called in the main thread, SIGTERM and Ctrl-C
    (unless the program has its own handlers for them) end the loop gracefully.
    """
    _, daemon, bcserver, refusal = _start(
        True, host, port, enableBroadcast, bchost, bcport, unixsocket, nathost, natport, storage, hmac
    )
    try:
        with _stopped_by_signals(daemon) as keep_running:  # before the banner: it says "ready"
            _banner(daemon, bcserver, refusal if enableBroadcast else None, unixsocket, hmac)
            if bcserver is not None:
                daemon.combine(bcserver)
            daemon.requestLoop(keep_running)
    finally:
        daemon.close()
        if bcserver is not None:
            bcserver.close()
    _say("NS shut down.")


@contextlib.contextmanager
def _stopped_by_signals(daemon: Daemon) -> Iterator[Callable[[], bool]]:
    """For the loop's duration, SIGTERM and SIGINT only set a flag and wake the loop.

    No exception is thrown into whatever the main thread is doing at that moment
    (a KeyboardInterrupt halfway through starting a thread leaves the daemon
    unable to close). A second signal does raise KeyboardInterrupt, to force it.
    Handlers the program installed itself are left alone; all are restored after.
    """
    requested: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield lambda: True
        return

    def stop(signum: int, frame: Optional[FrameType]) -> None:
        if requested:
            raise KeyboardInterrupt
        requested.append(signum)
        log.info("signal %d: shutting down the name server", signum)
        daemon.transportServer.wakeup()

    defaults = {signal.SIGTERM: signal.SIG_DFL, signal.SIGINT: signal.default_int_handler}
    previous = {}
    for signum, default in defaults.items():
        if signal.getsignal(signum) is default:
            previous[signum] = signal.signal(signum, stop)
    try:
        yield lambda: not requested
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _banner(
    daemon: NameServerDaemon,
    bcserver: Optional[BroadcastServer],
    refusal: Optional[str],
    unixsocket: Optional[str],
    hmac: Union[str, bytes, None],
) -> None:
    if refusal and refusal != "Unix domain socket":
        _say(f"Not starting broadcast server for {refusal}.")
    if bcserver is not None:
        _say(f"Broadcast server running on {bcserver.locationStr}")
    assert daemon.nameserver is not None
    existing = daemon.nameserver.count() - 1
    if existing > 0:
        _say(f"Persistent store contains {existing} existing registrations.")
    where = "Unix domain socket" if unixsocket else _listening_address(daemon)[0]
    _say(f"NS running on {daemon.locationStr} ({where})")
    if not hmac:
        _say("Warning: HMAC key not set. Anyone can connect to this server!")
    if daemon.natLocationStr:
        _say(f"internal URI = {daemon.uriFor(NAMESERVER_NAME, nat=False)}")
        _say(f"external URI = {daemon.uriFor(NAMESERVER_NAME)}")
    else:
        _say(f"URI = {daemon.uriFor(NAMESERVER_NAME)}")
