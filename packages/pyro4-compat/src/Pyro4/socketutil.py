"""Pyro4.socketutil (pyro_protocol.socketutil)."""

from pyro_protocol.socketutil import *  # noqa: F403
from pyro_protocol.socketutil import __all__  # noqa: F401
