"""A name server on 127.0.0.1 (free port) with a broadcast responder on 127.0.0.1:BCPORT,
both in one request loop: `ns_server.py ours|pyro4 BCPORT`. Prints `URI = ...` when ready."""

import sys

KIND, BCPORT = sys.argv[1], int(sys.argv[2])
if KIND == "ours":
    from pyro_naming import BroadcastServer, NameServerDaemon
else:
    import Pyro4
    from Pyro4.naming import BroadcastServer, NameServerDaemon

    Pyro4.config.SERVERTYPE = "multiplex"  # Pyro4 can only combine loops on its multiplex server

daemon = NameServerDaemon(host="127.0.0.1", port=0)
ns_uri = daemon.uriFor(daemon.nameserver)
responder = BroadcastServer(ns_uri, bchost="127.0.0.1", bcport=BCPORT)
daemon.combine(responder)
print("URI =", ns_uri, flush=True)
daemon.requestLoop()
