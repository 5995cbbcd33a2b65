"""A daemon serving an Echo object, for tests that attack it from outside.

Usage: echo_daemon.py SERVERTYPE [HANDSHAKE_TIMEOUT]. Prints "uri= ..." when ready.
"""

import sys

import pyro_server


class Echo:
    def echo(self, value):
        return value


pyro_server.config.SERVERTYPE = sys.argv[1]
pyro_server.config.POLLTIMEOUT = 0.2
daemon = pyro_server.Daemon(host="127.0.0.1")
if len(sys.argv) > 2:
    daemon.handshake_timeout = float(sys.argv[2])
print("uri=", daemon.register(Echo(), "echo"), flush=True)
daemon.requestLoop()
