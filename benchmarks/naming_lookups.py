"""Name server lookups per second, by storage: memory, SQLite, and PostgreSQL through one and
through two name servers sharing the database.

    hatch run bench:naming [--seconds 3] [--clients 4] [--postgresql URL]

Every name server is a ``pyro-ns`` process on 127.0.0.1 (no broadcast responder) holding
NAMES registrations; every client is a process of its own with one proxy calling
``lookup(name)`` in a loop for the given time (the clients start together and are spread
over the name servers in turn). Printed: lookups/s of all clients together, and the median
time of one lookup (the median over the clients), which a busy machine disturbs less. Without ``--postgresql`` a throwaway PostgreSQL cluster is
started for the run (Debian's binaries, as the tests use them; durable settings) and
removed after. A benchmark, not a test: the figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator, Optional

NAMES = 100
START_TIMEOUT = 30.0
CLUSTER_HELPER = Path(__file__).resolve().parent.parent / "packages/pyro-naming/tests/pgcluster.py"


def client(uri: str, start_at: float, seconds: float) -> None:
    """One client process: lookups until the time is up; prints how many were done and the
    median time of one (µs)."""
    from pyro_client import Proxy

    clock = time.perf_counter
    times = []
    with Proxy(uri) as ns:
        ns.lookup("bench.0")  # connected before the clock starts
        time.sleep(max(0.0, start_at - time.time()))
        end = clock() + seconds
        while clock() < end:
            started = clock()
            ns.lookup(f"bench.{len(times) % NAMES}")
            times.append(clock() - started)
    print(len(times), statistics.median(times) * 1e6)


@contextlib.contextmanager
def name_server(storage: str) -> Iterator[str]:
    """A pyro-ns process on ``storage``; yields its URI."""
    process = subprocess.Popen(
        [sys.executable, "-m", "pyro_naming", "-n", "127.0.0.1", "-p", "0", "-x", "-s", storage],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT
        for line in process.stdout:
            if line.startswith("URI = "):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("the name server did not start in time")
        else:
            raise RuntimeError(f"the name server ended before it started (storage {storage})")
        yield line.split(" = ", 1)[1].strip()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def fill(uri: str) -> None:
    from pyro_client import Proxy

    with Proxy(uri) as ns:
        for i in range(NAMES):
            ns.register(f"bench.{i}", f"PYRO:obj{i}@127.0.0.1:{5000 + i}", metadata={"bench"})


def measure(uris: list[str], clients: int, seconds: float) -> tuple[float, float]:
    """Lookups per second of ``clients`` client processes spread over the name servers ``uris``,
    and the median of their median lookup times (µs)."""
    start_at = time.time() + 1.5  # every client has started and connected by then
    command = [sys.executable, "-m", "benchmarks.naming_lookups", "--client"]
    processes = [
        subprocess.Popen(
            [*command, uris[n % len(uris)], str(start_at), str(seconds)], stdout=subprocess.PIPE, text=True
        )
        for n in range(clients)
    ]
    total, medians = 0, []
    for process in processes:
        out, _ = process.communicate(timeout=seconds + 60)
        if process.returncode != 0:
            raise RuntimeError(f"a client failed (exit code {process.returncode})")
        count, median = out.split()[-2:]
        total += int(count)
        medians.append(float(median))
    return total / seconds, statistics.median(medians)


@contextlib.contextmanager
def postgresql(url: Optional[str]) -> Iterator[str]:
    if url:
        yield url
        return
    spec = importlib.util.spec_from_file_location("pgcluster", CLUSTER_HELPER)
    assert spec is not None and spec.loader is not None
    pgcluster: Any = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pgcluster)
    with pgcluster.TemporaryCluster(durable=True) as cluster:
        cluster.sql("CREATE DATABASE pyro_bench")
        yield cluster.url("pyro_bench")


def run(seconds: float, clients: int, url: Optional[str]) -> list[tuple[str, int, int, float, float]]:
    rows = []
    with tempfile.TemporaryDirectory() as directory, postgresql(url) as pg_url:
        setups = [
            ("memory", "memory", 1),
            ("sqlite", f"sql:{Path(directory) / 'bench.sqlite'}", 1),
            ("postgresql", pg_url, 1),
            ("postgresql", pg_url, 2),
        ]
        for label, storage, servers in setups:
            with contextlib.ExitStack() as stack:
                uris = [stack.enter_context(name_server(storage)) for _ in range(servers)]
                fill(uris[0])
                counts = sorted({1, clients}) if servers == 1 else [clients]
                for count in counts:
                    rate, median = measure(uris, count, seconds)
                    rows.append((label, servers, count, rate, median))
                    print(
                        f"{label:<11} {servers} name server(s) {count} client(s): {rate:7.0f} lookups/s,"
                        f" median {median:5.0f} µs",
                        flush=True,
                    )
    return rows


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="measuring time per figure (default 3)")
    parser.add_argument("--clients", type=int, default=4, help="client processes for the concurrent figures")
    parser.add_argument("--postgresql", metavar="URL", help="an existing database to use (default: a throwaway one)")
    parser.add_argument("--client", nargs=3, metavar=("URI", "START", "SECONDS"), help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.client:
        client(options.client[0], float(options.client[1]), float(options.client[2]))
        return 0
    rows = run(options.seconds, options.clients, options.postgresql)
    print("\n| storage | name servers | clients | lookups/s | median lookup (µs) |\n|---|---|---|---|---|")
    for label, servers, count, rate, median in rows:
        print(f"| {label} | {servers} | {count} | {rate:.0f} | {median:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
