"""pyro_naming: the Pyro name server (Pyro4 4.82 wire compatible) as a standalone service.

``pyro-ns`` (or ``python -m pyro_naming``) runs one; ``pyro-nsc`` (``python -m
pyro_naming.nsc``) controls it; :func:`startNS` embeds one in your own program.
``pyro-test-echoserver`` (:mod:`pyro_naming.echoserver`) is Pyro4's test echo server.
"""

from pyro_client.naming import type_meta

from .autoclean import AutoCleaner
from .broadcast import BroadcastServer
from .daemon import NameServerDaemon, startNS, startNSloop
from .nameserver import NameServer
from .postgresql import PostgresStorage
from .storage import DbmStorage, Entry, LocalStorage, MemoryStorage, SqlStorage, Storage, make_storage

__version__ = "0.1.0"

__all__ = [
    "NameServer",
    "NameServerDaemon",
    "BroadcastServer",
    "AutoCleaner",
    "startNS",
    "startNSloop",
    "Storage",
    "Entry",
    "LocalStorage",
    "MemoryStorage",
    "SqlStorage",
    "DbmStorage",
    "PostgresStorage",
    "make_storage",
    "type_meta",
]
