"""pyro_server: publish Python objects for remote calls (Pyro4 4.82 compatible)."""

from pyro_client import *  # noqa: F401,F403 - a server script may act as a client: Pyro4's namespace had both
from pyro_client import __all__ as _client_all
from pyro_protocol import constants, errors
from pyro_protocol.config import config
from pyro_protocol.context import current_context
from pyro_protocol.uri import URI

from .daemon import Daemon, DaemonObject, serveSimple
from .decorators import behavior, callback, expose, oneway

__version__ = "0.1.0"

__all__ = [
    "Daemon",
    "DaemonObject",
    "serveSimple",
    "expose",
    "oneway",
    "behavior",
    "callback",
    "config",
    "constants",
    "current_context",
    "errors",
    "URI",
]
__all__ += [name for name in _client_all if name not in __all__]
