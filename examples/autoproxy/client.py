import sys

import pyro_client

with pyro_client.Proxy(sys.argv[1]) as factory:
    thing = factory.create("thing one")
    print(type(thing).__name__, thing.whoami())
