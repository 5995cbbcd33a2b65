"""``python -m pyro_protocol.config``: print the effective configuration."""

import sys

from . import main

sys.exit(main())
