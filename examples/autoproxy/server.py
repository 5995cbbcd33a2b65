"""Autoproxying: a registered object returned from a call arrives as a proxy."""

import pyro_server


class Thing:
    def __init__(self, name):
        self.name = name

    def whoami(self):
        return self.name


class Factory:
    def create(self, name):
        thing = Thing(name)
        self._pyroDaemon.register(thing)
        return thing  # just return it, no need to return a proxy


daemon = pyro_server.Daemon()
print("uri=", daemon.register(Factory(), "example.factory"), flush=True)
daemon.requestLoop()
