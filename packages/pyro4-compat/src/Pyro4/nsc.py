"""Pyro4.nsc: name server control (pyro_naming.nsc); ``python -m Pyro4.nsc`` runs it."""

import sys

from pyro_naming.nsc import handleCommand, main

__all__ = ["handleCommand", "main"]

if __name__ == "__main__":
    sys.exit(main())
