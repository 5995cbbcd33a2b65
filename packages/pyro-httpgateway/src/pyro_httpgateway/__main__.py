"""``python -m pyro_httpgateway [options]``: the same as the ``pyro-httpgateway`` command."""

import sys

from .server import main

sys.exit(main())
