"""Finding the name server (spec 6.4, 6.5) and resolving PYRONAME:/PYROMETA: uris (6.3)."""

from __future__ import annotations

import errno
import functools
import logging
import random
import socket
import time
from typing import Optional, Union

from pyro_protocol import constants
from pyro_protocol.config import config
from pyro_protocol.errors import NamingError, PyroError
from pyro_protocol.uri import URI

from .proxy import Proxy

__all__ = ["locateNS", "resolve"]

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
    (NS_HOST when it is local, then UDP broadcast, then NS_HOST:NS_PORT directly)."""
    if host is None:
        proxy = _try_local_hosts(port, hmac_key)
        if proxy is not None:
            return proxy
        if broadcast and int(config.PREFER_IP_VERSION) != 6:
            proxy = _broadcast_lookup(port or config.NS_BCPORT, hmac_key)
            if proxy is not None:
                return proxy
        host, port = config.NS_HOST, config.NS_PORT
    return _direct(host, port or config.NS_PORT, hmac_key)


def _try_local_hosts(port: Optional[int], hmac_key: Union[str, bytes, None]) -> Optional[Proxy]:
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
        proxy = _nameserver_proxy(
            f"PYRO:{constants.NAMESERVER_NAME}@{host}:{port or config.NS_PORT}",
            hmac_key,
        )
        try:
            proxy._pyroBind()
            return proxy
        except PyroError:
            proxy._pyroRelease()
    return None


@functools.lru_cache(maxsize=1)
def _debian_host_address_resolves() -> bool:
    """Debian-like systems map the host name to 127.0.1.1; then a name server may listen there."""
    try:
        socket.gethostbyaddr(_DEBIAN_HOST_ADDRESS)
        return True
    except OSError:
        return False


def _broadcast_lookup(port: int, hmac_key: Union[str, bytes, None]) -> Optional[Proxy]:
    """Ask for the name server uri with ``GET_NSURI`` datagrams; None if nobody answers."""
    addresses = [address.strip() for address in config.BROADCAST_ADDRS.split(",")]
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
                    if exc.errno not in _IGNORED_SEND_ERRORS:
                        log.debug("cannot send a broadcast to %r: %s", address, exc)
            reply = _receive_reply(sock)
            if reply is not None:
                log.debug("located the name server by broadcast: %s", reply)
                return _nameserver_proxy(reply, hmac_key)
    log.debug("broadcast lookup found no name server, trying a direct connection")
    return None


def _receive_reply(sock: socket.socket) -> Optional[str]:
    """The first datagram that is a valid uri within one round's timeout, as text."""
    deadline = time.monotonic() + BROADCAST_TIMEOUT
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        sock.settimeout(remaining)
        try:
            data, _ = sock.recvfrom(constants.BROADCAST_READ_SIZE)
        except TimeoutError:
            return None
        text = data.decode("iso-8859-1")
        try:
            URI(text)
            return text
        except PyroError:
            log.debug("ignoring a broadcast reply that is no uri: %r", text)


def _direct(host: str, port: int, hmac_key: Union[str, bytes, None]) -> Proxy:
    if URI.isUnixsockLocation(host):
        text = f"PYRO:{constants.NAMESERVER_NAME}@{host}"
    else:
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        text = f"PYRO:{constants.NAMESERVER_NAME}@{host}:{port}"
    proxy = _nameserver_proxy(text, hmac_key)
    try:
        proxy._pyroBind()
    except PyroError as exc:
        proxy._pyroRelease()
        raise NamingError("Failed to locate the nameserver") from exc
    return proxy


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
