"""Fixed names and numbers of the Pyro4 4.82 protocol, and the one size rule of how we send messages."""

from __future__ import annotations

__all__ = [
    "PYRO4_VERSION",
    "VERSION",
    "PROTOCOL_VERSION",
    "DAEMON_NAME",
    "NAMESERVER_NAME",
    "FLAME_NAME",
    "RESERVED_OBJECT_IDS",
    "DEFAULT_NS_PORT",
    "DEFAULT_NS_BCPORT",
    "BROADCAST_REQUEST",
    "BROADCAST_READ_SIZE",
    "WIRE_CLASS_URI",
    "WIRE_CLASS_PROXY",
    "WIRE_CLASS_DAEMON",
    "WIRE_CLASS_EXCEPTION_WRAPPER",
    "WIRE_ERRORS_MODULE",
]

#: Pyro4 release whose wire format (and client-visible behaviour) we speak.
PYRO4_VERSION = "4.82"
#: Pyro4's name for it (``Pyro4.constants.VERSION``): the Pyro4 API these packages offer.
VERSION = PYRO4_VERSION
#: Protocol version number in every message header.
PROTOCOL_VERSION = 48

#: Object id of every daemon's own object (:class:`pyro_server.DaemonObject`).
DAEMON_NAME = "Pyro.Daemon"
#: Object id and registered name of the name server.
NAMESERVER_NAME = "Pyro.NameServer"
#: Object id of a Flame server.
FLAME_NAME = "Pyro.Flame"
#: Ids that only Pyro itself registers.
RESERVED_OBJECT_IDS = frozenset({DAEMON_NAME, NAMESERVER_NAME, FLAME_NAME})

#: TCP port of the name server and UDP port of its broadcast responder, unless configured.
DEFAULT_NS_PORT = 9090
DEFAULT_NS_BCPORT = 9091

#: The exact datagram a client broadcasts to find a name server.
BROADCAST_REQUEST = b"GET_NSURI"
#: Pyro4 reads broadcast datagrams with a buffer of this size.
BROADCAST_READ_SIZE = 100

#: Class names that appear inside serialized data (they must be Pyro4's).
WIRE_CLASS_URI = "Pyro4.core.URI"
WIRE_CLASS_PROXY = "Pyro4.core.Proxy"
WIRE_CLASS_DAEMON = "Pyro4.core.Daemon"
WIRE_CLASS_EXCEPTION_WRAPPER = "Pyro4.futures._ExceptionWrapper"
WIRE_ERRORS_MODULE = "Pyro4.errors"

#: A message smaller than this goes out as one bytes object, header and payload joined (copying a
#: few KiB costs less than a second system call); from this size on, the payload is sent as a
#: buffer of its own, and a large bytes value in it without a serialized copy (bytes_parts).
JOIN_LIMIT = 64 * 1024
#: Bytes asked of the socket by each receive: a small message arrives whole in one.
RECEIVE_SIZE = 64 * 1024
