import sys

import pyro_client

with pyro_client.Proxy(sys.argv[1]) as counter:
    print([counter.increment() for _ in range(3)])
    counter.stop()
