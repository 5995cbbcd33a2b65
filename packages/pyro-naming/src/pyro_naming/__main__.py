"""``python -m pyro_naming``: the same as the ``pyro-ns`` command."""

import sys

from .cli import ns_main

sys.exit(ns_main())
