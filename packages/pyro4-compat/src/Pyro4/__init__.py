"""Pyro4 4.82's API on the pyro-* packages: ``import Pyro4`` and Pyro4 programs run unchanged.

Every module here only re-exports names of pyro_protocol, pyro_client,
pyro_server and pyro_naming; no behaviour lives in this package. Importing it
switches the process-wide config to Pyro4 4.82's defaults where ours differ
(``pyro_protocol.config.PYRO4_DEFAULTS``); ``PYRO_*`` environment variables
still win. It also makes Pyro's error classes show as ``Pyro4.errors.<name>``.
"""

from pyro_protocol.config import PYRO4_DEFAULTS, use_defaults
from pyro_protocol.errors import name_errors_module

use_defaults(PYRO4_DEFAULTS)
# tracebacks then name the errors Pyro4.errors.<name>, as Pyro4's users know them
name_errors_module("Pyro4.errors")

# The submodules ``import Pyro4`` makes available in Pyro4 4.82 (Pyro4.errors, Pyro4.util, ...).
from Pyro4 import configuration, constants, core, errors, futures, message, socketutil, util  # noqa: E402
from Pyro4.configuration import config  # noqa: E402
from Pyro4.constants import VERSION as __version__  # noqa: E402
from Pyro4.core import (  # noqa: E402
    URI,
    Daemon,
    Proxy,
    asyncproxy,
    batch,
    behavior,
    callback,
    current_context,
    expose,
    oneway,
)
from Pyro4.core import _locateNS as locateNS  # noqa: E402
from Pyro4.core import _resolve as resolve  # noqa: E402
from Pyro4.futures import Future  # noqa: E402

#: This distribution's own version (pyro4-compat); ``__version__`` is the Pyro4 API it offers.
__compat_version__ = "0.1.0"

__all__ = [
    "__version__",
    "config",
    "URI",
    "Proxy",
    "Daemon",
    "callback",
    "batch",
    "asyncproxy",
    "oneway",
    "expose",
    "behavior",
    "current_context",
    "locateNS",
    "resolve",
    "Future",
    "configuration",
    "constants",
    "core",
    "errors",
    "futures",
    "message",
    "socketutil",
    "util",
]
