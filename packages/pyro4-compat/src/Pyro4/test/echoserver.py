"""Pyro4.test.echoserver (pyro_naming.echoserver); ``python -m Pyro4.test.echoserver`` runs it."""

from pyro_naming.echoserver import EchoServer, NameServer, main, startNameServer

__all__ = ["EchoServer", "NameServer", "startNameServer", "main"]

if __name__ == "__main__":
    main()
