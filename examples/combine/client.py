import sys

import pyro_client

for uri in sys.argv[1:]:
    with pyro_client.Proxy(uri) as thing:
        print(thing.whoami())
