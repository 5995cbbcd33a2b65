"""Client workloads of the asyncio benchmarks (``benchmarks/aio.py``), run by ``benchmarks.workloads``.

- ``aio_pipelined``: one aio proxy, ``inflight`` tasks each calling one after the other, so that
  many calls are in flight on its one connection at all times: calls/s and CPU per call;
- ``aio_clients``: ``clients`` aio proxies (a connection each), all calling at once: every reply
  checked, latency per call (p50, p99, max).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable

from .common import percentile, use_event_loop

perf = time.perf_counter


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _pipelined(spec: dict[str, Any]) -> list[dict[str, float]]:
    from pyro_client import aio

    inflight, count = spec["inflight"], spec["count"]
    per_task = max(1, count // inflight)
    results = []
    async with aio.Proxy(spec["uri"]) as proxy:
        proxy._pyroSerializer = spec["serializer"]
        call = getattr(proxy, spec["method"])
        assert await asyncio.gather(*(call(n, 1) for n in range(inflight))) == [n + 1 for n in range(inflight)]

        async def caller(number: int) -> None:
            for _ in range(per_task):
                if await call(number, 1) != number + 1:
                    raise AssertionError("wrong result")

        for _ in range(spec["reps"]):
            cpu, start = time.process_time(), perf()
            await asyncio.gather(*(caller(n) for n in range(inflight)))
            total, cpu = perf() - start, time.process_time() - cpu
            calls = per_task * inflight
            results.append({"calls_per_s": calls / total, "client_cpu_us": cpu / calls * 1e6, "calls": calls})
    return results


async def _clients(spec: dict[str, Any]) -> list[dict[str, float]]:
    from pyro_client import aio

    count, calls = spec["clients"], spec["calls"]
    proxies = [aio.Proxy(spec["uri"]) for _ in range(count)]
    results = []
    try:
        for first in range(0, count, spec["connect_batch"]):  # (the listen backlog: not all at once)
            await asyncio.gather(*(proxy._pyroBind() for proxy in proxies[first : first + spec["connect_batch"]]))
        for _ in range(spec["reps"]):
            times: list[float] = []
            answered = 0

            async def client(proxy: Any, number: int, times: list[float] = times) -> None:
                nonlocal answered
                call = getattr(proxy, spec["method"])
                for index in range(calls):
                    started = perf()
                    result = await call(number, index)
                    times.append(perf() - started)
                    answered += result == number + index

            start = perf()
            await asyncio.gather(*(client(proxy, n) for n, proxy in enumerate(proxies)))
            total = perf() - start
            times.sort()
            results.append(
                {
                    "answered": answered,
                    "expected": count * calls,
                    "answered_pct": 100.0 * answered / (count * calls),
                    "calls_per_s": answered / total,
                    "p50_ms": percentile(times, 0.5) * 1e3,
                    "p99_ms": percentile(times, 0.99) * 1e3,
                    "max_ms": times[-1] * 1e3,
                }
            )
    finally:
        for proxy in proxies:
            await proxy._pyroRelease()
    return results


def _sync(workload: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], Any]:
    def run(spec: dict[str, Any]) -> Any:
        use_event_loop(spec.get("loop"))
        return _run(workload(spec))

    return run


AIO_WORKLOADS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "aio_pipelined": _sync(_pipelined),
    "aio_clients": _sync(_clients),
}
