"""Pyro4.test.echoserver (pyro_naming.echoserver); ``python -m Pyro4.test.echoserver`` runs it."""

import sys

from pyro_naming.echoserver import EchoServer, main

__all__ = ["EchoServer", "main"]

if __name__ == "__main__":
    sys.exit(main())
