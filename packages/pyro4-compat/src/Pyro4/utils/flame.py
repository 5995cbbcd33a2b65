"""Pyro4.utils.flame (pyro_server.flame, whose client half is pyro_client.flame)."""

from pyro_server.flame import *  # noqa: F403
from pyro_server.flame import __all__  # noqa: F401
