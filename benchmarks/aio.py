"""The asyncio benchmarks: ``hatch run bench:aio`` (``python -m benchmarks.aio [--quick | --smoke]``).

- pipelined: one aio proxy with 1,000 calls in flight against our asyncio server (an ``async
  def`` method on its loop, and a plain one in its worker threads; the ``async def`` one again
  with uvloop's event loop in both processes), against genuine Pyro4 4.82 with 8 threads each
  holding its own proxy against Pyro4's thread server; server on one CPU, client on the
  other, the repetitions of the four taken in turns;
- clients: 1,000 connected aio clients (a connection each) calling at once against one asyncio
  server: every reply is checked; latency per call;
- instructions: instructions per small call (client + server in one process, callgrind) through
  the aio path (aio proxy, asyncio server), beside the sync path's (``benchmarks/callgrind.py``).

Results go to ``benchmarks/results/bench-aio-<mode>.{json,md,png}``, in the format of
``python -m benchmarks`` (whose options it takes).
"""

from __future__ import annotations

import functools
import os
import shutil
from typing import Any

from . import callgrind, runner
from .runner import OTHER_CPU, SERVER_CPU, Bench, _in_turns, server, workload

MODES: dict[str, dict[str, Any]] = {
    "full": dict(
        reps=5,
        inflight=1000,
        count=30000,
        thread_calls=3000,
        serializers=("serpent", "marshal"),
        clients=1000,
        client_calls=20,
        client_reps=3,
        callgrind=(500, 1500),
    ),
    "quick": dict(
        reps=3,
        inflight=1000,
        count=10000,
        thread_calls=1000,
        serializers=("serpent", "marshal"),
        clients=1000,
        client_calls=5,
        client_reps=1,
        callgrind=(200, 600),
    ),
    "smoke": dict(
        reps=1,
        inflight=100,
        count=500,
        thread_calls=50,
        serializers=("marshal",),
        clients=20,
        client_calls=2,
        client_reps=1,
        callgrind=None,
    ),
}
SCENARIOS = ("pipelined", "clients", "instructions")
#: The Pyro4 baseline of the pipelined scenario: threads, each with a proxy of its own.
PYRO4_THREADS = 8
#: Connections opened at once by the clients scenario (the server's listen backlog is 100).
CONNECT_BATCH = 50
#: Calls in flight in the pipelined callgrind variant.
CALLGRIND_INFLIGHT = 100

#: One process, one loop: an asyncio server and an aio proxy calling ``add(1, 2)`` from as many
#: tasks as calls are to be in flight, each calling one after the other (argv: calls, serializer,
#: calls in flight).
AIO_PROGRAM = """
import asyncio, sys
from pyro_protocol.config import config
config.SERIALIZER = sys.argv[2]
from pyro_server import Daemon
from pyro_client import aio

class Calc:
    async def add(self, a, b):
        return a + b

async def main():
    daemon = Daemon(host="127.0.0.1")
    uri = daemon.register(Calc())
    serving = asyncio.create_task(daemon.serve())
    inflight = int(sys.argv[3])
    async with aio.Proxy(uri) as proxy:
        async def caller():
            for _ in range((300 + int(sys.argv[1])) // inflight):
                await proxy.add(1, 2)

        await asyncio.gather(*(caller() for _ in range(inflight)))
    daemon.shutdown()
    await serving
    daemon.close()

asyncio.run(main())
"""


class AioBench(Bench):
    SCENARIOS = SCENARIOS
    MODES = MODES
    NAME = "aio"
    PROG = "python -m benchmarks.aio"

    def scenario_pipelined(self) -> None:
        cfg = self.cfg
        with (
            server(kind="bench", impl="ours", servertype="asyncio", cpu=SERVER_CPU) as ours,
            server(kind="bench", impl="ours", servertype="asyncio", loop="uvloop", cpu=SERVER_CPU) as ours_uv,
            server(kind="bench", impl="pyro4", servertype="thread", cpu=SERVER_CPU) as pyro4,
        ):
            for serializer in cfg["serializers"]:
                aio = functools.partial(
                    workload,
                    workload="aio_pipelined",
                    uri=ours["uri"],
                    serializer=serializer,
                    inflight=cfg["inflight"],
                    count=cfg["count"],
                    cpu=OTHER_CPU,
                )
                runs = {
                    "async": functools.partial(aio, method="aadd"),
                    "plain": functools.partial(aio, method="add"),
                    "uvloop": functools.partial(aio, method="aadd", uri=ours_uv["uri"], loop="uvloop"),
                    "pyro4": functools.partial(
                        workload,
                        workload="threads",
                        impl="pyro4",
                        uri=pyro4["uri"],
                        serializer=serializer,
                        threads=PYRO4_THREADS,
                        count=cfg["thread_calls"],
                        cpu=OTHER_CPU,
                    ),
                }
                pids = {"async": ours["pid"], "plain": ours["pid"], "uvloop": ours_uv["pid"], "pyro4": pyro4["pid"]}
                runs = {kind: _with_server_cpu(run, pids[kind]) for kind, run in runs.items()}
                results = _in_turns(runs, cfg["reps"])
                base = f"Pyro4: {PYRO4_THREADS} threads, a proxy each, its thread server"
                for kind, what in (
                    ("async", "async def method (on the loop)"),
                    ("plain", "plain method (worker pool)"),
                    ("uvloop", "async def method, uvloop's event loop on both sides"),
                ):
                    metric = f"one aio proxy, {cfg['inflight']} calls in flight, {what}, {serializer}"
                    self.add(
                        "pipelined",
                        metric,
                        "calls/s",
                        "higher",
                        results[kind],
                        results["pyro4"],
                        "calls_per_s",
                        target=None if kind == "uvloop" else 5.0,  # (the target is for asyncio's own loop)
                        note=base,
                    )
                    self.add(
                        "pipelined",
                        metric + ": CPU per call, client + server",
                        "µs",
                        "lower",
                        results[kind],
                        results["pyro4"],
                        "cpu_us",
                        note="process CPU time: what a call costs whatever else the machine runs",
                    )

    def scenario_clients(self) -> None:
        cfg = self.cfg
        with server(kind="bench", impl="ours", servertype="asyncio", cpu=SERVER_CPU) as ours:
            result = workload(
                workload="aio_clients",
                uri=ours["uri"],
                method="aadd",
                serializer="marshal",
                clients=cfg["clients"],
                calls=cfg["client_calls"],
                connect_batch=CONNECT_BATCH,
                reps=cfg["client_reps"],
                cpu=OTHER_CPU,
            )
        reps = result if isinstance(result, list) else []
        note = result.get("error", "") if isinstance(result, dict) else ""
        what = f"{cfg['clients']} aio clients calling at once ({cfg['client_calls']} calls each), asyncio server"
        rows = (("answered", "calls answered", "%", "answered_pct"), ("p50", "latency p50", "ms", "p50_ms"))
        rows += (("p99", "latency p99", "ms", "p99_ms"), ("rate", "throughput", "calls/s", "calls_per_s"))
        for _, label, unit, key in rows:
            self.add_absolute("clients", f"{what}: {label}", unit, [rep[key] for rep in reps], None, "-", note)

    def scenario_instructions(self) -> None:
        counts = self.cfg["callgrind"]
        if counts is None:
            return
        if shutil.which("valgrind") is None:
            self.say("   valgrind is not installed: no instruction counts")
            return
        few, many = counts

        def per_call(program: str, *args: str) -> list[dict[str, float]]:
            total = callgrind.instructions(program, many, "marshal", *args)
            return [{"value": (total - callgrind.instructions(program, few, "marshal", *args)) / (many - few)}]

        sync = per_call(callgrind.OURS, "thread")
        self.add_absolute(
            "instructions", "sync path: Proxy, thread server", "instructions/call", [sync[0]["value"]], None, "-"
        )
        for inflight in (1, CALLGRIND_INFLIGHT):
            self.add(
                "instructions",
                f"aio path: aio proxy, asyncio server, async def, {inflight} in flight",
                "instructions/call",
                "lower",
                per_call(AIO_PROGRAM, str(inflight)),
                sync,
                "value",
                baseline="sync path",
                note="add(1, 2), marshal, client + server in one process",
            )


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc; 0 where there is none)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _with_server_cpu(run: Any, pid: int) -> Any:
    """``run`` (a workload), with the server's CPU per call added to each repetition (``cpu_us``:
    the client's own and the server's, per call; the server's counts a workload's warm-up calls too)."""

    def measured(**spec: Any) -> Any:
        before = _cpu_seconds(pid)
        result = run(**spec)
        spent = _cpu_seconds(pid) - before
        if isinstance(result, list):
            calls = sum(rep.get("calls", 0) for rep in result) or None
            for rep in result:
                share = spent / calls * 1e6 if calls else None
                if share is not None and rep.get("client_cpu_us") is not None:
                    rep["cpu_us"] = rep["client_cpu_us"] + share
        return result

    return measured


def main(argv: list[str] | None = None) -> int:
    return runner.main(argv, AioBench, __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
