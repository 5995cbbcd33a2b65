"""The thin socket layer both ends share: connect, listen, read exactly N bytes,
send a message's frames in one go, TLS contexts. The protocol itself does no
I/O (message, decoder, session); this module and ``socketutil`` (Pyro4's
helpers built on these) are where sockets are touched in this package."""

from __future__ import annotations

import errno
import functools
import os
import select
import socket
import ssl
from typing import Any, Optional, Sequence, Union

from .config import Config, config
from .errors import CommunicationError, ConnectionClosedError, TimeoutError
from .uri import URI

__all__ = [
    "connect",
    "create_connection",
    "create_server_socket",
    "recv_exactly",
    "send_frames",
    "send_waiting",
    "wait_ready",
    "close_socket",
    "ssl_context",
    "client_ssl_context",
    "server_ssl_context",
    "tls_handshake_error",
    "handshake_failure",
    "set_nodelay",
    "set_keepalive",
    "set_reuseaddr",
    "TRY_AGAIN",
    "POLLIN",
    "POLLOUT",
    "STALL_TIMEOUT",
    "stall_timeout",
    "LISTEN_BACKLOG",
]

#: Payloads up to this size are read with one preallocated buffer; larger ones grow
#: as bytes arrive, so a lying size field cannot make us allocate what never comes.
_PREALLOCATE_LIMIT = 1024 * 1024
_WAITALL = getattr(socket, "MSG_WAITALL", 0)
LISTEN_BACKLOG = 100
#: What a socket raises when it has nothing to give (or take) right now: wait for it and try again.
TRY_AGAIN = (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError)
#: A non-blocking socket that makes no progress for this long gives up, when COMMTIMEOUT is 0
#: (so a stalled peer cannot hold a reader or writer for ever).
STALL_TIMEOUT = 60.0
_HAVE_POLL = hasattr(select, "poll")
POLLIN = getattr(select, "POLLIN", 1)
POLLOUT = getattr(select, "POLLOUT", 4)


def _timeout_value(timeout: Optional[float]) -> Optional[float]:
    return timeout if timeout else None


def set_nodelay(sock: socket.socket) -> None:
    """TCP_NODELAY on a TCP socket; a unix socket refuses it, which is fine.

    (Asked of the socket rather than checked against ``sock.family``: that property
    builds an enum on every use, and this runs for every connection.)
    """
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass


def set_keepalive(sock: socket.socket) -> None:
    """SO_KEEPALIVE, where the socket supports it."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    except OSError:
        pass


def set_reuseaddr(sock: socket.socket) -> None:
    """SO_REUSEADDR (a restarted server may bind its port again at once), where supported."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    except OSError:
        pass


def wait_ready(sock: Any, event: int, timeout: Optional[float], strict: bool = False) -> bool:
    """Wait until ``sock`` is ready for ``event`` (POLLIN or POLLOUT); False after ``timeout`` s.

    poll, not select: no limit on descriptor numbers (select only where poll is missing).
    True also when the socket is in error or closed (the next read or send says why);
    with ``strict``, a poll failure raises instead.
    """
    try:
        if not _HAVE_POLL:
            lists: tuple[list[Any], list[Any]] = ([sock], []) if event == POLLIN else ([], [sock])
            return any(select.select(lists[0], lists[1], [], timeout)[:2])
        poller = select.poll()
        poller.register(sock, event)
        return bool(poller.poll(None if timeout is None else timeout * 1000.0))
    except (OSError, ValueError):
        if strict:
            raise
        return True


def _wait_for_progress(sock: socket.socket, exc: OSError, writing: bool, timeout: float, doing: str) -> None:
    """After a TRY_AGAIN error: wait (poll) until the socket can go on; TimeoutError when it cannot in time."""
    if isinstance(exc, InterruptedError):
        return  # a signal came in: simply try again
    if isinstance(exc, (ssl.SSLWantReadError, ssl.SSLWantWriteError)):
        writing = isinstance(exc, ssl.SSLWantWriteError)  # TLS may need the other direction first
    try:
        ready = wait_ready(sock, POLLOUT if writing else POLLIN, timeout, strict=True)
    except (OSError, ValueError) as failure:
        raise ConnectionClosedError(f"{doing}: {failure}") from None
    if not ready:
        raise TimeoutError(f"{doing}: timeout (no progress for {timeout} s)")


def stall_timeout() -> float:
    """How long a non-blocking socket may make no progress: COMMTIMEOUT, or STALL_TIMEOUT when that is 0."""
    return float(config.COMMTIMEOUT) or STALL_TIMEOUT


def create_connection(
    host: str,
    port: int,
    timeout: Optional[float] = None,
    ssl_context: Optional[ssl.SSLContext] = None,
    server_hostname: Optional[str] = None,
) -> socket.socket:
    """TCP (v4 or v6) connection with TCP_NODELAY and keepalive; CommunicationError names the address."""
    family = _address_family(host)
    try:
        if family is None:
            sock = socket.create_connection((host, port), timeout=_timeout_value(timeout))
        else:
            sock = _connect_literal(family, host, port, timeout)
    except socket.timeout:
        raise TimeoutError(f"connecting to {host}:{port} timed out") from None
    except OSError as exc:
        raise CommunicationError(f"cannot connect to {host}:{port}: {exc.strerror or exc}") from None
    set_nodelay(sock)
    set_keepalive(sock)
    return _wrap_client(sock, ssl_context, server_hostname or host, f"{host}:{port}")


@functools.lru_cache(maxsize=256)
def _address_family(host: str) -> Optional[int]:
    """The family of an IP address literal; None for a name (or a scoped IPv6 address): resolve it."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
        except OSError:
            continue
        return family
    return None


def _connect_literal(family: int, host: str, port: int, timeout: Optional[float]) -> socket.socket:
    """Connect to an IP address as it is: no name lookup (the usual case: uris hold addresses)."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(_timeout_value(timeout))
        sock.connect((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def connect_unix(
    path: str, timeout: Optional[float] = None, ssl_context: Optional[ssl.SSLContext] = None
) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(_timeout_value(timeout))
    try:
        sock.connect(path)
    except socket.timeout:
        sock.close()
        raise TimeoutError(f"connecting to unix socket {path} timed out") from None
    except OSError as exc:
        sock.close()
        raise CommunicationError(f"cannot connect to unix socket {path}: {exc.strerror or exc}") from None
    return _wrap_client(sock, ssl_context, None, f"./u:{path}")


#: OpenSSL's reasons for a TLS handshake whose answer was not TLS at all (a plain server's reply).
_NOT_TLS_REASONS = frozenset({"WRONG_VERSION_NUMBER", "UNKNOWN_PROTOCOL", "HTTP_REQUEST", "PACKET_LENGTH_TOO_LONG"})


def _wrap_client(
    sock: socket.socket, ssl_context: Optional[ssl.SSLContext], hostname: Optional[str], where: str
) -> socket.socket:
    if ssl_context is None:
        return sock
    try:
        return ssl_context.wrap_socket(sock, server_hostname=hostname if ssl_context.check_hostname else None)
    except (ssl.SSLError, OSError) as exc:
        sock.close()
        raise tls_handshake_error(where, exc) from None


def handshake_failure(where: str, exc: BaseException, tls: bool) -> BaseException:
    """What a client raises when connecting to ``where`` and its handshake failed with ``exc``
    (``exc`` itself when it says enough; raise it ``from exc`` otherwise)."""
    if isinstance(exc, ConnectionClosedError) and not tls:
        # Pyro daemons answer every handshake; one that hangs up at once is likely a TLS server
        return ConnectionClosedError(
            f"cannot connect to {where}: the server closed the connection without answering "
            f"the handshake ({exc}); it may require TLS (config SSL)"
        )
    if isinstance(exc, CommunicationError) or not isinstance(exc, Exception):
        return exc
    return CommunicationError(f"cannot connect to {where}: {exc}")


def tls_handshake_error(where: str, exc: BaseException) -> CommunicationError:
    """The error for a client's failed TLS handshake, with a hint when the server does not speak TLS."""
    hint = ""
    if getattr(exc, "reason", None) in _NOT_TLS_REASONS:
        hint = "the server does not speak TLS (it answered with non-TLS data; turn config SSL off for it): "
    return CommunicationError(f"TLS handshake with {where} failed: {hint}{exc}")


def connect(uri: URI, timeout: Optional[float] = None, ssl_context: Optional[ssl.SSLContext] = None) -> socket.socket:
    """Open a connection to the location of a ``PYRO:`` uri."""
    if uri.sockname:
        return connect_unix(uri.sockname, timeout, ssl_context)
    if not uri.host or uri.port is None:
        raise CommunicationError(f"uri {uri} has no location to connect to")
    return create_connection(uri.host, uri.port, timeout, ssl_context)


def close_socket(sock: Optional[socket.socket]) -> None:
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except (OSError, ValueError):
        pass
    try:
        sock.close()
    except OSError:
        pass


def recv_exactly(sock: socket.socket, size: int, stall: Optional[float] = None) -> bytes:
    """Read exactly ``size`` bytes. ConnectionClosedError on EOF (what came is in its ``partialData``),
    TimeoutError on a timeout. A non-blocking socket is waited for (poll) at most ``stall`` s
    each time (default :func:`stall_timeout`), see ``recv_chunks``."""
    try:
        first = b""
        if size <= _PREALLOCATE_LIMIT:
            try:
                first = sock.recv(size)
            except TRY_AGAIN:
                pass  # nothing there yet (a non-blocking socket): recv_chunks waits for it
            else:
                if len(first) == size:
                    return first
                if not first:
                    raise connection_lost(b"")
        return recv_chunks(sock, size - len(first), first, stall)
    except socket.timeout:
        raise TimeoutError("receiving: timeout") from None
    except (ConnectionResetError, BrokenPipeError, ConnectionAbortedError) as exc:
        raise ConnectionClosedError(f"receiving: connection lost: {exc}") from None
    except ssl.SSLError as exc:
        raise ConnectionClosedError(f"receiving: TLS error: {exc}") from None
    except OSError as exc:
        if exc.errno in (errno.EBADF, errno.ENOTCONN):
            raise ConnectionClosedError(f"receiving: socket closed: {exc}") from None
        raise ConnectionClosedError(f"receiving: {exc}") from None


def connection_lost(received: bytes) -> ConnectionClosedError:
    """The error for a peer that closed before a read was complete, with what did come (as Pyro4 has it)."""
    error = ConnectionClosedError("receiving: connection lost")
    error.partialData = received
    return error


def recv_chunks(sock: socket.socket, size: int, first: bytes = b"", stall: Optional[float] = None) -> bytes:
    """``first`` followed by ``size`` more bytes from the socket, as one bytes object.

    Reads in chunks of at most _PREALLOCATE_LIMIT (so memory follows the bytes that
    arrive, never a size field) and joins them once: one copy beyond the kernel's.
    A blocking socket reads with MSG_WAITALL (unless config.USE_MSG_WAITALL is off);
    a non-blocking one waits in poll whenever it has nothing, for at most COMMTIMEOUT
    (STALL_TIMEOUT when that is 0), or ``stall`` s, each time. The caller translates socket errors.
    """
    chunks = [first] if first else []
    blocking = sock.gettimeout() is None
    waitall = _WAITALL if blocking and config.USE_MSG_WAITALL and not isinstance(sock, ssl.SSLSocket) else 0
    remaining = size
    while remaining:
        try:
            chunk = sock.recv(min(remaining, _PREALLOCATE_LIMIT), waitall)
        except TRY_AGAIN as exc:
            _wait_for_progress(sock, exc, False, stall_timeout() if stall is None else stall, "receiving")
            continue
        if not chunk:
            raise connection_lost(b"".join(chunks))
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def send_frames(sock: socket.socket, frames: Sequence[Union[bytes, bytearray, memoryview]]) -> None:
    """Send a message given as frames (what ``message.encode`` returns) on a blocking socket:
    one system call where the socket takes them all; a large frame is never copied."""
    try:
        if len(frames) == 1:
            sock.sendall(frames[0])
        elif hasattr(sock, "sendmsg") and not isinstance(sock, ssl.SSLSocket):
            _sendmsg_all(sock, [memoryview(frame) for frame in frames])
        else:
            for frame in frames:
                if frame:
                    sock.sendall(frame)
    except socket.timeout:
        raise TimeoutError("sending: timeout") from None
    except (OSError, ValueError) as exc:
        raise ConnectionClosedError(f"sending: connection lost: {exc}") from None


def _sendmsg_all(sock: socket.socket, parts: list[Union[bytes, memoryview]]) -> None:
    views = [memoryview(part) for part in parts if len(part)]
    while views:
        sent = sock.sendmsg(views)
        while views and sent >= len(views[0]):
            sent -= len(views[0])
            views.pop(0)
        if views and sent:
            views[0] = views[0][sent:]


def send_waiting(
    sock: socket.socket, data: Union[bytes, bytearray, memoryview], timeout: float, doing: str = "sending"
) -> None:
    """Send all of ``data`` on a non-blocking socket (where sendall cannot say how much went out):
    send what the socket takes, wait (poll) while it is full. ConnectionClosedError when the
    peer is gone, TimeoutError after ``timeout`` s without progress. ``doing`` starts the messages."""
    with memoryview(data) as whole, whole.cast("B") as view:
        sent = 0
        while sent < len(view):
            try:
                sent += sock.send(view[sent:])
            except TRY_AGAIN as exc:
                _wait_for_progress(sock, exc, True, timeout, doing)
            except (OSError, ValueError) as exc:
                raise ConnectionClosedError(f"{doing}: connection lost: {exc}") from None


def create_server_socket(
    host: Optional[str] = None,
    port: int = 0,
    unixsocket: Optional[str] = None,
    reuse: bool = True,
    ipv6: Optional[bool] = None,
) -> socket.socket:
    """A listening socket on (host, port) or a unix socket path; ``port=0`` picks a free port."""
    if unixsocket:
        if os.path.exists(unixsocket):
            os.remove(unixsocket)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # A file socket is bound and listening under a temporary name, then renamed: once the
        # path exists, connecting to it works (between bind and listen a client would be refused).
        # An abstract one (a name starting with a NUL byte, Linux) has no file to rename.
        abstract = unixsocket.startswith("\0")
        temporary = unixsocket if abstract else f"{unixsocket}.{os.getpid()}.tmp"
        try:
            sock.bind(temporary)
            sock.listen(LISTEN_BACKLOG)
            if not abstract:
                os.replace(temporary, unixsocket)
        except OSError as exc:
            sock.close()
            if not abstract and os.path.exists(temporary):
                os.remove(temporary)
            raise CommunicationError(f"cannot listen on unix socket {unixsocket}: {exc.strerror or exc}") from None
        return sock
    host = host or config.HOST
    family = _server_family(host, ipv6)
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if reuse:
            set_reuseaddr(sock)
        address: Any = _bind_address(host, port, family)
        sock.bind(address)
        sock.listen(LISTEN_BACKLOG)
    except OSError as exc:
        sock.close()
        raise CommunicationError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def _server_family(host: str, ipv6: Optional[bool]) -> socket.AddressFamily:
    if ipv6 is not None:
        return socket.AF_INET6 if ipv6 else socket.AF_INET
    if ":" in host:
        return socket.AF_INET6
    if host in ("", "0.0.0.0"):
        return socket.AF_INET
    prefer = int(config.PREFER_IP_VERSION)
    wanted = {4: socket.AF_INET, 6: socket.AF_INET6}.get(prefer, socket.AF_UNSPEC)
    try:
        infos = socket.getaddrinfo(host, None, wanted, socket.SOCK_STREAM)
    except socket.gaierror:
        infos = socket.getaddrinfo(host, None, socket.AF_UNSPEC, socket.SOCK_STREAM)
    return infos[0][0]


def _bind_address(host: str, port: int, family: socket.AddressFamily) -> Any:
    info = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM, 0, socket.AI_PASSIVE)
    return info[0][4]


def ssl_context(
    server_side: bool,
    certfile: str = "",
    keyfile: str = "",
    password: str = "",
    cacerts: str = "",
    require_client_cert: bool = False,
) -> ssl.SSLContext:
    """A TLS context from file names; empty strings mean "not given".

    A client verifies the server against ``cacerts`` (a file, or a folder of hashed
    certificates; the system store when empty) and checks the host name; it shows
    ``certfile`` when the server asks for one. A server shows ``certfile`` (``keyfile``
    when the key is apart) and, with ``require_client_cert``, wants a client certificate
    signed by ``cacerts``. A missing certificate or key file is a FileNotFoundError that
    says which file it is.
    """
    for role, path in (("certificate", certfile), ("key", keyfile)):
        if path and not os.path.isfile(path):
            side = "server" if server_side else "client"
            raise FileNotFoundError(errno.ENOENT, f"{side} {role} file not found", path)
    cafile = capath = None
    if cacerts:
        if os.path.isdir(cacerts):
            capath = cacerts
        else:
            cafile = cacerts
    purpose = ssl.Purpose.CLIENT_AUTH if server_side else ssl.Purpose.SERVER_AUTH
    context = ssl.create_default_context(purpose, cafile=cafile, capath=capath)
    if certfile:
        context.load_cert_chain(certfile, keyfile or None, password or None)
    if server_side and require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def client_ssl_context(cfg: Config = config) -> ssl.SSLContext:
    """Client TLS: verifies the server against SSL_CACERTS (or the system store), with hostname checks."""
    return ssl_context(False, cfg.SSL_CLIENTCERT, cfg.SSL_CLIENTKEY, cfg.SSL_CLIENTKEYPASSWD, cfg.SSL_CACERTS)


def server_ssl_context(cfg: Config = config) -> ssl.SSLContext:
    """Server TLS from SSL_SERVERCERT/KEY; with SSL_REQUIRECLIENTCERT, clients need a cert signed by SSL_CACERTS."""
    if not cfg.SSL_SERVERCERT:
        raise CommunicationError("SSL is on but SSL_SERVERCERT is not set")
    return ssl_context(
        True,
        cfg.SSL_SERVERCERT,
        cfg.SSL_SERVERKEY,
        cfg.SSL_SERVERKEYPASSWD,
        cfg.SSL_CACERTS,
        bool(cfg.SSL_REQUIRECLIENTCERT),
    )
