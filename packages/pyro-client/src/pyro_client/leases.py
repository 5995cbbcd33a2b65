"""Registrations that live only as long as their owner: :class:`LeaseKeeper`.

A keeper registers names in the name server with a lease (seconds) and renews them in a
background thread, a few times per lease, until it is stopped. If its process dies (or
is cut off), the renewals stop and the name server forgets the names when the lease
runs out; no one has to ping anything. A name the name server no longer has (it expired
while the name server was unreachable, or a name server with a volatile store
restarted) is registered again on the next renewal, unless someone else has registered
it meanwhile.

Leases are an extension of our name server (``pyro_naming``): a Pyro4 name server
refuses a ``lease`` argument.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterable
from typing import Optional, Union

from pyro_protocol.errors import NamingError, PyroError
from pyro_protocol.uri import URI

from .naming import locateNS
from .proxy import Proxy

__all__ = ["LeaseKeeper", "RENEWALS_PER_LEASE"]

log = logging.getLogger("pyro.client.leases")

#: Renewals per lease: two in a row may fail (a slow or restarting name server) before a
#: name expires.
RENEWALS_PER_LEASE = 3
#: Seconds stop() waits for a renewal under way to finish.
STOP_TIMEOUT = 10.0


class LeaseKeeper:
    """Registers names with a ``lease`` (seconds) and renews them until :meth:`stop`.

    ``nameserver`` is the name server's URI (``PYRO:Pyro.NameServer@host:port``); None
    finds it with :func:`locateNS` (again after each connection failure). ::

        with LeaseKeeper(30) as keeper:
            keeper.register("my.service", daemon.register(service))
            daemon.requestLoop()
    """

    def __init__(
        self,
        lease: float,
        nameserver: Union[str, URI, None] = None,
        hmac_key: Union[str, bytes, None] = None,
    ) -> None:
        if isinstance(lease, bool) or not isinstance(lease, (int, float)) or not (math.isfinite(lease) and lease > 0):
            raise ValueError(f"lease must be a positive number of seconds, got {lease!r}")
        self.lease = float(lease)
        #: seconds between renewals
        self.interval = self.lease / RENEWALS_PER_LEASE
        self._nameserver = nameserver
        self._hmac_key = hmac_key
        self._registrations: dict[str, tuple[str, Optional[list[str]]]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._proxy: Optional[Proxy] = None  # the renewal thread's own

    @property
    def names(self) -> list[str]:
        """The names this keeper renews."""
        with self._lock:
            return sorted(self._registrations)

    def register(
        self, name: str, uri: Union[str, URI], metadata: Optional[Iterable[str]] = None, safe: bool = False
    ) -> None:
        """Register ``name`` for ``uri`` now (the name server's errors are raised here), then
        keep it registered. ``safe``: refuse a name that is already registered."""
        if self._stopping.is_set():
            raise PyroError("this LeaseKeeper has been stopped")
        text = uri.asString() if isinstance(uri, URI) else str(uri)
        tags = None if metadata is None else sorted(metadata)
        with self._connect() as nameserver:
            nameserver.register(name, text, safe=safe, metadata=tags, lease=self.lease)
        with self._lock:
            self._registrations[name] = (text, tags)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="pyro-lease-keeper", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        """Stop renewing (the names expire when their lease runs out). Idempotent."""
        self._stopping.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=STOP_TIMEOUT)

    def __enter__(self) -> LeaseKeeper:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _connect(self) -> Proxy:
        if self._nameserver is None:
            return locateNS(hmac_key=self._hmac_key)
        proxy = Proxy(self._nameserver)
        proxy._pyroHmacKey = self._hmac_key
        return proxy

    def _run(self) -> None:
        try:
            while not self._stopping.wait(self.interval):
                self._renew()
        finally:
            self._drop_proxy()

    def _renew(self) -> None:
        """One round: renew every name; register again those the name server no longer has."""
        with self._lock:
            registrations = dict(self._registrations)
        try:
            if self._proxy is None:
                self._proxy = self._connect()
                self._proxy._pyroTimeout = self.interval  # a round never outlasts its interval much
            missing = self._proxy.renew({name: uri for name, (uri, _) in registrations.items()})
            for name in missing:
                uri, tags = registrations[name]
                try:
                    self._proxy.register(name, uri, safe=True, metadata=tags, lease=self.lease)
                    log.info("lease keeper: %s had expired, registered it again", name)
                except NamingError as exc:
                    log.warning("lease keeper: cannot register %s again: %s", name, exc)
        except PyroError as exc:
            log.warning("lease keeper: renewing failed (retrying in %.3g s): %s", self.interval, exc)
            self._drop_proxy()

    def _drop_proxy(self) -> None:
        proxy, self._proxy = self._proxy, None
        if proxy is not None:
            proxy._pyroRelease()
