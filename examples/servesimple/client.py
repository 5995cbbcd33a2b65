import sys

import pyro_client

prefix = sys.argv[1]  # "PYRONAME:" with a name server, else "PYRO:" and "@host:port" after the name
suffix = sys.argv[2] if len(sys.argv) > 2 else ""
for name in ("example.class", "example.instance"):
    with pyro_client.Proxy(f"{prefix}{name}{suffix}") as thing:
        print(name, thing.method(21))
