import sys
import time

import pyro_client

service = pyro_client.Proxy(sys.argv[1])
start = time.monotonic()
service.oneway_method(1.0)
print(f"oneway call returned after {time.monotonic() - start:.2f} s")
print("normal call:", service.normal_method(21))
print("oneway work finished:", service.oneway_finished())
