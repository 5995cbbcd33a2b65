"""Pyro4's ``socketutil`` helpers, with Pyro4 4.82's names and signatures.

Programs written for Pyro4 use these for their own sockets next to Pyro's (an extra
data channel, the address of the machine, a free port). The rules they share with
Pyro's own connections live in ``transport`` and are used from here: reading
exactly N bytes, TCP_NODELAY and the other socket options, TLS contexts.

As in Pyro4, the socket creating functions raise the ``socket`` module's errors
(``OSError`` and its subclasses); ``receiveData``/``sendData`` and
``SocketConnection`` raise Pyro's ``ConnectionClosedError`` and ``TimeoutError``.

Where this differs from Pyro4 4.82 on purpose:

- ``receiveData``/``sendData`` on a non-blocking socket wait in poll for the socket
  instead of sleeping and retrying, and give up with ``TimeoutError`` after
  ``COMMTIMEOUT`` seconds without progress (``transport.STALL_TIMEOUT`` when it is 0).
- ``getIpAddress(..., workaround127=True)`` on a machine without a route to the
  outside returns the loopback address it found instead of failing.
- ``getSSLcontext`` keeps one context per set of arguments (Pyro4 keeps the first
  one it made and returns it for any arguments).
"""

from __future__ import annotations

import errno
import os
import socket
import ssl
from typing import Any, Final, Optional, Union
from weakref import WeakSet

from . import transport
from .config import config
from .errors import CommunicationError

__all__ = [
    "ERRNO_RETRIES",
    "ERRNO_BADF",
    "ERRNO_ENOTSOCK",
    "ERRNO_EADDRNOTAVAIL",
    "ERRNO_EADDRINUSE",
    "getIpVersion",
    "getIpAddress",
    "getInterfaceAddress",
    "receiveData",
    "sendData",
    "createSocket",
    "createBroadcastSocket",
    "setReuseAddr",
    "setNoDelay",
    "setKeepalive",
    "setNoInherit",
    "SocketConnection",
    "family_str",
    "findProbablyUnusedPort",
    "bindOnUnusedPort",
    "interruptSocket",
    "getSSLcontext",
]


def _errnos(*names: str) -> frozenset[int]:
    """The errno values of these names that this platform has (the WSA ones exist on Windows only)."""
    return frozenset(getattr(errno, name) for name in names if hasattr(errno, name))


# Pyro4's errno groups, for programs that sort socket errors with them. (Our own loops
# catch BlockingIOError and InterruptedError, which Python raises for the first group.)
#: Errors after which a socket operation may simply be tried again.
ERRNO_RETRIES: Final = _errnos(
    "EINTR", "EAGAIN", "EWOULDBLOCK", "EINPROGRESS", "WSAEINTR", "WSAEWOULDBLOCK", "WSAEINPROGRESS"
)
#: The descriptor is not (or no longer) open.
ERRNO_BADF: Final = _errnos("EBADF", "WSAEBADF")
#: The descriptor is not a socket.
ERRNO_ENOTSOCK: Final = _errnos("ENOTSOCK", "WSAENOTSOCK")
#: The address to bind to is not one of this machine's.
ERRNO_EADDRNOTAVAIL: Final = _errnos("EADDRNOTAVAIL", "WSAEADDRNOTAVAIL")
#: The address is taken by another socket.
ERRNO_EADDRINUSE: Final = _errnos("EADDRINUSE", "WSAEADDRINUSE")

#: A public address whose route tells which interface faces the outside (workaround127).
#: Nothing is sent to it: connecting a UDP socket only picks the route.
_OUTSIDE_ADDRESS = "4.2.2.2"
_IP_VERSION_FAMILIES = {4: socket.AF_INET, 6: socket.AF_INET6, 0: socket.AF_UNSPEC}


class _DefaultTimeout:
    """The type of the "timeout not given" marker: the socket keeps the default timeout."""

    def __repr__(self) -> str:
        return "<socket default timeout>"


_GLOBAL_DEFAULT_TIMEOUT: Final = _DefaultTimeout()

_Timeout = Union[float, None, _DefaultTimeout]
_Address = Union[str, tuple[Any, ...], None]


# -- addresses -------------------------------------------------------------------------------------


def getIpVersion(hostnameOrAddress: Optional[str]) -> int:  # noqa: N802, N803 - Pyro4's names
    """4 or 6: the IP version of the address the host name (or address) resolves to."""
    address = getIpAddress(hostnameOrAddress)
    if ":" in address:  # checked first: an IPv4-mapped IPv6 address has dots as well
        return 6
    if "." in address:
        return 4
    raise CommunicationError(f"unknown IP address format: {address!r}")


def getIpAddress(hostname: Optional[str], workaround127: bool = False, ipVersion: Optional[int] = None) -> str:  # noqa: N802, N803
    """The IP address of ``hostname`` (this machine's name when empty).

    ``ipVersion``: 4 or 6 for that kind of address, 0 for whatever the system lists
    first, None for config.PREFER_IP_VERSION (0 when the host looks like an IPv6
    address). When no address of the wanted version exists, any version will do,
    but a wanted IPv6 address that does not exist is an error (socket.gaierror). ``workaround127``: if the address is
    a loopback (127.x) or 0.0.0.0 one, return the address of the interface that
    faces the outside instead (IPv4 only; the loopback address when there is none).
    """
    if ipVersion is None:
        version = 0 if hostname and ":" in hostname else int(config.PREFER_IP_VERSION)
    else:
        version = ipVersion
    if version not in _IP_VERSION_FAMILIES:
        source = "config.PREFER_IP_VERSION" if ipVersion is None else "argument ipVersion"
        raise ValueError(f"unknown value for {source}: {version!r} (use 4, 6 or 0)")
    host = hostname or socket.gethostname()
    try:
        address = _resolve(host, _IP_VERSION_FAMILIES[version])
    except socket.gaierror as exc:
        if version == 6:
            raise socket.gaierror(exc.errno, f"unable to determine an IPv6 address of {host!r}: {exc}") from None
        if version == 0:
            raise
        address = _resolve(host, socket.AF_UNSPEC)
    if workaround127 and (address.startswith("127.") or address == "0.0.0.0"):
        try:
            address = getInterfaceAddress(_OUTSIDE_ADDRESS)
        except OSError:
            pass  # no route out of this machine: the loopback address is the best there is
    return address


def _resolve(host: str, family: int) -> str:
    info = socket.getaddrinfo(host, 80, family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    return str(info[0][4][0])


def getInterfaceAddress(ip_address: str) -> str:  # noqa: N802
    """The address of this machine's interface that the route to ``ip_address`` leaves by."""
    family = socket.AF_INET if getIpVersion(ip_address) == 4 else socket.AF_INET6
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.connect((ip_address, 53))  # UDP: no packet is sent, the kernel only picks the route
        return str(sock.getsockname()[0])


# -- reading and writing ---------------------------------------------------------------------------


def receiveData(sock: socket.socket, size: int) -> bytes:  # noqa: N802
    """Exactly ``size`` bytes from the socket, never fewer.

    ConnectionClosedError when the peer closes first (the bytes that did come are in its
    ``partialData``) or the connection fails; TimeoutError when the socket times out.
    A non-blocking socket is waited for, see the module's notes.
    """
    return transport.recv_exactly(sock, size)


def sendData(sock: socket.socket, data: Union[bytes, bytearray, memoryview]) -> None:  # noqa: N802
    """Send all of ``data``. ConnectionClosedError when the connection fails, TimeoutError on a timeout."""
    if sock.gettimeout() == 0.0:
        # non-blocking: sendall could not say how much went out before the socket was full
        transport.send_waiting(sock, data, transport.stall_timeout())
    else:
        transport.send_frames(sock, (data,))


# -- making sockets --------------------------------------------------------------------------------


def createSocket(  # noqa: N802
    bind: _Address = None,
    connect: _Address = None,
    reuseaddr: bool = False,
    keepalive: bool = True,
    timeout: _Timeout = _GLOBAL_DEFAULT_TIMEOUT,
    noinherit: bool = False,
    ipv6: Optional[bool] = False,
    nodelay: bool = True,
    sslContext: Optional[ssl.SSLContext] = None,  # noqa: N803
) -> socket.socket:
    """A stream socket: listening on ``bind``, connected to ``connect``, or neither.

    An address is a (host, port) tuple, or a string: the path of a unix socket. Port 0
    binds a free port (``getsockname()`` tells which). ``ipv6``: True for IPv6, None to
    follow config.PREFER_IP_VERSION; the host's address decides otherwise. ``timeout``:
    seconds, None or 0 for blocking, not given for the socket module's default.
    With ``sslContext`` the socket speaks TLS (the server side when it binds).
    """
    if bind and connect:
        raise ValueError("bind and connect cannot both be specified at the same time")
    if isinstance(bind, str) or isinstance(connect, str):
        family: int = socket.AF_UNIX
    elif connect:
        family, connect = _ip_family(connect, ipv6, "connect")
    else:
        family, bind = _ip_family(bind, ipv6, "bind")
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if sslContext is not None:
            sock = _wrap(sslContext, sock, bind, connect)
        if nodelay:
            setNoDelay(sock)
        if reuseaddr:
            setReuseAddr(sock)
        if noinherit:
            setNoInherit(sock)
        if timeout == 0:
            timeout = None  # Pyro's timeouts: 0 means none
        if not isinstance(timeout, _DefaultTimeout):
            sock.settimeout(timeout)
        if bind:
            _bind(sock, bind)
            sock.listen(transport.LISTEN_BACKLOG)
        if connect:
            _connect(sock, connect)
        if keepalive:
            setKeepalive(sock)
    except BaseException:
        sock.close()
        raise
    return sock


def _ip_family(address: Any, ipv6: Optional[bool], argument: str) -> tuple[int, Any]:
    """The socket family for a (host, port) address, or for no address, and the address as
    that family wants it. ``ipv6``: True for IPv6, None to follow config.PREFER_IP_VERSION."""
    force_ipv6 = bool(ipv6) or (ipv6 is None and int(config.PREFER_IP_VERSION) == 6)
    if address and type(address) is not tuple:
        raise ValueError(f"unknown {argument} format: {address!r} (a (host, port) tuple or a unix socket path)")
    host = address[0] if address else None
    if not host:
        return (socket.AF_INET6 if force_ipv6 else socket.AF_INET), address
    if getIpVersion(host) == 6:
        return socket.AF_INET6, (host, address[1], 0, 0)
    if force_ipv6:
        raise ValueError(f"IPv4 address {host!r} in the {argument} argument, but IPv6 is asked for")
    return socket.AF_INET, address


def _wrap(context: ssl.SSLContext, sock: socket.socket, bind: _Address, connect: _Address) -> socket.socket:
    if bind:
        return context.wrap_socket(sock, server_side=True)
    hostname = connect[0] if isinstance(connect, tuple) else None
    return context.wrap_socket(sock, server_side=False, server_hostname=hostname)


def _bind(sock: socket.socket, address: Union[str, tuple[Any, ...]]) -> None:
    if isinstance(address, tuple) and address[1] == 0:
        bindOnUnusedPort(sock, address[0])
    else:
        sock.bind(address)


def _connect(sock: socket.socket, address: Union[str, tuple[Any, ...]]) -> None:
    """Connect; a non-blocking socket is waited for (COMMTIMEOUT, or STALL_TIMEOUT when it is 0)."""
    try:
        sock.connect(address)
        return
    except (BlockingIOError, InterruptedError):
        pass  # the connection is on its way
    timeout = transport.stall_timeout()
    if not transport.wait_ready(sock, transport.POLLOUT, timeout):
        raise socket.timeout(f"connecting to {address!r}: no answer in {timeout} s")
    failure = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if failure:
        raise OSError(failure, f"connecting to {address!r}: {os.strerror(failure)}")


def createBroadcastSocket(  # noqa: N802
    bind: Optional[tuple[Any, ...]] = None,
    reuseaddr: bool = False,
    timeout: _Timeout = _GLOBAL_DEFAULT_TIMEOUT,
    ipv6: Optional[bool] = False,
) -> socket.socket:
    """A UDP socket that may send broadcasts (IPv4), bound to ``bind`` (a (host, port) tuple) if given.

    Port 0 binds a free port. ``ipv6`` as for createSocket. ``timeout``: seconds, None
    for blocking, 0 for non-blocking (as in Pyro4), not given for the socket module's default.
    """
    family, bind = _ip_family(bind, ipv6, "bind")
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        if family == socket.AF_INET:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        if reuseaddr:
            setReuseAddr(sock)
        if not isinstance(timeout, _DefaultTimeout):
            sock.settimeout(timeout)
        if bind:
            if len(bind) not in (2, 4):
                raise ValueError(f"bind must be None, a 2-tuple or a 4-tuple, not {bind!r}")
            _bind(sock, (bind[0] or "", *bind[1:]))
    except BaseException:
        sock.close()
        raise
    return sock


def setReuseAddr(sock: socket.socket) -> None:  # noqa: N802
    """SO_REUSEADDR on the socket, where possible."""
    transport.set_reuseaddr(sock)


def setNoDelay(sock: socket.socket) -> None:  # noqa: N802
    """TCP_NODELAY on the socket (Nagle's algorithm off), where possible."""
    transport.set_nodelay(sock)


def setKeepalive(sock: socket.socket) -> None:  # noqa: N802
    """SO_KEEPALIVE on the socket, where possible."""
    transport.set_keepalive(sock)


def setNoInherit(sock: socket.socket) -> None:  # noqa: N802
    """Child processes do not inherit the socket (Python's default since 3.4; this makes sure)."""
    sock.set_inheritable(False)


def family_str(sock: socket.socket) -> str:
    """ "IPv4", "IPv6", "Unix", or "???" for another family."""
    family = sock.family
    if family == socket.AF_INET:
        return "IPv4"
    if family == socket.AF_INET6:
        return "IPv6"
    if family == getattr(socket, "AF_UNIX", None):
        return "Unix"
    return "???"


def findProbablyUnusedPort(family: int = socket.AF_INET, socktype: int = socket.SOCK_STREAM) -> int:  # noqa: N802
    """A port that was free a moment ago (another program may take it before you bind it)."""
    with socket.socket(family, socktype) as probe:
        return bindOnUnusedPort(probe)


def bindOnUnusedPort(sock: socket.socket, host: str = "localhost") -> int:  # noqa: N802
    """Bind the socket to a free port of ``host`` ("localhost": the loopback address of the
    socket's family) and return the port number."""
    exclusive = getattr(socket, "SO_EXCLUSIVEADDRUSE", None)  # Windows: nobody may bind the port after us
    if exclusive is not None and sock.type == socket.SOCK_STREAM:
        try:
            sock.setsockopt(socket.SOL_SOCKET, exclusive, 1)
        except OSError:
            pass
    if sock.family == socket.AF_INET:
        sock.bind(("127.0.0.1" if host == "localhost" else host, 0))
    elif sock.family == socket.AF_INET6:
        sock.bind(("::1" if host == "localhost" else host, 0, 0, 0))
    else:
        raise CommunicationError(f"unsupported socket family: {sock.family!r} (only IPv4 and IPv6 have ports)")
    return int(sock.getsockname()[1])


def interruptSocket(address: Union[str, tuple[Any, ...]]) -> None:  # noqa: N802
    """Connect to ``address``, send a few bytes and close: wakes up a server blocked in accept or
    receive there (for a clean shutdown). Connection errors are ignored."""
    try:
        with createSocket(connect=address, keepalive=False, timeout=None) as sock:
            try:
                sock.sendall(b"!" * 16)
            except OSError:
                pass
            transport.close_socket(sock)
    except OSError:
        pass


# -- TLS -------------------------------------------------------------------------------------------

_ssl_contexts: dict[tuple[Any, ...], ssl.SSLContext] = {}


def getSSLcontext(  # noqa: N802
    servercert: str = "",
    serverkey: str = "",
    clientcert: str = "",
    clientkey: str = "",
    cacerts: str = "",
    keypassword: str = "",
) -> ssl.SSLContext:
    """A TLS context: the server side when ``servercert`` is given, else the client side.

    The server asks for a client certificate when config.SSL_REQUIRECLIENTCERT is set.
    ``cacerts`` is a file or a folder of CA certificates to verify the peer with. The
    context is made once per set of arguments and reused. A missing certificate or key
    file is a FileNotFoundError naming it.
    """
    if servercert:
        if clientcert:
            raise ValueError("can't have both server cert and client cert")
        key: tuple[Any, ...] = (True, servercert, serverkey, keypassword, cacerts, bool(config.SSL_REQUIRECLIENTCERT))
    else:
        key = (False, clientcert, clientkey, keypassword, cacerts, False)
    context = _ssl_contexts.get(key)
    if context is None:
        context = _ssl_contexts[key] = transport.ssl_context(*key)
    return context


# -- a connection ----------------------------------------------------------------------------------


class SocketConnection:
    """A connected socket with Pyro's send/receive rules, and the state Pyro keeps per connection:
    ``pyroInstances`` (session-mode objects) and ``tracked_resources`` (closed along with it)."""

    def __init__(self, sock: socket.socket, objectId: Optional[str] = None, keep_open: bool = False) -> None:  # noqa: N803
        self.sock = sock
        self.objectId = objectId
        self.keep_open = keep_open
        self.pyroInstances: dict[Any, Any] = {}
        self.tracked_resources: WeakSet[Any] = WeakSet()

    def __del__(self) -> None:
        if "tracked_resources" in self.__dict__:  # else __init__ did not get to the end: nothing to close
            self.close()

    def __enter__(self) -> SocketConnection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def send(self, data: Union[bytes, bytearray, memoryview]) -> None:
        sendData(self.sock, data)

    def recv(self, size: int) -> bytes:
        return receiveData(self.sock, size)

    def close(self) -> None:
        """Close the socket and the tracked resources, and drop the session instances;
        a connection made with ``keep_open`` stays as it is."""
        if self.keep_open:
            return
        transport.close_socket(self.sock)
        self.pyroInstances.clear()
        for resource in list(self.tracked_resources):
            try:
                resource.close()
            except Exception:
                pass  # one resource failing to close must not keep the others open
        self.tracked_resources.clear()

    def fileno(self) -> int:
        return self.sock.fileno()

    def family(self) -> str:
        return family_str(self.sock)

    def setTimeout(self, timeout: Optional[float]) -> None:  # noqa: N802
        self.sock.settimeout(timeout)

    def getTimeout(self) -> Optional[float]:  # noqa: N802
        return self.sock.gettimeout()

    timeout = property(getTimeout, setTimeout)

    def getpeercert(self) -> Optional[dict[str, Any]]:
        """The peer's certificate on a TLS connection (None without TLS)."""
        if isinstance(self.sock, ssl.SSLSocket):
            return self.sock.getpeercert()
        return None
