"""Autoclean: forget registrations whose daemon no longer answers.

Every ``interval`` seconds each registered ``PYRO:`` location is pinged: a TCP
(or unix socket) connection, the CONNECT handshake to ``Pyro.Daemon`` and a
``ping`` call, spoken directly with :mod:`pyro_protocol` (no client package
needed). A registration whose daemon has not answered for ``grace`` seconds
(Pyro4: about 20) is removed. ``Pyro.NameServer`` is never touched, nor are
URIs without a location (``PYRONAME:``, ``PYROMETA:``).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Callable, Optional

from pyro_client.connection import ProxyConnection
from pyro_protocol import serializers
from pyro_protocol.constants import DAEMON_NAME, NAMESERVER_NAME
from pyro_protocol.errors import PyroError, SecurityError
from pyro_protocol.message import MSG_CONNECTFAIL
from pyro_protocol.session import ClientSession
from pyro_protocol.uri import URI

if TYPE_CHECKING:
    from .nameserver import NameServer

__all__ = ["AutoCleaner", "ping_daemon", "MIN_AUTOCLEAN_INTERVAL", "DEFAULT_GRACE"]

log = logging.getLogger("pyro.naming")

#: NS_AUTOCLEAN below this (but above 0) is refused: Pyro4's lower bound, so a
#: name server does not spend its life pinging.
MIN_AUTOCLEAN_INTERVAL = 3.0
#: A registration is removed after its daemon has been unreachable this long (Pyro4: ~20 s).
DEFAULT_GRACE = 20.0
#: Seconds to wait for a daemon's connection and each reply during a ping.
PING_TIMEOUT = 5.0
#: Daemons are pinged in parallel by at most this many threads per sweep.
PING_WORKERS = 8

_SERPENT = serializers.get_serializer("serpent")


def check_interval(interval: float) -> float:
    """NS_AUTOCLEAN must be 0 (off) or at least MIN_AUTOCLEAN_INTERVAL seconds."""
    interval = float(interval)
    if interval < 0 or 0 < interval < MIN_AUTOCLEAN_INTERVAL:
        raise ValueError(
            f"NS_AUTOCLEAN must be 0 (off) or at least {MIN_AUTOCLEAN_INTERVAL:g} seconds, got {interval:g}"
        )
    return interval


def ping_daemon(location: str, timeout: float = PING_TIMEOUT, hmac_key: Optional[bytes] = None) -> bool:
    """True if a Pyro daemon answers at ``location`` (``host:port`` or ``./u:path``).

    A daemon that replies at all counts as alive, even if it refuses our
    handshake (another HMAC key, say): it is there, so its names must stay.
    """
    session = ClientSession(_SERPENT, hmac_key=hmac_key)
    try:
        conn, answer, _ = ProxyConnection.open(
            URI(f"PYRO:{DAEMON_NAME}@{location}"), session, "hello", False, None, timeout
        )
    except PyroError as exc:
        if isinstance(exc, SecurityError) or isinstance(exc.__cause__, SecurityError):
            return True  # it answered, signed with another key
        log.debug("autoclean: no connection to %s: %s", location, exc)
        return False
    if answer.type == MSG_CONNECTFAIL:
        log.debug("autoclean: %s refused the handshake but is alive", location)
        return True
    try:
        _seq, frames = session.invoke(_SERPENT.dumpsCall(DAEMON_NAME, "ping", (), {}))
        conn.send(frames)
        conn.receive()
        return True
    except SecurityError:
        return True
    except (PyroError, OSError) as exc:
        log.debug("autoclean: %s did not answer properly: %s", location, exc)
        return False
    finally:
        conn.close()


def _location(uri_text: str) -> Optional[str]:
    try:
        uri = URI(uri_text)
    except PyroError:
        return None
    return uri.location if uri.protocol == "PYRO" else None


class AutoCleaner:
    """Sweeps the registrations of a :class:`NameServer` every ``interval`` seconds in a thread."""

    def __init__(
        self,
        nameserver: NameServer,
        interval: float,
        grace: float = DEFAULT_GRACE,
        hmac_key: Callable[[], Optional[bytes]] = lambda: None,
        ping_timeout: float = PING_TIMEOUT,
    ) -> None:
        if interval <= 0:
            raise ValueError("the autoclean interval must be positive")
        self.nameserver = nameserver
        self.interval = float(interval)
        self.grace = float(grace)
        self.ping_timeout = ping_timeout
        self._hmac_key = hmac_key
        self.unreachable: dict[str, float] = {}  # name -> monotonic time it was first found unreachable
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="pyro-ns-autoclean", daemon=True)
        self._thread.start()
        log.info("autoclean every %g s (grace %g s)", self.interval, self.grace)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.ping_timeout + 5)
        self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sweep()
            except Exception:
                log.exception("autoclean sweep failed")

    def sweep(self) -> list[str]:
        """Ping every registration's daemon once; remove those unreachable for ``grace``. Returns removed names."""
        registrations = self._checkable_registrations()
        alive = self._ping_all({location for _, location in registrations.values()})
        now = time.monotonic()
        for name in set(self.unreachable) - set(registrations):
            del self.unreachable[name]
        removed = []
        for name, (uri, location) in registrations.items():
            if alive[location]:
                self.unreachable.pop(name, None)
                continue
            since = self.unreachable.setdefault(name, now)
            if now - since >= self.grace and self.nameserver._remove_if_unchanged(name, uri):
                log.info("autoclean: removed %s (%s): unreachable for %.0f s", name, uri, now - since)
                del self.unreachable[name]
                removed.append(name)
        return removed

    def _checkable_registrations(self) -> dict[str, tuple[str, str]]:
        """name -> (uri, location) for every registration that has a location to ping."""
        checkable = {}
        for name, uri in self.nameserver.list().items():
            location = _location(uri)
            if name != NAMESERVER_NAME and location is not None:
                checkable[name] = (uri, location)
        return checkable

    def _ping_all(self, locations: set[str]) -> dict[str, bool]:
        if not locations:
            return {}
        key = self._hmac_key()
        ordered = sorted(locations)
        with ThreadPoolExecutor(min(PING_WORKERS, len(ordered)), thread_name_prefix="pyro-ns-ping") as pool:
            results = pool.map(lambda loc: ping_daemon(loc, self.ping_timeout, key), ordered)
            return dict(zip(ordered, results))
