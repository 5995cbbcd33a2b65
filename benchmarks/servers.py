"""Server processes for the benchmarks: ``python -m benchmarks.servers SPEC_JSON``.

Starts one server (ours or Pyro4's daemon, a name server with a registered
object, or the raw socket echo server), prints one JSON line with its
address, then serves until it is terminated.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import sys
import threading
import time
from typing import Any

from .common import SERIALIZERS, Counter, pin, raise_nofile, use_event_loop

OBJECT_ID = "bench"
NS_NAME = "bench.obj"


def _bench_class(expose: Any, oneway: Any) -> type:
    class Bench:
        def __init__(self) -> None:
            self.counter = Counter()

        def add(self, a: Any, b: Any) -> Any:
            return a + b

        async def aadd(self, a: Any, b: Any) -> Any:  # (for our asyncio server: runs on its loop)
            return a + b

        def echo(self, data: Any) -> Any:
            return data

        @oneway
        def tick(self) -> None:
            self.counter.tick()

        def count(self) -> int:
            return self.counter.value

        def pid(self) -> int:
            return os.getpid()

        def cpu(self) -> float:
            """CPU seconds of this whole process so far (all its threads)."""
            return time.process_time()

    return expose(Bench)


def _ours(spec: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    import pyro_naming
    import pyro_server
    from pyro_protocol.config import config

    config.SERVERTYPE = spec.get("servertype", "thread")
    config.SERIALIZERS_ACCEPTED = set(SERIALIZERS)
    config.COMMTIMEOUT = 0.0
    use_event_loop(spec.get("loop"))
    bench = _bench_class(pyro_server.expose, pyro_server.oneway)()
    return _publish(pyro_server, pyro_naming.startNS, bench, spec["kind"])


def _pyro4(spec: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    import Pyro4
    import Pyro4.naming

    Pyro4.config.SERVERTYPE = spec.get("servertype", "thread")
    Pyro4.config.SERIALIZERS_ACCEPTED = set(SERIALIZERS)
    bench = _bench_class(Pyro4.expose, Pyro4.oneway)()
    return _publish(Pyro4, Pyro4.naming.startNS, bench, spec["kind"])


def _publish(api: Any, start_ns: Any, bench: Any, kind: str) -> tuple[Any, dict[str, Any]]:
    """A daemon serving ``bench`` (``api`` is pyro_server or Pyro4: the same names); for kind "ns"
    also a name server, in a thread, with the object registered in it."""
    daemon = api.Daemon(host="127.0.0.1")
    uri = daemon.register(bench, OBJECT_ID)
    info: dict[str, Any] = {"uri": str(uri)}
    if kind == "ns":
        ns_uri, ns_daemon, _ = start_ns(host="127.0.0.1", port=0, enableBroadcast=False)
        threading.Thread(target=ns_daemon.requestLoop, daemon=True).start()
        with api.Proxy(ns_uri) as ns:
            ns.register(NS_NAME, uri)
        info.update(ns_uri=str(ns_uri), ns_host=ns_uri.host, ns_port=ns_uri.port)
    return daemon, info


# -- the HTTP gateways, in front of a "ns" server process: ours (threaded wsgiref), and Pyro4's
# (its pyro_app in wsgiref, as its main() serves it)

GATEWAY_EXPOSE = r"bench\."


class _Serving:
    """A WSGI server as the request loop of this process."""

    def __init__(self, serve: Any) -> None:
        self.requestLoop = serve


def _our_gateway(spec: dict[str, Any]) -> tuple[Any, str]:
    from pyro_httpgateway import Gateway, make_server
    from pyro_httpgateway.server import WAITRESS_THREADS

    app = Gateway(ns_regex=GATEWAY_EXPOSE, ns_host=spec["ns_host"], ns_port=spec["ns_port"], gateway_key="")
    if spec.get("server") == "waitress":
        from waitress.server import create_server

        server = create_server(app, host="127.0.0.1", port=0, threads=WAITRESS_THREADS)
        return server.run, f"http://127.0.0.1:{server.effective_port}"
    server = make_server("127.0.0.1", 0, app, quiet=True)
    return server.serve_forever, f"http://127.0.0.1:{server.server_address[1]}"


def _pyro4_gateway(spec: dict[str, Any]) -> tuple[Any, str]:
    import warnings
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    import Pyro4

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # its "import cgi"
        from Pyro4.utils.httpgateway import pyro_app

    class QuietHandler(WSGIRequestHandler):  # no access log line per request (ours logs none either)
        def log_message(self, *args: Any) -> None:
            pass

    Pyro4.config.NS_HOST, Pyro4.config.NS_PORT = spec["ns_host"], spec["ns_port"]
    pyro_app.ns_regex = GATEWAY_EXPOSE
    server = make_server("127.0.0.1", 0, pyro_app, handler_class=QuietHandler)
    return server.serve_forever, f"http://127.0.0.1:{server.server_address[1]}"


def _gateway(spec: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    serve, url = (_pyro4_gateway if spec["impl"] == "pyro4" else _our_gateway)(spec)
    return _Serving(serve), {"url": url}


# -- the raw socket floor: 4-byte length prefix, TCP_NODELAY, one thread per connection ----------

_PREFIX = struct.Struct("!I")


def recv_exactly(sock: socket.socket, size: int, buffer: bytearray) -> memoryview:
    """Read ``size`` bytes into ``buffer`` (grown if needed) with MSG_WAITALL; a view of them."""
    if len(buffer) < size:
        buffer.extend(bytes(size - len(buffer)))
    view = memoryview(buffer)
    filled = 0
    while filled < size:
        count = sock.recv_into(view[filled:size], size - filled, socket.MSG_WAITALL)
        if not count:
            raise ConnectionError("connection closed")
        filled += count
    return view[:size]


def _raw_connection(sock: socket.socket) -> None:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buffer = bytearray(65536)
    try:
        while True:
            head = sock.recv(4, socket.MSG_WAITALL)
            if len(head) < 4:
                return
            (size,) = _PREFIX.unpack(head)
            body = recv_exactly(sock, size, buffer)
            # joined below 64 KiB as ours does (pyro_protocol.constants.JOIN_LIMIT, not imported:
            # this module also runs Pyro4's servers, which must not load our packages)
            if size < 65536:
                sock.sendall(head + body)
            else:
                sock.sendall(head)
                sock.sendall(body)
            body.release()
    except OSError:
        return
    finally:
        sock.close()


def _raw_server() -> tuple[Any, dict[str, Any]]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(100)

    class Loop:
        def requestLoop(self) -> None:
            while True:
                sock, _ = listener.accept()
                threading.Thread(target=_raw_connection, args=(sock,), daemon=True).start()

    host, port = listener.getsockname()
    return Loop(), {"host": host, "port": port}


def _exit_with_parent() -> None:
    """The runner holds our stdin open: when it goes away (even killed), so do we."""
    try:
        sys.stdin.buffer.read()
    finally:
        os._exit(0)


def main() -> None:
    spec = json.loads(sys.argv[1])
    pin(spec.get("cpu"))
    raise_nofile()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    if spec["kind"] == "raw":
        loop, info = _raw_server()
    elif spec["kind"] == "gateway":
        loop, info = _gateway(spec)
    elif spec["impl"] == "pyro4":
        loop, info = _pyro4(spec)
    else:
        loop, info = _ours(spec)
    info["pid"] = os.getpid()
    print(json.dumps(info), flush=True)
    loop.requestLoop()


if __name__ == "__main__":
    main()
