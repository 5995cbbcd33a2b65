"""Example 2 of the servers chapter: find the Thing by its name."""

import pyro_client

thing = pyro_client.Proxy("PYRONAME:mythingy")
print(thing.method(42))  # prints 84
