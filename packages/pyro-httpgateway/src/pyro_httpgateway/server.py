"""Serving the gateway: the command ``pyro-httpgateway`` (also ``python -m pyro_httpgateway``).

The default HTTP server is the standard library's ``wsgiref`` (what Pyro4's gateway
used, and what a closed-network install has), made to serve every request in its
own thread so that one slow call does not hold up the others. ``--server waitress``
uses waitress instead (the ``waitress`` extra): HTTP/1.1 keep-alive and a bounded
pool of request threads.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import sys
import warnings
from socketserver import ThreadingMixIn
from typing import Any, Callable, Optional
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from pyro_client import PyroError
from pyro_protocol.config import config

from .gateway import GATEWAY_KEY_VARIABLE, HMAC_KEY_VARIABLE, Gateway, pyro_app
from .request import MAX_BODY_SIZE

__all__ = ["ThreadingWSGIServer", "make_server", "main", "CLIENT_TIMEOUT", "WAITRESS_THREADS"]

#: Seconds a client connection may stay silent before the server drops it, so that
#: clients that connect and send nothing cannot hold request threads forever.
CLIENT_TIMEOUT = 60.0
#: Request threads of waitress (its default, 4, would let 4 slow calls hold up everyone).
WAITRESS_THREADS = 16


class _RequestHandler(WSGIRequestHandler):
    timeout = CLIENT_TIMEOUT

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        if not getattr(self.server, "quiet", False):
            super().log_message(format, *args)


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    """wsgiref's server with a thread per request."""

    daemon_threads = True  # a request still running does not keep the process alive
    request_queue_size = 128  # bursts of connections wait in the backlog instead of being refused
    quiet = False  # True: no access log lines on stderr


class _ThreadingWSGIServer6(ThreadingWSGIServer):
    address_family = socket.AF_INET6


def make_server(host: str, port: int, app: Callable[..., Any], quiet: bool = False) -> ThreadingWSGIServer:
    """A threaded wsgiref server for ``app`` bound to ``host``/``port`` (0: any free port)."""
    server_class = _ThreadingWSGIServer6 if ":" in host else ThreadingWSGIServer
    server = server_class((host.strip("[]"), port), _RequestHandler)
    server.quiet = quiet
    server.set_app(app)
    return server


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}/pyro/" if ":" in host else f"http://{host}:{port}/pyro/"


def _announce(host: str, port: int) -> None:
    print(f"Pyro HTTP gateway running on {_url(host, port)}", flush=True)


def _serve_wsgiref(app: Gateway, host: str, port: int, quiet: bool) -> None:
    server = make_server(host, port, app, quiet)
    try:
        _announce(*server.socket.getsockname()[:2])
        server.serve_forever()
    finally:
        server.server_close()


def _serve_waitress(app: Gateway, host: str, port: int, quiet: bool) -> None:
    try:
        from waitress.server import create_server  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        raise SystemExit("error: --server waitress needs waitress: pip install 'pyro-httpgateway[waitress]'") from None
    server: Any = create_server(app, host=host.strip("[]"), port=port, threads=WAITRESS_THREADS)
    try:
        _announce(server.effective_host, server.effective_port)
        server.run()
    finally:
        server.close()


_SERVERS = {"wsgiref": _serve_wsgiref, "waitress": _serve_waitress}


def _regex(text: str) -> str:
    try:
        re.compile(text)
    except re.error as exc:
        raise argparse.ArgumentTypeError(f"not a regular expression: {text!r}: {exc}") from None
    return text


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pyro-httpgateway",
        description="HTTP gateway: call Pyro objects registered in the name server with HTTP and JSON.",
    )
    add = parser.add_argument
    add("-H", "--host", default="localhost", help="hostname to bind server on (default=%(default)s)")
    add("-p", "--port", type=int, default=8080, help="port to bind server on, 0 for any (default=%(default)s)")
    add("-e", "--expose", type=_regex, default=pyro_app.ns_regex, help="names to expose, a regex (default=%(default)s)")
    add("-k", "--pyrokey", help=f"the HMAC key to use to connect with Pyro (deprecated: use {HMAC_KEY_VARIABLE})")
    add("-g", "--gatewaykey", help=f"the api key clients must give (deprecated: use {GATEWAY_KEY_VARIABLE})")
    add(
        "-t",
        "--timeout",
        type=float,
        default=pyro_app.comm_timeout,
        help="Pyro timeout in seconds (default=%(default)s)",
    )
    add("-n", "--nshost", help="the name server's host (default: located as Pyro does: NS_HOST, broadcast)")
    add("--nsport", type=int, help="the name server's port (default: NS_PORT)")
    add("--max-body", type=int, default=MAX_BODY_SIZE, help="largest request body in bytes (default=%(default)s)")
    add("--server", choices=sorted(_SERVERS), default="wsgiref", help="the HTTP server (default=%(default)s)")
    add("-q", "--quiet", action="store_true", help="no access log lines")
    return parser


def _key(option: Optional[str], variable: str, flag: str) -> Optional[str]:
    if variable in os.environ:
        if option:
            raise SystemExit(f"error: don't use {flag} and {variable} at the same time")
        return os.environ[variable]
    return option


def _stop_on_sigterm() -> None:
    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def main(args: Optional[list[str]] = None) -> int:
    """Configure ``pyro_app`` from the command line and serve it until Ctrl-C or SIGTERM."""
    options = _parser().parse_args(args)
    if options.pyrokey or options.gatewaykey:
        warnings.warn(
            "giving keys with -k/-g on the command line shows them to every user of this machine; "
            f"set {HMAC_KEY_VARIABLE} and {GATEWAY_KEY_VARIABLE} instead",
            stacklevel=1,
        )
    pyro_app.hmac_key = _key(options.pyrokey, HMAC_KEY_VARIABLE, "-k")
    pyro_app.gateway_key = _key(options.gatewaykey, GATEWAY_KEY_VARIABLE, "-g")
    pyro_app.ns_regex = options.expose
    pyro_app.comm_timeout = config.COMMTIMEOUT = options.timeout
    pyro_app.ns_host, pyro_app.ns_port = options.nshost, options.nsport
    pyro_app.max_body_size = options.max_body
    if pyro_app.ns_regex:
        print(f"Exposing objects with names matching: {pyro_app.ns_regex}")
    else:
        print("Warning: exposing all objects (no expose regex set)")
    try:
        print(f"Connected to name server at: {pyro_app.links().nameserver_uri()}")
    except PyroError:
        print("Not yet connected to a name server.")
    _stop_on_sigterm()
    try:
        _SERVERS[options.server](pyro_app, options.host, options.port, options.quiet)
    except KeyboardInterrupt:
        pass
    finally:
        pyro_app.close()
    print("Pyro HTTP gateway shut down.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
