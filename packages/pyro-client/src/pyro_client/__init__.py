"""pyro_client: proxies to call remote Python objects, wire compatible with Pyro4 4.82.

Pyro4 code ports by changing the import: ``import pyro_client as Pyro4``, then
``Pyro4.Proxy(uri)``, ``Pyro4.locateNS()``, ``Pyro4.batch(proxy)``, ...
"""

from pyro_protocol import errors
from pyro_protocol.config import config
from pyro_protocol.context import current_context
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
from pyro_protocol.uri import URI

# (travel: importing it registers how proxies travel inside serialized data)
from . import travel, util  # noqa: F401
from .batch import BatchProxy, batch
from .blob import SerializedBlob
from .futures import AsyncResult, Future, FutureResult, asyncproxy
from .leases import LeaseKeeper
from .naming import locateNS, resolve
from .proxy import Proxy
from .streams import StreamResultIterator
from .util import excepthook, formatTraceback, getPyroTraceback

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "Proxy",
    "BatchProxy",
    "batch",
    "Future",
    "FutureResult",
    "AsyncResult",
    "asyncproxy",
    "StreamResultIterator",
    "SerializedBlob",
    "locateNS",
    "resolve",
    "LeaseKeeper",
    "URI",
    "config",
    "current_context",
    "errors",
    "util",
    "getPyroTraceback",
    "formatTraceback",
    "excepthook",
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
