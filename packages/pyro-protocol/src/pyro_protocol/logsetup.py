"""Pyro's logging: silent until the application configures logging, or switched on
from the environment as in Pyro4.

Every package logs under the ``pyro`` logger (``pyro.client``, ``pyro.server``,
``pyro.naming``, ``pyro.wire``). A NullHandler on it keeps Python's last-resort
handler from printing its warnings on stderr in programs that never set up
logging. ``PYRO_LOGLEVEL`` (a level name such as ``DEBUG``) makes the first
import of Pyro configure logging, unless the program already did: records go to
the file ``PYRO_LOGFILE`` (default ``pyro.log`` in the current folder; the value
``{stderr}`` means standard error).
"""

from __future__ import annotations

import logging
import os

__all__ = ["configure_from_environment", "LOG_FORMAT"]

LOG_FORMAT = "[%(asctime)s.%(msecs)03d,%(name)s,%(levelname)s] %(message)s"
_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


def configure_from_environment() -> None:
    """Install the NullHandler; apply ``PYRO_LOGLEVEL``/``PYRO_LOGFILE`` if set (idempotent)."""
    pyro_log = logging.getLogger("pyro")
    if not any(isinstance(handler, logging.NullHandler) for handler in pyro_log.handlers):
        pyro_log.addHandler(logging.NullHandler())
    level_name = os.environ.get("PYRO_LOGLEVEL", "").strip()
    if not level_name or logging.root.handlers:
        return  # not asked for, or the program configured logging itself: leave it alone
    level = logging.getLevelName(level_name.upper())
    if not isinstance(level, int):
        raise ValueError(f"PYRO_LOGLEVEL={level_name!r} is not a logging level (use DEBUG, INFO, WARNING or ERROR)")
    target = os.environ.get("PYRO_LOGFILE", "pyro.log")
    if target == "{stderr}":
        logging.basicConfig(level=level, format=LOG_FORMAT, datefmt=_DATE_FORMAT)
    else:
        logging.basicConfig(level=level, format=LOG_FORMAT, datefmt=_DATE_FORMAT, filename=target)
    pyro_log.info("logging configured from PYRO_LOGLEVEL=%s, PYRO_LOGFILE=%s", level_name, target)
