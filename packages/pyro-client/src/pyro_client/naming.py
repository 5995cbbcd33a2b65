"""Finding the name server (protocol 6.4, 6.5), resolving PYRONAME:/PYROMETA: uris (protocol 6.3), and
the type metadata a name-server client registers objects with."""

from __future__ import annotations

import errno
import functools
import logging
import random
import socket
import struct
import sys
import time
from typing import Any, Iterator, Optional, Union

from pyro_protocol import constants
from pyro_protocol.config import config
from pyro_protocol.errors import CommunicationError, NamingError, PyroError
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
#: Seconds each of several name servers gets to answer (connect, handshake, lookup) before
#: the next is tried, when COMMTIMEOUT is not set. A name server whose host is gone does
#: not refuse: without a bound, connecting to it waits for the system's SYN retries (minutes).
FAILOVER_TIMEOUT = 2.0
#: NS_HOST (or a locateNS host list) -> the place in it that answered last, tried first next time.
_last_good: dict[str, int] = {}


def locateNS(  # noqa: N802 - Pyro4's name
    host: Optional[str] = None,
    port: Optional[int] = None,
    broadcast: bool = True,
    hmac_key: Union[str, bytes, None] = None,
) -> Proxy:
    """A proxy for the name server: at ``host``/``port`` if given, else found the Pyro4 way
    (NS_HOST when it is local, then UDP broadcast, then NS_HOST:NS_PORT directly).

    ``host`` (and NS_HOST) may name several name servers, comma-separated
    (``"ns1, ns2:9091, [::1]:9090"``): they are tried in that order, the one that answered
    last first, each within ``COMMTIMEOUT`` (``FAILOVER_TIMEOUT`` when that is not set);
    several in NS_HOST are tried before the broadcast.

    NamingError if none of these answers; its message lists each place tried and why it failed.
    """
    search = _Search(hmac_key)
    for proxy in _nameservers(host, port, broadcast, search):
        if search.failover:
            proxy._pyroTimeout = config.COMMTIMEOUT  # the bound attempt is over: the usual timeout
        return proxy
    raise search.failure() from search.last_error


class _Search:
    """One locateNS run: binds name-server proxies and remembers why each place failed."""

    def __init__(self, hmac_key: Union[str, bytes, None]) -> None:
        self.hmac_key = hmac_key
        self.failures: list[str] = []
        self.last_error: Optional[BaseException] = None
        #: True when several name servers are configured: each gets a bounded attempt, and
        #: one that fails (also during a lookup) is a reason to try the next.
        self.failover = False

    def proxy(self, uri: str) -> Proxy:
        proxy = _nameserver_proxy(uri, self.hmac_key)
        if self.failover:
            proxy._pyroTimeout = config.COMMTIMEOUT or FAILOVER_TIMEOUT
        return proxy

    def bind(self, uri: str) -> Optional[Proxy]:
        """A connected proxy for ``uri``, or None (the reason noted) if it cannot connect."""
        proxy = self.proxy(uri)
        try:
            proxy._pyroBind()
            return proxy
        except PyroError as exc:
            proxy._pyroRelease()
            self.failed(proxy._pyroUri.location, str(exc), exc)
            return None

    def failed(self, where: str, why: str, error: Optional[BaseException] = None) -> None:
        self.failures.append(f"{where} ({why})")
        if error is not None:
            self.last_error = error

    def failure(self) -> NamingError:
        # Pyro4's message comes first: programs match on it
        return NamingError("Failed to locate the nameserver; tried " + "; ".join(self.failures))


def _nameservers(host: Optional[str], port: Optional[int], broadcast: bool, search: _Search) -> Iterator[Proxy]:
    """Name-server proxies in the order locateNS tries them (the failures noted in ``search``)."""
    configured = host is None
    text = config.NS_HOST if configured else host
    assert text is not None
    places = _locations(text)
    direct = None
    if len(places) > 1:
        search.failover = True
        yield from _each_listed(text, places, port, search)
    else:
        ns_host, ns_port = places[0]
        if configured:
            yield from _try_local_hosts(ns_host, ns_port or port or config.NS_PORT, search)
        # (Pyro4's direct try after the broadcast uses NS_PORT, whatever port was asked for)
        direct = _direct_uri(ns_host, ns_port or (None if configured else port) or config.NS_PORT)
    if configured and broadcast and int(config.PREFER_IP_VERSION) != 6:
        proxy = _broadcast_lookup(port or config.NS_BCPORT, search)
        if proxy is not None:
            yield proxy
    if direct is not None:
        proxy = search.bind(direct)
        if proxy is not None:
            yield proxy


def _each_listed(
    text: str, places: list[tuple[str, Optional[int]]], port: Optional[int], search: _Search
) -> Iterator[Proxy]:
    """Bound proxies for the listed name servers: the one that answered last, then the others in order."""
    preferred = _last_good.get(text, 0)
    order = [preferred] + [index for index in range(len(places)) if index != preferred]
    for index in order:
        ns_host, ns_port = places[index]
        proxy = search.bind(_direct_uri(ns_host, ns_port or port or config.NS_PORT))
        if proxy is not None:
            _last_good[text] = index
            yield proxy


def _locations(text: str) -> list[tuple[str, Optional[int]]]:
    """The name servers of an NS_HOST value: ``host``, ``host:port``, ``[ipv6]``, ``[ipv6]:port``,
    a bare IPv6 address or ``./u:/socket/path``, comma-separated; a port left out is None.

    One host without a port is kept exactly as written, as Pyro4 uses it.
    """
    items = [item.strip() for item in text.split(",") if item.strip()]
    if len(items) <= 1 and (not items or not _has_port(items[0])):
        return [(text, None)]
    return [_location(item, text) for item in items]


def _has_port(item: str) -> bool:
    if URI.isUnixsockLocation(item):
        return False
    return (item.startswith("[") and "]:" in item) or item.count(":") == 1


def _location(item: str, text: str) -> tuple[str, Optional[int]]:
    if not _has_port(item):
        return item.strip("[]"), None  # a name, an address (IPv6 too) or a unix socket
    host, _, port = item.rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536 or not host.strip("[]"):
        raise NamingError(
            f"invalid name server address {item!r} in {text!r}: use host, host:port or [ipv6]:port, comma-separated"
        )
    return host.strip("[]"), int(port)


def _try_local_hosts(ns_host: str, port: int, search: _Search) -> Iterator[Proxy]:
    if ns_host not in ("localhost", "::1") and not ns_host.startswith("127."):
        return
    if ":" in ns_host:
        hosts = [f"[{ns_host}]"]
    elif ns_host != _DEBIAN_HOST_ADDRESS and _debian_host_address_resolves():
        hosts = [ns_host, _DEBIAN_HOST_ADDRESS]
    else:
        hosts = [ns_host]
    for host in hosts:
        proxy = search.bind(f"PYRO:{constants.NAMESERVER_NAME}@{host}:{port}")
        if proxy is not None:
            yield proxy


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
    addresses = _broadcast_addresses()
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
                    # e.g. "<broadcast>" on a host without a default route: the others may work
                    send_errors[address] = exc.strerror or str(exc)
                    if exc.errno not in _IGNORED_SEND_ERRORS:
                        log.debug("cannot send a broadcast to %r: %s", address, exc)
            reply, ignored = _receive_reply(sock)
            junk += ignored
            if reply is not None:
                log.debug("located the name server by broadcast: %s", reply)
                return search.proxy(reply)
    log.debug("broadcast lookup found no name server, trying a direct connection")
    search.failed(f"broadcast to {', '.join(addresses)} port {port}", _silence(send_errors, junk))
    return None


def _broadcast_addresses() -> list[str]:
    """BROADCAST_ADDRS, where ``<broadcast>`` also stands for each interface's own broadcast address
    (255.255.255.255 needs a default route; a subnet's broadcast address needs none)."""
    addresses = config.parseAddressesString(config.BROADCAST_ADDRS)
    if "<broadcast>" in addresses:
        addresses += [address for address in _interface_broadcast_addresses() if address not in addresses]
    return addresses


#: Linux ioctls and interface flags (<linux/sockios.h>, <net/if.h>) for an interface's IPv4 addresses.
_SIOCGIFFLAGS, _SIOCGIFADDR, _SIOCGIFBRDADDR, _SIOCGIFNETMASK = 0x8913, 0x8915, 0x8919, 0x891B
_IFF_UP, _IFF_BROADCAST = 0x1, 0x2


def _interface_broadcast_addresses() -> list[str]:
    """The IPv4 broadcast address of each interface that is up and can broadcast (of its
    primary address). Linux only: elsewhere none (BROADCAST_ADDRS still applies)."""
    if not sys.platform.startswith("linux"):
        return []
    found = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _, name in socket.if_nameindex():
            try:
                address = _broadcast_address_of(sock, name)
            except OSError:
                continue  # no IPv4 address, or gone meanwhile
            if address is not None and address not in found:
                found.append(address)
    return found


def _broadcast_address_of(sock: socket.socket, name: str) -> Optional[str]:
    """The broadcast address of interface ``name``: the one configured, else address | ~netmask;
    None if it is down or cannot broadcast. OSError if it has no IPv4 address."""
    import fcntl  # (not on Windows)

    request = struct.pack("16s24x", name.encode()[:15])  # a struct ifreq

    def ipv4(code: int) -> int:  # the sockaddr_in address the kernel puts after the name
        return int.from_bytes(fcntl.ioctl(sock, code, request)[20:24], "big")

    (flags,) = struct.unpack_from("H", fcntl.ioctl(sock, _SIOCGIFFLAGS, request), 16)
    if flags & (_IFF_UP | _IFF_BROADCAST) != _IFF_UP | _IFF_BROADCAST:
        return None
    broadcast = ipv4(_SIOCGIFBRDADDR)
    if not broadcast:
        netmask = ipv4(_SIOCGIFNETMASK)
        if netmask >= 0xFFFFFFFE:
            return None  # a /31 or /32 address has no broadcast address
        broadcast = ipv4(_SIOCGIFADDR) | ~netmask & 0xFFFFFFFF
    if broadcast == 0xFFFFFFFF:
        return None  # "<broadcast>" itself
    return socket.inet_ntoa(broadcast.to_bytes(4, "big"))


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
    search = _Search(hmac_key)
    for nameserver in _nameservers(uri.host, uri.port, True, search):
        with nameserver:
            try:
                return _ask(nameserver, uri)
            except CommunicationError as exc:
                if not search.failover:
                    raise  # Pyro4's behaviour with one name server
                search.failed(nameserver._pyroUri.location, f"lookup failed: {exc}", exc)
    raise search.failure() from search.last_error


def _ask(nameserver: Proxy, uri: URI) -> URI:
    """What ``nameserver`` says a PYRONAME: or PYROMETA: uri stands for."""
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
