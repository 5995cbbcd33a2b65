"""Shows what the partially exposed service offers, and what it refuses."""

import sys

import pyro_client

service = pyro_client.Proxy(sys.argv[1])
print("get_value:", service.get_value())
print("__dunder__:", service.__dunder__())
service.attr = 99
print("attr after setting:", service.attr)
for name in ("not_exposed", "_private", "value"):
    try:
        getattr(service, name)()
    except AttributeError:
        print(f"{name}: not reachable")
