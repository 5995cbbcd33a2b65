"""The gateway's side of Pyro: the name server, recent name lookups and idle proxies.

A request for ``/pyro/<name>/<method>`` needs the name's URI and a connected
proxy. Looking the name up and connecting (with its handshake) for every
request, as Pyro4's gateway does, costs two name-server round trips and a new
TCP connection per call. Here a lookup is kept for ``LOOKUP_LIFETIME`` seconds
and a connected proxy is put back after its call, to be reused by the next
request for the same object (one proxy serves one request at a time, so
concurrent requests get a proxy each).

The rules that keep Pyro4's behaviour:

- a proxy whose connection the server has closed (the server restarted, or
  dropped it) is never reused: an idle connection is checked before each use;
- a connection that fails while connecting to a cached lookup's URI (the
  object moved) gets a fresh lookup and one more try: nothing was sent yet, so
  trying again cannot run the call twice;
- a proxy that saw any error is closed, never put back.
"""

from __future__ import annotations

import contextlib
import select
import threading
import time
from collections.abc import Iterator
from typing import Any, Optional, Union

from pyro_client import CommunicationError, NamingError, Proxy, TimeoutError, locateNS
from pyro_protocol.serializers import JsonSerializer
from pyro_protocol.uri import URI

__all__ = ["Links", "RawReply", "LOOKUP_LIFETIME", "IDLE_LIFETIME", "IDLE_PER_OBJECT"]

#: Seconds a name lookup is reused. Short, so a name registered anew reaches its new object
#: within that time; long enough that a busy page or client does not ask per request.
LOOKUP_LIFETIME = 2.0
#: Seconds an unused connection is kept open. Pyro4's thread server gives every open
#: connection a worker thread of its pool, so idle ones must not be held for long.
IDLE_LIFETIME = 10.0
#: At most this many idle connections are kept per object (more concurrent requests
#: connect anew and close after their call), for the same reason.
IDLE_PER_OBJECT = 4
#: The pool's janitor closes expired idle connections this often (seconds).
_JANITOR_PERIOD = IDLE_LIFETIME / 2


class RawReply(Exception):
    """A reply's payload as the daemon wrote it (JSON bytes), not turned into Python objects.

    An exception class because the proxy raises whatever the serializer gives it for an
    exception reply; a normal reply is simply returned.
    """

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self.data = data


class _PassThroughJson(JsonSerializer):
    """Pyro's json serializer for what the proxy sends; what it receives stays JSON bytes.

    The gateway answers with the object's JSON as it came, as Pyro4's gateway does: a
    result or an exception of a class this process has never imported (``myapp.Error``)
    reaches the browser intact instead of failing to deserialize here.
    """

    def loads(self, data: bytes) -> Any:
        return RawReply(bytes(data))


_PASS_THROUGH = _PassThroughJson()


def _connection_is_dead(proxy: Proxy) -> bool:
    """True if an idle proxy's socket is closed or has unexpected data (both mean: don't reuse)."""
    sock = proxy._pyroConnection
    if sock is None:
        return True
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable)
    except (OSError, ValueError):
        return True


class Links:
    """Name lookups and pooled proxies, shared by all request threads of one gateway."""

    def __init__(
        self,
        ns_host: Optional[str],
        ns_port: Optional[int],
        hmac_key: Optional[bytes],
        timeout: float,
    ) -> None:
        self.ns_host = ns_host
        self.ns_port = ns_port
        self.hmac_key = hmac_key or None
        self.timeout = timeout
        self._lock = threading.Lock()
        self._ns_uri: Optional[URI] = None
        self._lookups: dict[str, tuple[URI, float]] = {}
        self._idle: dict[tuple[str, bool], list[tuple[float, Proxy]]] = {}
        self._closed = threading.Event()
        self._janitor: Optional[threading.Thread] = None

    # -- the name server -------------------------------------------------------------------

    def nameserver_uri(self) -> URI:
        """The name server's URI, located once (again after it was lost)."""
        uri = self._ns_uri
        if uri is None:
            try:
                with locateNS(self.ns_host, self.ns_port, hmac_key=self.hmac_key) as nameserver:
                    uri = nameserver._pyroUri
            except NamingError as exc:
                raise CommunicationError(f"cannot reach the name server: {exc}") from exc
            self._ns_uri = uri
        return uri

    def call_nameserver(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call a name server method; a lost name server is located once more before giving up."""
        try:
            with self.proxy(self.nameserver_uri()) as nameserver:
                return getattr(nameserver, method)(*args, **kwargs)
        except TimeoutError:
            raise  # it is there, but slow: asking again would only double the wait
        except CommunicationError:
            if self._ns_uri is None:
                raise
            self._ns_uri = None  # it may have restarted elsewhere
            with self.proxy(self.nameserver_uri()) as nameserver:
                return getattr(nameserver, method)(*args, **kwargs)

    def lookup(self, name: str, fresh: bool = False) -> tuple[URI, bool]:
        """(URI of ``name``, whether it came from the cache). NamingError for an unknown name."""
        now = time.monotonic()
        if not fresh:
            known = self._lookups.get(name)
            if known is not None and known[1] > now:
                return known[0], True
        uri = self.call_nameserver("lookup", name)
        if not isinstance(uri, URI):
            uri = URI(uri)
        self._lookups[name] = (uri, now + LOOKUP_LIFETIME)
        return uri, False

    @contextlib.contextmanager
    def object_proxy(self, name: str) -> Iterator[Proxy]:
        """A connected pass-through proxy for the object registered as ``name``."""
        uri, cached = self.lookup(name)
        try:
            proxy = self._acquire(uri, raw=True)
        except CommunicationError:
            if not cached:
                raise
            # the object may have moved: ask again, and try once more if it did
            self._lookups.pop(name, None)
            fresh, _ = self.lookup(name, fresh=True)
            proxy = self._acquire(fresh, raw=True)
        with self._lent(proxy, raw=True):
            yield proxy

    # -- the pool ------------------------------------------------------------------------

    @contextlib.contextmanager
    def proxy(self, uri: Union[URI, str], raw: bool = False) -> Iterator[Proxy]:
        """A connected proxy for ``uri``, returned to the pool after the block (closed after an error)."""
        proxy = self._acquire(URI(uri) if isinstance(uri, str) else uri, raw)
        with self._lent(proxy, raw):
            yield proxy

    @contextlib.contextmanager
    def _lent(self, proxy: Proxy, raw: bool) -> Iterator[None]:
        try:
            yield
        except BaseException:
            proxy._pyroRelease()
            raise
        self._give_back(proxy, raw)

    def _acquire(self, uri: URI, raw: bool) -> Proxy:
        key = (str(uri), raw)
        now = time.monotonic()
        with self._lock:
            idle = self._idle.get(key)
            while idle:
                expires, proxy = idle.pop()
                if expires > now and not _connection_is_dead(proxy):
                    return proxy
                proxy._pyroRelease()
        return self._connect(uri, raw)

    def _connect(self, uri: URI, raw: bool) -> Proxy:
        proxy = Proxy(uri)
        proxy._pyroHmacKey = self.hmac_key
        proxy._pyroTimeout = self.timeout
        proxy._pyroSerializer = "json"  # the gateway speaks JSON end to end
        try:
            proxy._pyroBind()  # connects, with the object's metadata in the handshake
            if not proxy._pyroMethods and not proxy._pyroAttrs:
                proxy._pyroGetMetadata()  # (METADATA is off: ask for it, the gateway needs it)
        except BaseException:
            proxy._pyroRelease()
            raise
        if raw:
            # Replies from now on stay JSON bytes (the metadata came with the handshake).
            # The proxy keeps this serializer while its configured name stays "json".
            proxy.__dict__["_pyro_ser"] = _PASS_THROUGH
        return proxy

    def _give_back(self, proxy: Proxy, raw: bool) -> None:
        if self._closed.is_set() or proxy._pyroConnection is None:
            proxy._pyroRelease()
            return
        key = (str(proxy._pyroUri), raw)
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) >= IDLE_PER_OBJECT:
                surplus: Optional[Proxy] = proxy
            else:
                idle.append((time.monotonic() + IDLE_LIFETIME, proxy))
                surplus = None
            if self._janitor is None:
                self._janitor = threading.Thread(target=self._sweep, name="pyro-httpgateway-janitor", daemon=True)
                self._janitor.start()
        if surplus is not None:
            surplus._pyroRelease()

    def _sweep(self) -> None:
        while not self._closed.wait(_JANITOR_PERIOD):
            self._close_idle(only_expired=True)

    def _close_idle(self, only_expired: bool) -> None:
        now = time.monotonic()
        closing: list[Proxy] = []
        with self._lock:
            for key, idle in list(self._idle.items()):
                keep = [(expires, proxy) for expires, proxy in idle if only_expired and expires > now]
                closing.extend(proxy for expires, proxy in idle if not (only_expired and expires > now))
                if keep:
                    self._idle[key] = keep
                else:
                    del self._idle[key]
        for proxy in closing:
            proxy._pyroRelease()

    def idle_count(self) -> int:
        """How many connected proxies wait in the pool (for tests and the curious)."""
        with self._lock:
            return sum(len(idle) for idle in self._idle.values())

    def close(self) -> None:
        """Close every pooled connection and stop the janitor; proxies in use are closed when returned."""
        self._closed.set()
        self._close_idle(only_expired=False)
        janitor = self._janitor
        if janitor is not None and janitor is not threading.current_thread():
            janitor.join(timeout=_JANITOR_PERIOD + 1.0)
