"""Pyro4.core: URI, Proxy, Daemon and the decorators (pyro_client and pyro_server)."""

# The modules 4.82's core imports; programs reach them as Pyro4.core.<module>.
from Pyro4 import constants, errors, futures, message, socketutil, util  # noqa: E402,F401
from Pyro4.configuration import config  # noqa: E402,F401
from pyro_client import URI, Proxy, SerializedBlob, batch, current_context
from pyro_client.batch import BatchProxy as _BatchProxyAdapter  # noqa: F401
from pyro_client.futures import asyncproxy
from pyro_client.naming import locateNS as _locateNS
from pyro_client.naming import resolve as _resolve
from pyro_client.remote import RemoteMethod as _RemoteMethod  # noqa: F401
from pyro_client.streams import StreamResultIterator as _StreamResultIterator  # noqa: F401
from pyro_protocol.context import CallContext as _CallContext  # noqa: F401
from pyro_server import Daemon, DaemonObject, behavior, callback, expose, oneway  # noqa: F401
from pyro_server.daemon import autoproxy_for as pyroObjectToAutoProxy  # noqa: F401,N812 - Pyro4's name

__all__ = [
    "URI",
    "Proxy",
    "Daemon",
    "current_context",
    "callback",
    "batch",
    "asyncproxy",
    "expose",
    "behavior",
    "oneway",
    "SerializedBlob",
    "_resolve",
    "_locateNS",
]
