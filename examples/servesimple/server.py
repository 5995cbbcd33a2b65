"""serveSimple of the servers chapter (docs/servers.md). With --ns the objects are registered in the name server."""

import sys

import pyro_server


class MyPyroThing:
    def method(self, arg):
        return arg * 2


obj = MyPyroThing()
use_ns = "--ns" in sys.argv
pyro_server.Daemon.serveSimple(
    {
        MyPyroThing: "example.class",  # register the class
        obj: "example.instance",  # register one specific instance
    },
    ns=use_ns,
    verbose=True,
)
