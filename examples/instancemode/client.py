import sys

import pyro_client

location = sys.argv[1]  # host:port of the server


def same_instance(mode, separate_proxies):
    first = pyro_client.Proxy(f"PYRO:example.{mode}@{location}")
    second = pyro_client.Proxy(f"PYRO:example.{mode}@{location}") if separate_proxies else first
    with first, second:
        return first.whoami() == second.whoami() and first.whoami() == first.whoami()


print("session, one proxy, same instance:", same_instance("session", False))
print("session, two proxies, same instance:", same_instance("session", True))
print("single, two proxies, same instance:", same_instance("single", True))
print("percall, one proxy, same instance:", same_instance("percall", False))
with pyro_client.Proxy(f"PYRO:example.greeter@{location}") as greeter:
    print(greeter.greet("world"))
