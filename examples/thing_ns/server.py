"""Example 2 of the servers chapter: a server that registers its Thing in the name server."""

import pyro_server


class Thing:
    def method(self, arg):
        return arg * 2


daemon = pyro_server.Daemon()
ns = pyro_server.locateNS()
uri = daemon.register(Thing())
ns.register("mythingy", uri)
print("registered mythingy:", uri, flush=True)
daemon.requestLoop()
