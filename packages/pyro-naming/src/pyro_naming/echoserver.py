"""Pyro's test echo server (Pyro4's ``Pyro4.test.echoserver``): an object that echoes what it
is sent, raises on request and streams a generator, for trying out clients and the network.

Run it with ``pyro-test-echoserver`` or ``python -m pyro_naming.echoserver``; it prints the uri
to connect to (object name ``test.echoserver``). ``-n`` registers it in a name server, ``-N``
starts one too (on NS_PORT of the same host; PYRO_NS_PORT=0 picks a free port). It lives in
pyro_naming because it can start a name server.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from typing import Any, Iterator, Optional, Union

from pyro_client import locateNS
from pyro_protocol.config import config
from pyro_protocol.errors import PyroError
from pyro_protocol.uri import URI
from pyro_server import Daemon, expose, oneway

from .broadcast import BroadcastServer
from .cli import _hmac_key
from .daemon import _stopped_by_signals, startNS

__all__ = ["EchoServer", "NameServer", "main", "startNameServer", "OBJECT_NAME"]

#: The name the echo server is registered under, in its daemon and in the name server.
OBJECT_NAME = "test.echoserver"
#: How long ``slow`` and ``oneway_slow`` take (Pyro4's value).
SLOW_SECONDS = 5.0


def _say(text: str) -> None:
    print(text, flush=True)  # flushed: whoever reads a pipe from us sees each line at once


def _printable(value: Any) -> str:
    """``repr(value)`` with what the console cannot show replaced, so printing cannot fail."""
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    return repr(value).encode(encoding, errors="replace").decode(encoding)


@expose
class EchoServer:
    """The echo object. With ``verbose`` (or ``_verbose``) on it prints each call it gets."""

    _verbose = False
    _must_shutdown = False

    def _log(self, text: str) -> None:
        if self._verbose:
            _say(f"{time.asctime()} - {text}")

    def echo(self, message: Any) -> Any:
        """Return the message."""
        if self._verbose:
            self._log(f"echo: {_printable(message)}")
        return message

    def error(self) -> None:
        """Raise a ValueError."""
        self._log("error: generating exception")
        raise ValueError("expected error from echoserver error() method")

    def error_with_text(self) -> None:
        """Raise a ValueError with a message of its own."""
        self._log("error: generating exception")
        raise ValueError("the message of the error")

    @oneway
    def oneway_echo(self, message: Any) -> str:
        """Like echo, but oneway: the caller does not wait and gets nothing back."""
        if self._verbose:
            self._log(f"oneway_echo: {_printable(message)}")
        return "bogus return value"

    def slow(self) -> str:
        """Answer after SLOW_SECONDS."""
        self._log("slow: waiting a bit...")
        time.sleep(SLOW_SECONDS)
        self._log("slow: returning result")
        return "Finally, an answer!"

    def generator(self) -> Iterator[str]:
        """Three strings, one at a time (a remote iterator for the caller)."""
        yield "one"
        yield "two"
        yield "three"

    def nan(self) -> float:
        return float("nan")

    def inf(self) -> float:
        return float("inf")

    @oneway
    def oneway_slow(self) -> str:
        """Like slow, but oneway: the caller goes on at once."""
        self._log("oneway_slow: waiting a bit...")
        time.sleep(SLOW_SECONDS)
        self._log("oneway_slow: returning result")
        return "bogus return value"

    def _private(self) -> str:
        """Private: no client may call it."""
        return "should not be allowed"

    def __private(self) -> str:
        """Name-mangled private: no client may call it."""
        return "should not be allowed"

    def __dunder__(self) -> str:
        """A dunder name: callable remotely like a public method."""
        return "should be allowed (dunder)"

    def shutdown(self) -> None:
        """Stop the echo server's request loop (after this call is answered)."""
        self._log("shutting down")
        self._must_shutdown = True

    @property
    def verbose(self) -> bool:
        return self._verbose

    @verbose.setter
    def verbose(self, onoff: Any) -> None:
        self._verbose = bool(onoff)


class NameServer(threading.Thread):
    """A name server (and its broadcast responder, if it gets one) served in a daemon thread.

    Pyro4 4.82's name for it; not to be confused with pyro_naming.NameServer, the remote object.
    """

    def __init__(self, host: Optional[str], hmac: Union[str, bytes, None]) -> None:
        super().__init__(name="echoserver name server", daemon=True)
        uri, self.ns_daemon, self.bc_server = startNS(host, hmac=hmac)
        self.uri: URI = uri
        if self.bc_server is not None:
            self.ns_daemon.combine(self.bc_server)

    def run(self) -> None:
        self.ns_daemon.requestLoop()

    def close(self) -> None:
        self.ns_daemon.close()
        self.join(timeout=5.0)
        if self.bc_server is not None:
            self.bc_server.close()


def startNameServer(host: Optional[str], hmac: Union[str, bytes, None] = None) -> NameServer:  # noqa: N802
    """Start a name server on ``host`` (port NS_PORT) in a daemon thread; it has ``uri``,
    ``ns_daemon``, ``bc_server`` (None without broadcast) and ``close()``."""
    nameserver = NameServer(host, hmac)
    nameserver.start()
    return nameserver


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pyro-test-echoserver", description="Pyro's built-in test echo server.")
    parser.add_argument("-H", "--host", default="localhost", help="hostname to bind server on (default=localhost)")
    parser.add_argument("-p", "--port", type=int, default=0, help="port to bind server on (default: a free one)")
    parser.add_argument("-u", "--unixsocket", help="Unix domain socket name to bind server on")
    parser.add_argument("-n", "--naming", action="store_true", help="register with nameserver")
    parser.add_argument("-N", "--nameserver", action="store_true", help="also start a nameserver (implies -n)")
    parser.add_argument("-v", "--verbose", action="store_true", help="verbose output")
    parser.add_argument("-q", "--quiet", action="store_true", help="don't output anything")
    parser.add_argument("-k", "--key", help="the HMAC key to use (better: the PYRO_HMAC_KEY environment variable)")
    return parser


def main(
    args: Optional[list[str]] = None,
    returnWithoutLooping: bool = False,  # noqa: N803 - Pyro4's name
) -> Optional[tuple[Daemon, EchoServer, URI]]:
    """Run the echo server until a client calls ``shutdown()`` (or Ctrl-C/SIGTERM).

    ``returnWithoutLooping``: return ``(daemon, echo, uri)`` instead of serving; the caller
    runs and closes the daemon (a name server from ``-N`` goes on in its daemon thread).
    Like Pyro4 this sets config.SERVERTYPE to "multiplex".
    """
    options = _parser().parse_args(args)
    hmac = _hmac_key(options.key)
    quiet = options.quiet and not options.verbose
    say = (lambda text: None) if quiet else _say
    say("Starting Pyro's built-in test echo server.")
    config.SERVERTYPE = "multiplex"
    if not hmac:
        say("Warning: HMAC key not set. Anyone can connect to this server!")
    nameserver = None
    try:
        if options.nameserver:
            nameserver = startNameServer(options.host, hmac)
        daemon, echo, uri = _serve_echo(options, hmac, nameserver)
    except (PyroError, OSError, ValueError) as exc:
        if nameserver is not None:
            nameserver.close()
        raise SystemExit(f"error: cannot start the echo server: {exc}") from None
    say(f"object name: {OBJECT_NAME}")
    say(f"echo uri: {uri}")
    say("echoserver running.")
    if returnWithoutLooping:
        return daemon, echo, uri
    try:
        with _stopped_by_signals(daemon) as running:
            daemon.requestLoop(lambda: running() and not echo._must_shutdown)
    finally:
        daemon.close()
        if nameserver is not None:
            nameserver.close()
    return None


def _serve_echo(
    options: argparse.Namespace, hmac: Union[str, bytes, None], nameserver: Optional[NameServer]
) -> tuple[Daemon, EchoServer, URI]:
    """A daemon with an echo object registered (and in the name server, if asked): (daemon, echo, uri)."""
    if options.unixsocket:
        daemon = Daemon(unixsocket=options.unixsocket)  # host and port mean nothing here
    else:
        daemon = Daemon(host=options.host, port=options.port)
    try:
        daemon._pyroHmacKey = hmac
        echo = EchoServer()
        echo._verbose = options.verbose
        uri = daemon.register(echo, OBJECT_NAME)
        if options.naming or nameserver is not None:
            _register(uri, hmac, nameserver, options.verbose)
        elif options.verbose:
            _say("not using a name server.")
    except BaseException:
        daemon.close()
        raise
    return daemon, echo, uri


def _register(uri: URI, hmac: Union[str, bytes, None], nameserver: Optional[NameServer], verbose: bool) -> None:
    host, port = (nameserver.uri.host, nameserver.uri.port) if nameserver is not None else (None, None)
    with locateNS(host, port, hmac_key=hmac) as ns:
        ns.register(OBJECT_NAME, uri)
        if verbose:
            _say(f"using name server at {ns._pyroUri}")
    if verbose and nameserver is not None:
        bc_server: Optional[BroadcastServer] = nameserver.bc_server
        _say(f"broadcast server running at {bc_server.locationStr}" if bc_server else "not using a broadcast server")


if __name__ == "__main__":
    main()
