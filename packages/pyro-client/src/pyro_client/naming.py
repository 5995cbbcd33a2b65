"""Finding the name server (spec 6.4, 6.5), resolving PYRONAME:/PYROMETA: uris (6.3), and
the type metadata a name-server client registers objects with."""

from __future__ import annotations

import errno
import functools
import logging
import random
import socket
import time
from typing import Any, Optional, Union

from pyro_protocol import constants
from pyro_protocol.config import config
from pyro_protocol.errors import NamingError, PyroError
from pyro_protocol.uri import URI

from .proxy import Proxy

__all__ = ["locateNS", "resolve", "type_meta"]

log = logging.getLogger("pyro.client.naming")

#: Seconds to wait for a broadcast answer per round, and the number of rounds (Pyro4's values).
BROADCAST_TIMEOUT = 0.7
BROADCAST_ROUNDS = 3
#: Send errors that only mean "this broadcast address does not work here".
_IGNORED_SEND_ERRORS = frozenset({errno.EADDRNOTAVAIL, errno.EADDRINUSE, errno.ENETUNREACH, errno.EHOSTUNREACH})
_DEBIAN_HOST_ADDRESS = "127.0.1.1"


def locateNS(  # noqa: N802 - Pyro4's name
    host: Optional[str] = None,
    port: Optional[int] = None,
    broadcast: bool = True,
    hmac_key: Union[str, bytes, None] = None,
) -> Proxy:
    """A proxy for the name server: at ``host``/``port`` if given, else found the Pyro4 way
    (NS_HOST when it is local, then UDP broadcast, then NS_HOST:NS_PORT directly).

    NamingError if none of these answers; its message lists each place tried and why it failed.
    """
    search = _Search(hmac_key)
    if host is None:
        proxy = _try_local_hosts(port, search)
        if proxy is not None:
            return proxy
        if broadcast and int(config.PREFER_IP_VERSION) != 6:
            proxy = _broadcast_lookup(port or config.NS_BCPORT, search)
            if proxy is not None:
                return proxy
        host, port = config.NS_HOST, config.NS_PORT
    proxy = search.bind(_direct_uri(host, port or config.NS_PORT))
    if proxy is None:
        raise search.failure() from search.last_error
    return proxy


class _Search:
    """One locateNS run: binds name-server proxies and remembers why each place failed."""

    def __init__(self, hmac_key: Union[str, bytes, None]) -> None:
        self.hmac_key = hmac_key
        self.failures: list[str] = []
        self.last_error: Optional[BaseException] = None

    def bind(self, uri: str) -> Optional[Proxy]:
        """A connected proxy for ``uri``, or None (the reason noted) if it cannot connect."""
        proxy = _nameserver_proxy(uri, self.hmac_key)
        try:
            proxy._pyroBind()
            return proxy
        except PyroError as exc:
            proxy._pyroRelease()
            self.failed(proxy._pyroUri.location, str(exc))
            self.last_error = exc
            return None

    def failed(self, where: str, why: str) -> None:
        self.failures.append(f"{where} ({why})")

    def failure(self) -> NamingError:
        # Pyro4's message comes first: programs match on it
        return NamingError("Failed to locate the nameserver; tried " + "; ".join(self.failures))


def _try_local_hosts(port: Optional[int], search: _Search) -> Optional[Proxy]:
    ns_host = config.NS_HOST
    if ns_host not in ("localhost", "::1") and not ns_host.startswith("127."):
        return None
    if ":" in ns_host:
        hosts = [f"[{ns_host}]"]
    elif ns_host != _DEBIAN_HOST_ADDRESS and _debian_host_address_resolves():
        hosts = [ns_host, _DEBIAN_HOST_ADDRESS]
    else:
        hosts = [ns_host]
    for host in hosts:
        proxy = search.bind(f"PYRO:{constants.NAMESERVER_NAME}@{host}:{port or config.NS_PORT}")
        if proxy is not None:
            return proxy
    return None


@functools.lru_cache(maxsize=1)
def _debian_host_address_resolves() -> bool:
    """Debian-like systems map the host name to 127.0.1.1; then a name server may listen there."""
    try:
        socket.gethostbyaddr(_DEBIAN_HOST_ADDRESS)
        return True
    except OSError:
        return False


def _broadcast_lookup(port: int, search: _Search) -> Optional[Proxy]:
    """Ask for the name server uri with ``GET_NSURI`` datagrams; None if nobody answers."""
    addresses = config.parseAddressesString(config.BROADCAST_ADDRS)
    send_errors: dict[str, str] = {}
    junk = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        if config.SOCK_REUSE:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.settimeout(BROADCAST_TIMEOUT)
        for _ in range(BROADCAST_ROUNDS):
            for address in addresses:
                try:
                    sock.sendto(constants.BROADCAST_REQUEST, (address, port))
                except OSError as exc:
                    # e.g. "<broadcast>" on a host without a broadcast route: try the others
                    send_errors[address] = exc.strerror or str(exc)
                    if exc.errno not in _IGNORED_SEND_ERRORS:
                        log.debug("cannot send a broadcast to %r: %s", address, exc)
            reply, ignored = _receive_reply(sock)
            junk += ignored
            if reply is not None:
                log.debug("located the name server by broadcast: %s", reply)
                return _nameserver_proxy(reply, search.hmac_key)
    log.debug("broadcast lookup found no name server, trying a direct connection")
    search.failed(f"broadcast to {', '.join(addresses)} port {port}", _silence(send_errors, junk))
    return None


def _silence(send_errors: dict[str, str], junk: int) -> str:
    """Why a broadcast lookup found nothing, in words."""
    why = [f"no answer in {BROADCAST_ROUNDS} rounds of {BROADCAST_TIMEOUT:g} s"]
    if junk:
        why.append(f"{junk} invalid answer{'s' if junk > 1 else ''} ignored")
    why.extend(f"sending to {address} failed: {error}" for address, error in send_errors.items())
    return ", ".join(why)


def _receive_reply(sock: socket.socket) -> tuple[Optional[str], int]:
    """The first datagram that is a valid uri within one round's timeout, as text (None if
    there was none), and the number of other datagrams ignored meanwhile."""
    deadline = time.monotonic() + BROADCAST_TIMEOUT
    ignored = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None, ignored
        sock.settimeout(remaining)
        try:
            data, _ = sock.recvfrom(constants.BROADCAST_READ_SIZE)
        except TimeoutError:
            return None, ignored
        text = data.decode("iso-8859-1")
        try:
            URI(text)
            return text, ignored
        except PyroError:
            ignored += 1
            log.debug("ignoring a broadcast reply that is no uri: %r", text)


def _direct_uri(host: str, port: int) -> str:
    if URI.isUnixsockLocation(host):
        return f"PYRO:{constants.NAMESERVER_NAME}@{host}"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"PYRO:{constants.NAMESERVER_NAME}@{host}:{port}"


def _nameserver_proxy(uri: str, hmac_key: Union[str, bytes, None]) -> Proxy:
    proxy = Proxy(uri)
    proxy._pyroHmacKey = hmac_key
    return proxy


def resolve(uri: Union[str, URI], hmac_key: Union[str, bytes, None] = None) -> URI:
    """The PYRO: uri a PYRONAME: or PYROMETA: uri stands for (asking the name server);
    a PYRO: uri is returned as it is."""
    if isinstance(uri, str):
        uri = URI(uri)
    elif not isinstance(uri, URI):
        raise TypeError("can only resolve Pyro URIs")
    if uri.protocol == "PYRO":
        return uri
    log.debug("resolving %s", uri)
    with locateNS(uri.host, uri.port, hmac_key=hmac_key) as nameserver:
        if uri.protocol == "PYRONAME":
            found = nameserver.lookup(uri.object)
            return found if isinstance(found, URI) else URI(found)
        candidates = nameserver.list(metadata_all=set(uri.object))
    if not candidates:
        raise NamingError(f"no registrations available with desired metadata properties {set(uri.object)}")
    return URI(random.choice(list(candidates.values())))


def type_meta(class_or_object: Any, prefix: str = "class:") -> set[str]:
    """Name-server metadata naming a class (or an object's class) and each of its bases, as
    ``prefix + "module.ClassName"``; builtins (``object``...) are left out.

    Register an object with it, and ``PYROMETA:class:mymodule.Base`` finds it by type.
    The prefix is Pyro4's ("class:"), so Pyro4 programs find what ours register and back.
    """
    cls = class_or_object if isinstance(class_or_object, type) else type(class_or_object)
    return {f"{prefix}{c.__module__}.{c.__name__}" for c in cls.__mro__ if c.__module__ != "builtins"}
