"""``pyro-flameserver`` (also ``python -m pyro_server.flameserver``): a daemon with only a Flame object.

Pyro4's ``Pyro4.utils.flameserver`` with its options and output. Flame must be
enabled first (``PYRO_FLAME_ENABLED=true``); the daemon then accepts only the
pickle-family serializers of ``SERIALIZERS_ACCEPTED`` (pickle if there are none).
Give an HMAC key in the ``PYRO_HMAC_KEY`` environment variable.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Optional, Union

from pyro_protocol.config import config
from pyro_protocol.errors import PyroError

from . import flame
from .daemon import Daemon

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pyro-flameserver", description="Pyro Flame server: remote access to this Python (Pyro4 4.82 compatible)"
    )
    parser.add_argument("-H", "--host", default="localhost", help="hostname to bind server on (default: %(default)s)")
    parser.add_argument("-p", "--port", type=int, default=0, help="port to bind server on (default: any free port)")
    parser.add_argument("-u", "--unixsocket", help="Unix domain socket name to bind server on")
    parser.add_argument("-q", "--quiet", action="store_true", help="don't output anything")
    parser.add_argument("-k", "--key", help="the HMAC key to use (better: the PYRO_HMAC_KEY environment variable)")
    return parser


def _hmac_key(option: Optional[str]) -> str:
    from_env = os.environ.get("PYRO_HMAC_KEY")
    if option and from_env is not None:
        raise SystemExit("error: don't use -k and PYRO_HMAC_KEY at the same time")
    if option:
        print("Note: -k shows the HMAC key to everyone who can list processes; use PYRO_HMAC_KEY", file=sys.stderr)
    return option or from_env or ""


def main(args: Optional[list[str]] = None, returnWithoutLooping: bool = False) -> Union[int, tuple[Daemon, Any]]:  # noqa: N803
    """Run a Flame server until interrupted (exit code 0); ``returnWithoutLooping`` gives (daemon, uri) instead."""
    options = _parser().parse_args(args)
    hmac = _hmac_key(options.key)
    say = (lambda text: None) if options.quiet else print
    say("Starting Pyro Flame server.")
    if not hmac:
        say("Warning: HMAC key not set. Anyone can connect to this server!")
    # Flame's answers need pickle: other serializers are of no use to its clients.
    config.SERIALIZERS_ACCEPTED = set(config.SERIALIZERS_ACCEPTED) & set(flame.FLAME_SERIALIZERS) or {"pickle"}
    host = None if options.unixsocket else options.host  # (Pyro4: a unix socket wins over the host)
    daemon = None
    try:
        daemon = Daemon(host=host, port=options.port, unixsocket=options.unixsocket)
        daemon._pyroHmacKey = hmac or None
        uri = flame.start(daemon)
    except (PyroError, OSError, ValueError) as exc:
        if daemon is not None:
            daemon.close()
        raise SystemExit(f"error: cannot start the Flame server: {exc}") from None
    say(f"server uri: {uri}")
    say("server is running.")
    sys.stdout.flush()
    if returnWithoutLooping:
        return daemon, uri
    with daemon:
        try:
            daemon.requestLoop()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())  # type: ignore[arg-type]  # (an int when it loops)
