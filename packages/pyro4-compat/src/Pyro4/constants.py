"""Pyro4.constants (pyro_protocol.constants). VERSION is the Pyro4 release whose API this is."""

from pyro_protocol.constants import DAEMON_NAME, FLAME_NAME, NAMESERVER_NAME, PROTOCOL_VERSION, VERSION

__all__ = ["VERSION", "DAEMON_NAME", "NAMESERVER_NAME", "FLAME_NAME", "PROTOCOL_VERSION"]
