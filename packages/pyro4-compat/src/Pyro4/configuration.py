"""Pyro4.configuration: the config object (pyro_protocol.config); ``python -m Pyro4.configuration`` prints it."""

import sys

from pyro_protocol.config import Config as Configuration
from pyro_protocol.config import config, main

__all__ = ["Configuration", "config", "main"]

if __name__ == "__main__":
    sys.exit(main())
