"""Two daemons served by one request loop, with daemon.combine (docs/servers.md)."""

import pyro_server

pyro_server.config.SERVERTYPE = "multiplex"


class Thing:
    def __init__(self, name):
        self.name = name

    def whoami(self):
        return self.name


master = pyro_server.Daemon()
other = pyro_server.Daemon()
print("first=", master.register(Thing("first daemon"), "example.first"), flush=True)
print("second=", other.register(Thing("second daemon"), "example.second"), flush=True)
master.combine(other)
master.requestLoop()
