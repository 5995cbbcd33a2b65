"""Helpers shared by the benchmark processes: the two implementations, CPU pinning, limits, statistics."""

from __future__ import annotations

import itertools
import os
import resource
import statistics
from typing import Any

IMPLS = ("ours", "pyro4")
SERIALIZERS = ("serpent", "json", "marshal", "msgpack", "pickle")


def pin(cpu: int | None) -> None:
    """Pin this process (all its threads, present and future) to one CPU; None leaves it free."""
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu % (os.cpu_count() or 1)})


def use_event_loop(kind: str | None) -> None:
    """Have every asyncio loop made in this process be of ``kind``: "uvloop", else asyncio's own."""
    if kind == "uvloop":
        import asyncio

        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def raise_nofile() -> int:
    """Raise the open-file soft limit to the hard limit; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft


def rss_bytes(pid: int) -> int:
    """Resident set size of a process, from /proc (0 where there is no /proc)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


def summarize(samples: list[float]) -> dict[str, Any]:
    """Median of the repetitions and their spread (half the min-max range, relative to the median)."""
    clean = [s for s in samples if s is not None]
    if not clean:
        return {
            "median": None,
            "min": None,
            "max": None,
            "spread": None,
            "samples": samples,
        }
    median = statistics.median(clean)
    spread = (max(clean) - min(clean)) / 2 / median if median else 0.0
    return {
        "median": median,
        "min": min(clean),
        "max": max(clean),
        "spread": spread,
        "samples": clean,
    }


class Client:
    """The client API of either implementation, behind the few names the workloads use."""

    def __init__(self, impl: str, serializer: str = "serpent") -> None:
        self.impl = impl
        if impl == "pyro4":
            import Pyro4
            import Pyro4.errors

            Pyro4.config.SERIALIZER = serializer
            self.Proxy = Pyro4.Proxy
            self.locateNS = Pyro4.locateNS
            self.CommunicationError = Pyro4.errors.CommunicationError
            self.config = Pyro4.config
        else:
            import pyro_client
            from pyro_protocol.config import config

            config.SERIALIZER = serializer
            self.Proxy = pyro_client.Proxy
            self.locateNS = pyro_client.locateNS
            self.CommunicationError = pyro_client.CommunicationError
            self.config = config


class Counter:
    """A thread-safe enough counter for oneway calls (next() on itertools.count is atomic in CPython)."""

    def __init__(self) -> None:
        self._count = itertools.count()
        self.value = 0

    def tick(self) -> None:
        self.value = next(self._count) + 1
