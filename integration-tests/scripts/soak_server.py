"""A daemon on HOST whose Counter records every call it gets, registered as `soak.counter`
in the name server at NS_HOST:NS_PORT: `soak_server.py HOST NS_HOST NS_PORT`. Prints
`registered URI` when ready."""

import collections
import sys
import threading

import pyro_client
import pyro_server


class Counter:
    def __init__(self):
        self.lock = threading.Lock()
        self.calls = collections.Counter()

    def record(self, call_id):
        """Counts a delivery of ``call_id`` and answers with something only this call gives."""
        with self.lock:
            self.calls[call_id] += 1
        return call_id[::-1]

    def deliveries(self):
        with self.lock:
            return dict(self.calls)


host, ns_host, ns_port = sys.argv[1:4]
daemon = pyro_server.Daemon(host=host)
uri = daemon.register(Counter(), "counter")
with pyro_client.locateNS(ns_host, int(ns_port)) as ns:
    ns.register("soak.counter", uri)
print("registered", uri, flush=True)
daemon.requestLoop()
