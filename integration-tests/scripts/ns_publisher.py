"""Publishes a Thing through the name server found by NS_HOST/NS_PORT: `ns_publisher.py ours|pyro4`.
Registers `example.meta` (with metadata) by hand and `example.thing` with serveSimple(ns=True)."""

import sys

KIND = sys.argv[1]
if KIND == "ours":
    import pyro_server as pyro
else:
    import Pyro4 as pyro

    pyro.config.REQUIRE_EXPOSE = False


class Thing:
    def method(self, arg):
        return arg * 2

    def kind(self):
        return KIND


daemon = pyro.Daemon(host="127.0.0.1")
with pyro.locateNS() as ns:
    ns.register("example.meta", str(daemon.register(Thing())), metadata={"interop:meta", "color:blue"})
print("publishing", flush=True)
pyro.Daemon.serveSimple({Thing(): "example.thing"}, daemon=daemon, ns=True, verbose=True)
