"""pyro_protocol: the Pyro4 4.82 wire protocol, shared by client, server and name server."""

from . import constants, errors, message, serializers
from .config import Config, config
from .context import current_context
from .errors import (
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
from .uri import URI

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "config",
    "Config",
    "constants",
    "current_context",
    "errors",
    "message",
    "serializers",
    "URI",
    "PyroError",
    "CommunicationError",
    "ConnectionClosedError",
    "TimeoutError",
    "ProtocolError",
    "MessageTooLargeError",
    "SerializeError",
    "NamingError",
    "DaemonError",
    "SecurityError",
]
