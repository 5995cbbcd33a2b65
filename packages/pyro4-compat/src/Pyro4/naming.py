"""Pyro4.naming: the name server (pyro_naming) and the client's lookups (pyro_client.naming).

``python -m Pyro4.naming`` runs a name server, as ``pyro4-ns`` does.
"""

import sys

from pyro_client.naming import locateNS, resolve, type_meta
from pyro_naming import AutoCleaner, BroadcastServer, MemoryStorage, NameServer, NameServerDaemon, startNS, startNSloop
from pyro_naming.cli import ns_main as main

__all__ = [
    "locateNS",
    "resolve",
    "type_meta",
    "MemoryStorage",
    "NameServer",
    "NameServerDaemon",
    "AutoCleaner",
    "BroadcastServer",
    "startNSloop",
    "startNS",
    "main",
]

if __name__ == "__main__":
    sys.exit(main())
