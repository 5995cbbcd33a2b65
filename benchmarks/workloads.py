"""Client workloads, one per process: ``python -m benchmarks.workloads SPEC_JSON``.

Each prints one JSON line with a list of per-repetition results. The ``hold``
workload prints a line once its connections are open and keeps them until its
standard input closes.
"""

from __future__ import annotations

import http.client
import json
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from .aio_workloads import AIO_WORKLOADS
from .common import Client, percentile, pin, raise_nofile
from .servers import NS_NAME, recv_exactly

_PREFIX = struct.Struct("!I")
perf = time.perf_counter


def _latencies(call: Callable[[], Any], count: int) -> dict[str, float]:
    """Time ``count`` calls one by one: calls/s over the whole run, p50/p99 of single calls (µs)."""
    times = [0.0] * count
    start = perf()
    for index in range(count):
        t0 = perf()
        call()
        times[index] = perf() - t0
    total = perf() - start
    times.sort()
    return {
        "calls_per_s": count / total,
        "us_per_call": total / count * 1e6,
        "p50_us": percentile(times, 0.5) * 1e6,
        "p99_us": percentile(times, 0.99) * 1e6,
    }


def small(spec: dict[str, Any]) -> list[dict[str, float]]:
    client = Client(spec["impl"], spec["serializer"])
    results = []
    with client.Proxy(spec["uri"]) as proxy:
        add = proxy.add
        for _ in range(spec["warmup"]):
            add(1, 2)
        for _ in range(spec["reps"]):
            results.append(_latencies(lambda: add(1, 2), spec["count"]))
    return results


def _raw_connect(spec: dict[str, Any]) -> socket.socket:
    sock = socket.create_connection((spec["host"], spec["port"]))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def raw_small(spec: dict[str, Any]) -> list[dict[str, float]]:
    sock = _raw_connect(spec)
    body = b"x" * spec.get("size", 64)
    request = _PREFIX.pack(len(body)) + body
    buffer = bytearray(65536)

    def call() -> None:
        sock.sendall(request)
        head = sock.recv(4, socket.MSG_WAITALL)
        (size,) = _PREFIX.unpack(head)
        recv_exactly(sock, size, buffer).release()

    for _ in range(spec["warmup"]):
        call()
    results = [_latencies(call, spec["count"]) for _ in range(spec["reps"])]
    sock.close()
    return results


def _throughput(
    call: Callable[[], Any], size: int, count: int, cpu: Callable[[], float] | None = None
) -> dict[str, float | None]:
    """MB/s by the clock; with ``cpu`` (CPU seconds of the client and the server together so far),
    also MB per CPU second, the steadier figure on a busy machine (an echo is mostly one process
    waiting for the other)."""
    used = cpu() if cpu is not None else 0.0
    start = perf()
    for _ in range(count):
        call()
    total = perf() - start
    used = cpu() - used if cpu is not None else 0.0
    return {
        "mb_per_s": size * count / total / 1e6,
        "ms_per_call": total / count * 1e3,
        "mb_per_cpu_s": size * count / used / 1e6 if used > 0 else None,
    }


def payload(spec: dict[str, Any]) -> list[dict[str, float]]:
    client = Client(spec["impl"], spec["serializer"])
    data = bytes(range(256)) * (spec["size"] // 256)
    results = []
    with client.Proxy(spec["uri"]) as proxy:
        echo = proxy.echo

        def call() -> None:
            reply = echo(data)
            if len(reply) != len(data):
                raise AssertionError("echo returned a different size")

        call()
        for _ in range(spec["reps"]):
            results.append(_throughput(call, spec["size"], spec["count"], lambda: proxy.cpu() + time.process_time()))
    return results


def raw_payload(spec: dict[str, Any]) -> list[dict[str, float]]:
    sock = _raw_connect(spec)
    data = bytes(range(256)) * (spec["size"] // 256)
    head = _PREFIX.pack(len(data))
    buffer = bytearray(65536)

    def call() -> None:
        sock.sendall(head)
        sock.sendall(data)
        (size,) = _PREFIX.unpack(sock.recv(4, socket.MSG_WAITALL))
        reply = bytes(recv_exactly(sock, size, buffer))  # the reply as a bytes object, like a call's result
        if len(reply) != len(data):
            raise AssertionError("echo returned a different size")

    call()
    results = [_throughput(call, spec["size"], spec["count"]) for _ in range(spec["reps"])]
    sock.close()
    return results


def oneway(spec: dict[str, Any]) -> list[dict[str, float]]:
    client = Client(spec["impl"], spec["serializer"])
    results = []
    with client.Proxy(spec["uri"]) as proxy:
        tick, count = proxy.tick, proxy.count
        for _ in range(min(spec["count"], 500)):
            tick()
        count()
        for _ in range(spec["reps"]):
            start = perf()
            for _ in range(spec["count"]):
                tick()
            count()
            total = perf() - start
            results.append(
                {
                    "calls_per_s": spec["count"] / total,
                    "us_per_call": total / spec["count"] * 1e6,
                }
            )
    return results


def threads(spec: dict[str, Any]) -> list[dict[str, float]]:
    client = Client(spec["impl"], spec["serializer"])
    nthreads, count = spec["threads"], spec["count"]
    proxies = [client.Proxy(spec["uri"]) for _ in range(nthreads)]
    for proxy in proxies:
        for _ in range(20):
            proxy.add(1, 2)
    results = []
    for _ in range(spec["reps"]):
        barrier = threading.Barrier(nthreads + 1)

        def work(proxy: Any, barrier: threading.Barrier = barrier) -> None:
            add = proxy.add
            barrier.wait()
            for _ in range(count):
                add(1, 2)

        workers = [threading.Thread(target=work, args=(proxy,)) for proxy in proxies]
        for worker in workers:
            worker.start()
        barrier.wait()
        start, cpu = perf(), time.process_time()
        for worker in workers:
            worker.join()
        total, cpu = perf() - start, time.process_time() - cpu
        calls = nthreads * count
        results.append({"calls_per_s": calls / total, "client_cpu_us": cpu / calls * 1e6, "calls": calls})
    for proxy in proxies:
        proxy._pyroRelease()
    return results


def timed_calls(spec: dict[str, Any]) -> list[dict[str, float]]:
    """One of several client processes: wait for the common start time, call, report when done."""
    client = Client(spec["impl"], spec["serializer"])
    results = []
    with client.Proxy(spec["uri"]) as proxy:
        add = proxy.add
        for _ in range(20):
            add(1, 2)
        for start_at in spec["starts"]:
            while time.time() < start_at:
                time.sleep(0.001)
            for _ in range(spec["count"]):
                add(1, 2)
            results.append({"start": start_at, "end": time.time()})
    return results


def connect(spec: dict[str, Any]) -> list[dict[str, float]]:
    client = Client(spec["impl"], spec["serializer"])

    def call() -> None:
        proxy = client.Proxy(spec["uri"])
        proxy.add(1, 2)
        proxy._pyroRelease()

    for _ in range(10):
        call()
    return [_latencies(call, spec["count"]) for _ in range(spec["reps"])]


def naming(spec: dict[str, Any]) -> list[dict[str, float]]:
    client = Client(spec["impl"], spec["serializer"])
    results = []
    with client.Proxy(spec["ns_uri"]) as ns:
        for _ in range(20):
            ns.lookup(NS_NAME)
        for _ in range(spec["reps"]):
            result = _latencies(lambda: ns.lookup(NS_NAME), spec["count"])
            results.append({"ops_per_s": result["calls_per_s"], "p50_us": result["p50_us"]})
    return results


def pyroname(spec: dict[str, Any]) -> list[dict[str, float]]:
    client = Client(spec["impl"], spec["serializer"])
    name = f"PYRONAME:{NS_NAME}@{spec['ns_host']}:{spec['ns_port']}"

    def call() -> None:
        proxy = client.Proxy(name)
        proxy.add(1, 2)
        proxy._pyroRelease()

    for _ in range(5):
        call()
    return [_latencies(call, spec["count"]) for _ in range(spec["reps"])]


def hold(spec: dict[str, Any]) -> None:
    """Open and hold up to ``count`` connected proxies; stop at the first that fails or times out."""
    raise_nofile()
    client = Client(spec["impl"], spec["serializer"])
    proxies = []
    error = None
    start = perf()
    for _ in range(spec["count"]):
        proxy = client.Proxy(spec["uri"])
        proxy._pyroTimeout = spec["call_timeout"]
        try:
            proxy._pyroBind()
        except Exception as exc:  # noqa: BLE001 - a refusal or a timeout ends it: report how far it got
            error = f"{type(exc).__name__}: {exc}"
            break
        proxies.append(proxy)
    elapsed = perf() - start
    print(
        json.dumps({"held": len(proxies), "error": error, "seconds": elapsed}),
        flush=True,
    )
    sys.stdin.read()  # hold until the runner closes our stdin
    for proxy in proxies:
        proxy._pyroRelease()


def latency(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """A new client's call latency, every call bounded by a timeout; an error is reported, not raised."""
    client = Client(spec["impl"], spec["serializer"])
    results = []
    for _ in range(spec["reps"]):
        proxy = client.Proxy(spec["uri"])
        proxy._pyroTimeout = spec["call_timeout"]
        try:
            t0 = perf()
            proxy.add(1, 2)
            first = perf() - t0
            add = proxy.add
            result: dict[str, Any] = _latencies(lambda add=add: add(1, 2), spec["count"])
            result["first_call_ms"] = first * 1e3
        except Exception as exc:  # noqa: BLE001 - any failure is a result to report, never a hang
            result = {"error": f"{type(exc).__name__}: {exc}"}
        finally:
            proxy._pyroRelease()
        results.append(result)
    return results


def gateway(spec: dict[str, Any]) -> list[dict[str, float]]:
    """GET add() through an HTTP gateway, as a browser would: one HTTP client connection, kept
    alive where the server can (waitress), else opened anew for each request (wsgiref, HTTP/1.0)."""
    host, port = spec["url"].rsplit("/", 1)[1].split(":")
    path = f"/pyro/{NS_NAME}/add?a=1&b=2"
    connection = http.client.HTTPConnection(host, int(port))

    def call() -> None:
        connection.request("GET", path)
        reply = connection.getresponse()
        body = reply.read()
        if reply.status != 200 or body != b'"12"':  # (query values are strings: "1" + "2")
            raise AssertionError(f"gateway answered {reply.status} {body[:200]!r}")

    for _ in range(spec["warmup"]):
        call()
    results = [_latencies(call, spec["count"]) for _ in range(spec["reps"])]
    connection.close()
    return results


WORKLOADS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "small": small,
    "raw_small": raw_small,
    "payload": payload,
    "raw_payload": raw_payload,
    "oneway": oneway,
    "threads": threads,
    "timed_calls": timed_calls,
    "connect": connect,
    "naming": naming,
    "pyroname": pyroname,
    "hold": hold,
    "latency": latency,
    "gateway": gateway,
    **AIO_WORKLOADS,
}


def main() -> None:
    spec = json.loads(sys.argv[1])
    pin(spec.get("cpu"))
    result = WORKLOADS[spec["workload"]](spec)
    if result is not None:
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
