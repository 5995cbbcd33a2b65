"""pyro_protocol: the Pyro4 4.82 wire protocol, shared by client, server and name server."""

from . import logsetup

logsetup.configure_from_environment()  # first, so what importing the rest logs goes where it should

from . import constants, errors, message, serializers, socketutil  # noqa: E402
from .config import Config, config  # noqa: E402
from .context import current_context  # noqa: E402
from .errors import (  # noqa: E402
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
from .uri import URI  # noqa: E402

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
    "socketutil",
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
