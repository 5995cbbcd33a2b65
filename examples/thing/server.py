"""Example 1 of the servers chapter: a server without a name server."""

import pyro_server


class Thing:
    def method(self, arg):
        return arg * 2


daemon = pyro_server.Daemon()
uri = daemon.register(Thing())
print("uri=", uri, flush=True)
daemon.requestLoop()
