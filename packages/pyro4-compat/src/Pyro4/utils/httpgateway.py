"""Pyro4.utils.httpgateway (pyro_httpgateway); ``python -m Pyro4.utils.httpgateway`` runs it."""

import sys

from pyro_httpgateway import *  # noqa: F403
from pyro_httpgateway import __all__, main  # noqa: F401

if __name__ == "__main__":
    sys.exit(main())
