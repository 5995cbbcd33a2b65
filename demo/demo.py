"""The demo: a name server, a server and a client talking."""

print("pyro demo: the server is not built yet")
