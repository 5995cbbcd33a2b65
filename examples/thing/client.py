"""Example 1 of the servers chapter: call the Thing by the URI the server printed."""

import sys

import pyro_client

uri = sys.argv[1]  # use the URI that the server printed
thing = pyro_client.Proxy(uri)
print(thing.method(42))  # prints 84
