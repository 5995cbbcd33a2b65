"""Pyro4.errors (pyro_protocol.errors)."""

from pyro_protocol.errors import (
    CommunicationError,
    ConnectionClosedError,
    DaemonError,
    MessageTooLargeError,
    NamingError,
    ProtocolError,
    PyroError,
    SecurityError,
    SerializeError,
    TimeoutError,
)

__all__ = [
    "PyroError",
    "CommunicationError",
    "ConnectionClosedError",
    "TimeoutError",
    "ProtocolError",
    "MessageTooLargeError",
    "NamingError",
    "DaemonError",
    "SecurityError",
    "SerializeError",
]
