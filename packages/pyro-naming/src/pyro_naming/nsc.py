"""``python -m pyro_naming.nsc``: name server control, the same tool as ``pyro-nsc``
(Pyro4's ``Pyro4.nsc``). The implementation is in :mod:`pyro_naming.cli`."""

from __future__ import annotations

import sys
from typing import Any

from .cli import nsc_main as main
from .cli import run_nsc_command

__all__ = ["main", "handleCommand"]


def handleCommand(nameserver: Any, options: Any, args: list[str]) -> int:  # noqa: N802 - Pyro4's name
    """Pyro4's entry: run one command, ``args = [command, arg...]``, on a name server proxy,
    printing to stdout. ``removematching`` asks for confirmation unless ``options.yes`` is
    true (``options`` may be None). Returns the exit code (0 done, 1 failed, 2 bad usage).
    """
    if getattr(options, "yes", False):
        return run_nsc_command(nameserver, list(args), confirm=lambda question: True)
    return run_nsc_command(nameserver, list(args))


if __name__ == "__main__":
    sys.exit(main())
