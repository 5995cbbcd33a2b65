"""Pyro4.utils.flameserver (pyro_server.flameserver); ``python -m Pyro4.utils.flameserver`` runs it."""

import sys

from pyro_server.flameserver import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())  # type: ignore[arg-type]  # (an int when it loops)
