"""`ns_locate.py`: locateNS() as a program without any configuration calls it; prints
`located SECONDS URI` or `failed SECONDS MESSAGE`."""

import sys
import time

import pyro_client

start = time.perf_counter()
try:
    with pyro_client.locateNS() as ns:
        print(f"located {time.perf_counter() - start:.6f} {ns._pyroUri}", flush=True)
except pyro_client.NamingError as exc:
    print(f"failed {time.perf_counter() - start:.6f} {exc}", flush=True)
    sys.exit(1)
