"""Soak test, on demand (not part of `hatch test`): `hatch run soak [SECONDS] [CLIENTS]`.

Runs a daemon in a child process and CLIENTS threads (default 32) calling it for
SECONDS (default 60) with a mix of normal calls, oneway calls and reconnects.
Every result is checked; every oneway call must arrive exactly once; the daemon's
memory must stay flat. Exits non-zero on any failure.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pyro_client

SERVER = r"""
import threading, pyro_server
class Counter:
    def __init__(self):
        self.lock = threading.Lock()
        self.seen = {}
    def echo(self, value):
        return value
    @pyro_server.oneway
    def record(self, client, n):
        with self.lock:
            self.seen.setdefault(client, []).append(n)
    def received(self, client):
        with self.lock:
            return sorted(self.seen.get(client, []))
daemon = pyro_server.Daemon(host="127.0.0.1")
print("uri=", daemon.register(Counter(), "counter"), flush=True)
daemon.requestLoop()
"""


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def client(index: int, uri: str, until: float, problems: list[str], counts: list[int]) -> None:
    sent = 0
    calls = 0
    proxy = pyro_client.Proxy(uri)
    try:
        while time.monotonic() < until:
            value = f"{index}-{calls}"
            if proxy.echo(value) != value:
                problems.append(f"client {index}: wrong echo for {value}")
            proxy.record(index, sent)
            sent += 1
            calls += 1
            if calls % 200 == 0:
                proxy._pyroRelease()  # reconnect on the next call
        time.sleep(1.0)  # let the last oneway calls land
        received = proxy.received(index)
        if received != list(range(sent)):
            problems.append(
                f"client {index}: sent {sent} oneway calls, server has {len(received)} (lost or duplicated)"
            )
        counts.append(calls)
    except Exception as error:  # any failure is a finding of the soak test
        problems.append(f"client {index}: {type(error).__name__}: {error}")
    finally:
        proxy._pyroRelease()


def main() -> int:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    clients = int(sys.argv[2]) if len(sys.argv) > 2 else 32
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parent
    )
    try:
        assert server.stdout is not None
        uri = server.stdout.readline().split("=", 1)[1].strip()
        problems: list[str] = []
        counts: list[int] = []
        start_memory = rss_kib(server.pid)
        until = time.monotonic() + seconds
        threads = [threading.Thread(target=client, args=(i, uri, until, problems, counts)) for i in range(clients)]
        for thread in threads:
            thread.start()
        samples = []
        while any(thread.is_alive() for thread in threads):
            samples.append(rss_kib(server.pid))
            time.sleep(1.0)
        for thread in threads:
            thread.join()
        end_memory = rss_kib(server.pid)
        total = sum(counts)
        print(
            f"soak: {clients} clients, {seconds:.0f} s, {total} calls + {total} oneway calls, "
            f"{total / seconds:.0f} calls/s; server RSS {start_memory} -> {end_memory} KiB "
            f"(max {max(samples or [0])} KiB)"
        )
        if end_memory - start_memory > 50 * 1024 and seconds >= 30:
            problems.append(f"server memory grew by {end_memory - start_memory} KiB")
        for problem in problems:
            print("PROBLEM:", problem)
        return 1 if problems else 0
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    sys.exit(main())
