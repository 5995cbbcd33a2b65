"""Runs every scenario for both implementations and writes the results.

``python -m benchmarks [--quick | --smoke] [--out DIR] [--only SCENARIO,...]``
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import platform
import select
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from . import report
from .common import IMPLS, SERIALIZERS, raise_nofile, rss_bytes, summarize

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SERVER_CPU = 0
OTHER_CPU = 1 if (os.cpu_count() or 1) > 1 else 0

#: Counts per mode. "smoke" only proves the code paths (the test suite runs it).
MODES: dict[str, dict[str, Any]] = {
    "full": dict(
        reps=3,
        small=20000,
        small_warmup=2000,
        oneway=20000,
        payload_1m=20,
        payload_10m=5,
        thread_calls=3000,
        proc_calls=4000,
        connect=300,
        lookups=2000,
        pyroname=200,
        scale_conns=10000,
        scale_calls=2000,
        scale_reps=3,
        gateway_requests=200,
        serializers=SERIALIZERS,
        start_delay=1.5,
        procs=4,
        payload_serializers=("marshal", "msgpack", "pickle"),
        oneway_serializers=("serpent", "marshal"),
    ),
    "quick": dict(
        reps=2,
        small=3000,
        small_warmup=500,
        oneway=3000,
        payload_1m=5,
        payload_10m=2,
        thread_calls=400,
        proc_calls=800,
        connect=60,
        lookups=400,
        pyroname=30,
        scale_conns=2000,
        scale_calls=500,
        scale_reps=1,
        gateway_requests=150,
        serializers=SERIALIZERS,
        start_delay=1.5,
        procs=4,
        payload_serializers=("marshal", "msgpack", "pickle"),
        oneway_serializers=("serpent", "marshal"),
    ),
    "smoke": dict(
        reps=1,
        small=100,
        small_warmup=10,
        oneway=100,
        payload_1m=1,
        payload_10m=1,
        thread_calls=20,
        proc_calls=20,
        connect=5,
        lookups=20,
        pyroname=3,
        scale_conns=50,
        scale_calls=20,
        scale_reps=1,
        gateway_requests=10,
        serializers=("marshal",),
        start_delay=0.5,
        procs=2,
        payload_serializers=("marshal",),
        oneway_serializers=("marshal",),
    ),
}
SCENARIOS = ("small", "oneway", "payload", "concurrency", "connect", "naming", "gateway", "scale")
#: No single workload process may run longer than this (a hung peer must not hang the run).
WORKLOAD_TIMEOUT = 300.0
#: Calls and connection attempts in the scale scenario give up after this many seconds.
SCALE_TIMEOUT = 3.0


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    # both implementations read PYRO_* variables: none may leak into a fair comparison
    for name in list(env):
        if name.startswith("PYRO_"):
            del env[name]
    return env


@contextlib.contextmanager
def server(**spec: Any) -> Iterator[dict[str, Any]]:
    """A server process; yields the JSON line it prints (uri, pid, ...)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.servers", json.dumps(spec)],
        stdout=subprocess.PIPE,
        stdin=subprocess.PIPE,  # closed when we go: the server then exits (see servers.py)
        env=_env(),
        cwd=ROOT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 30.0)
        line = proc.stdout.readline() if ready else ""
        if not line:
            raise RuntimeError(f"server {spec} did not start")
        yield json.loads(line)
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        proc.terminate()
        try:
            proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def _command(spec: dict[str, Any]) -> list[str]:
    return [sys.executable, "-m", "benchmarks.workloads", json.dumps(spec)]


def workload(timeout: float = WORKLOAD_TIMEOUT, **spec: Any) -> Any:
    """Run one workload process to its end; its JSON result, or {"error": ...}."""
    try:
        done = subprocess.run(
            _command(spec),
            capture_output=True,
            text=True,
            env=_env(),
            cwd=ROOT,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        return {"error": f"exit {done.returncode}: {tail[0]}"}
    return json.loads(lines[-1])


def _in_turns(runs: dict[str, Callable[..., Any]], reps: int) -> dict[str, Any]:
    """Each run's repetitions taken in turns (ours, Pyro4, ours, Pyro4, ...): this machine's speed
    drifts by tens of percent over minutes, and taking turns lets a slow spell hit every run alike.
    A run's result is the list of its repetitions, or the first error it gave."""
    results: dict[str, Any] = {name: [] for name in runs}
    for _ in range(reps):
        for name, run in runs.items():
            if isinstance(results[name], dict):
                continue  # failed already
            result = run(reps=1)
            if isinstance(result, dict):
                results[name] = result
            else:
                results[name].extend(result)
    return results


def _values(result: Any, key: str) -> list[float | None]:
    if isinstance(result, dict):  # an error
        return []
    return [rep.get(key) for rep in result]


def _error(result: Any) -> str | None:
    return result.get("error") if isinstance(result, dict) else None


class Bench:
    #: what a run is made of (a subclass, e.g. benchmarks/aio.py, has its own), and its results' name
    SCENARIOS: tuple[str, ...] = SCENARIOS
    MODES: dict[str, dict[str, Any]] = MODES
    NAME = ""  # (the results are bench-<NAME>-<mode>.*, or bench-<mode>.* without one)
    PROG = "python -m benchmarks"

    def __init__(self, mode: str, only: set[str] | None, log: Any = sys.stderr) -> None:
        self.mode = mode
        self.cfg = self.MODES[mode]
        self.only = only
        self.records: list[dict[str, Any]] = []
        self.log = log

    def say(self, text: str) -> None:
        print(text, file=self.log, flush=True)

    def add(
        self,
        scenario: str,
        metric: str,
        unit: str,
        better: str,
        ours: Any,
        base: Any,
        key: str,
        baseline: str = "Pyro4",
        target: float | None = None,
        note: str = "",
    ) -> dict[str, Any]:
        """One table row: ours against a baseline (Pyro4, or the raw socket floor)."""
        mine = summarize(_values(ours, key))
        theirs = summarize(_values(base, key)) if base is not None else None
        ratio = None
        if theirs is not None and mine["median"] is not None and theirs["median"]:
            ratio = mine["median"] / theirs["median"]
        met = None
        if target is not None and ratio is not None:
            met = ratio >= target if better == "higher" else ratio <= target
        errors = [e for e in (_error(ours), _error(base) if base is not None else None) if e]
        row = {
            "scenario": scenario,
            "metric": metric,
            "unit": unit,
            "better": better,
            "baseline": baseline,
            "ours": mine,
            "base": theirs,
            "ratio": ratio,
            "target": target,
            "met": met,
            "note": "; ".join(filter(None, [note, *errors])),
        }
        self.records.append(row)
        self.say(report.row_text(row))
        return row

    def add_absolute(
        self,
        scenario: str,
        metric: str,
        unit: str,
        ours: list[float | None],
        limit: float | None,
        pyro4_text: str,
        note: str = "",
    ) -> None:
        """A row judged by an absolute limit (scale): ours against a number; Pyro4 described in words."""
        mine = summarize(ours)
        met = None if limit is None or mine["median"] is None else mine["median"] < limit
        row = {
            "scenario": scenario,
            "metric": metric,
            "unit": unit,
            "better": "lower",
            "baseline": "limit",
            "ours": mine,
            "base": None,
            "ratio": None,
            "target": limit,
            "met": met,
            "pyro4_text": pyro4_text,
            "note": note,
        }
        self.records.append(row)
        self.say(report.row_text(row))

    def wanted(self, scenario: str) -> bool:
        return self.only is None or scenario in self.only

    # -- scenarios ---------------------------------------------------------------------

    def run(self) -> None:
        raise_nofile()
        for scenario in self.SCENARIOS:
            if self.wanted(scenario):
                started = time.perf_counter()
                self.say(f"== {scenario}")
                getattr(self, "scenario_" + scenario)()
                self.say(f"   ({time.perf_counter() - started:.1f} s)")

    def _both(self, servers: dict[str, dict[str, Any]], **spec: Any) -> dict[str, Any]:
        reps = spec.pop("reps", 1)
        return _in_turns(
            {impl: functools.partial(workload, impl=impl, uri=servers[impl]["uri"], **spec) for impl in IMPLS},
            reps,
        )

    def scenario_small(self) -> None:
        cfg = self.cfg
        with (
            server(kind="raw", cpu=SERVER_CPU) as raw,
            server(kind="bench", impl="ours", cpu=SERVER_CPU) as ours,
            server(kind="bench", impl="pyro4", cpu=SERVER_CPU) as pyro4,
        ):
            servers = {"ours": ours, "pyro4": pyro4}
            floors = {}
            for where, cpu in (("same CPU", SERVER_CPU), ("different CPUs", OTHER_CPU)):
                floors[where] = workload(
                    workload="raw_small",
                    host=raw["host"],
                    port=raw["port"],
                    cpu=cpu,
                    count=cfg["small"],
                    warmup=cfg["small_warmup"],
                    reps=cfg["reps"],
                )
                self.add(
                    "floor",
                    f"raw socket 64 B request/response, {where}",
                    "µs p50",
                    "lower",
                    floors[where],
                    None,
                    "p50_us",
                    baseline="-",
                )
            for serializer in cfg["serializers"]:
                for where, cpu in (
                    ("same CPU", SERVER_CPU),
                    ("different CPUs", OTHER_CPU),
                ):
                    common = {"cpu": cpu, "count": cfg["small"], "warmup": cfg["small_warmup"]}
                    runs = {
                        impl: functools.partial(
                            workload,
                            workload="small",
                            impl=impl,
                            uri=servers[impl]["uri"],
                            serializer=serializer,
                            **common,
                        )
                        for impl in IMPLS
                    }
                    # the floor for the ratio is measured in the same turns as the calls it is compared with
                    runs["raw"] = functools.partial(
                        workload, workload="raw_small", host=raw["host"], port=raw["port"], **common
                    )
                    res = _in_turns(runs, cfg["reps"])
                    if where == "same CPU":
                        target = {
                            "marshal": 1 / 3,
                            "msgpack": 1 / 3,
                            "serpent": 1 / 2,
                        }.get(serializer)
                        self.add(
                            "small call",
                            f"add(), {serializer}, {where}: CPU µs per call",
                            "µs",
                            "lower",
                            res["ours"],
                            res["pyro4"],
                            "us_per_call",
                            target=target,
                        )
                    else:
                        self.add(
                            "small call",
                            f"add(), {serializer}, {where}: calls/s",
                            "calls/s",
                            "higher",
                            res["ours"],
                            res["pyro4"],
                            "calls_per_s",
                        )
                        self.add(
                            "small call",
                            f"add(), {serializer}, {where}: p50",
                            "µs",
                            "lower",
                            res["ours"],
                            res["pyro4"],
                            "p50_us",
                        )
                        self.add(
                            "small call",
                            f"add(), {serializer}, {where}: p99",
                            "µs",
                            "lower",
                            res["ours"],
                            res["pyro4"],
                            "p99_us",
                        )
                        self.add(
                            "small call",
                            f"add(), {serializer}, {where}: p50 vs raw socket floor",
                            "µs",
                            "lower",
                            res["ours"],
                            res["raw"],
                            "p50_us",
                            baseline="raw socket",
                            target=1.3,
                        )

    def scenario_oneway(self) -> None:
        cfg = self.cfg
        with (
            server(kind="bench", impl="ours", cpu=SERVER_CPU) as ours,
            server(kind="bench", impl="pyro4", cpu=SERVER_CPU) as pyro4,
        ):
            for serializer in cfg["oneway_serializers"]:
                res = self._both(
                    {"ours": ours, "pyro4": pyro4},
                    workload="oneway",
                    serializer=serializer,
                    cpu=OTHER_CPU,
                    count=cfg["oneway"],
                    reps=cfg["reps"],
                )
                self.add(
                    "oneway",
                    f"{cfg['oneway']} oneway calls + 1 call, {serializer}: calls/s",
                    "calls/s",
                    "higher",
                    res["ours"],
                    res["pyro4"],
                    "calls_per_s",
                    target=3.0,
                )

    def scenario_payload(self) -> None:
        """As a user's two scripts run it: for each size and serializer, fresh servers (ours, Pyro4,
        the raw socket floor), nothing pinned, and the three taken in turns."""
        cfg = self.cfg
        sizes = (
            (1 << 20, "1 MiB", cfg["payload_1m"]),
            (10 << 20, "10 MiB", cfg["payload_10m"]),
        )
        for size, label, count in sizes:
            big = size >= 10 << 20
            floors: list[Any] = []
            rows = []
            for serializer in cfg["payload_serializers"]:
                with (
                    server(kind="raw") as raw,
                    server(kind="bench", impl="ours") as ours,
                    server(kind="bench", impl="pyro4") as pyro4,
                ):
                    common = {"size": size, "count": count}
                    runs = {
                        impl: functools.partial(
                            workload,
                            workload="payload",
                            impl=impl,
                            uri=info["uri"],
                            serializer=serializer,
                            **common,
                        )
                        for impl, info in (("ours", ours), ("pyro4", pyro4))
                    }
                    runs["raw"] = functools.partial(
                        workload,
                        workload="raw_payload",
                        host=raw["host"],
                        port=raw["port"],
                        server_pid=raw["pid"],
                        **common,
                    )
                    res = _in_turns(runs, cfg["reps"])
                floors.append(res["raw"])
                rows.append((serializer, res))
            floor = [rep for result in floors if not isinstance(result, dict) for rep in result] or floors[0]
            self.add("floor", f"raw socket echo {label}", "MB/s", "higher", floor, None, "mb_per_s", baseline="-")
            for serializer, res in rows:
                name = f"echo {label} bytes, {serializer}"
                self.add(
                    "payload",
                    name,
                    "MB/s",
                    "higher",
                    res["ours"],
                    res["pyro4"],
                    "mb_per_s",
                    target=1.5 if big else None,
                )
                self.add(
                    "payload",
                    f"{name}: MB per CPU second",
                    "MB/CPU s",
                    "higher",
                    res["ours"],
                    res["pyro4"],
                    "mb_per_cpu_s",
                )
                if big:  # (the floor of the same turns)
                    self.add(
                        "payload",
                        f"{name}, vs raw socket floor",
                        "MB/s",
                        "higher",
                        res["ours"],
                        res["raw"],
                        "mb_per_s",
                        baseline="raw socket",
                        target=0.7,
                    )

    def scenario_concurrency(self) -> None:
        cfg = self.cfg
        for servertype in ("thread", "multiplex"):
            with (
                server(kind="bench", impl="ours", servertype=servertype, cpu=SERVER_CPU) as ours,
                server(kind="bench", impl="pyro4", servertype=servertype, cpu=SERVER_CPU) as pyro4,
            ):
                # server on one CPU, the 8-thread client on the other (unpinned, the scheduler's
                # placement of the two processes made this figure vary from run to run);
                # the client processes are left to the scheduler
                servers = {"ours": ours, "pyro4": pyro4}
                res = self._both(
                    servers,
                    workload="threads",
                    serializer="marshal",
                    cpu=OTHER_CPU,
                    threads=8,
                    count=cfg["thread_calls"],
                    reps=cfg["reps"],
                )
                self.add(
                    "concurrency",
                    f"8 threads, a proxy each, {servertype} server, marshal",
                    "calls/s",
                    "higher",
                    res["ours"],
                    res["pyro4"],
                    "calls_per_s",
                    target=2.0,
                )
                nprocs = cfg["procs"]
                res = {impl: self._processes(servers[impl]["uri"], impl, nprocs) for impl in IMPLS}
                self.add(
                    "concurrency",
                    f"{nprocs} client processes, {servertype} server, marshal",
                    "calls/s",
                    "higher",
                    res["ours"],
                    res["pyro4"],
                    "calls_per_s",
                )

    def _processes(self, uri: str, impl: str, nprocs: int = 4) -> Any:
        """``nprocs`` client processes calling at once; aggregate calls/s per repetition.

        Each repetition is a fresh set of processes that connect, then start calling at
        one agreed time; the figure is all their calls over first start to last end.
        """
        count = self.cfg["proc_calls"]
        results: list[dict[str, float]] = []
        for _ in range(self.cfg["reps"]):
            start_at = time.time() + self.cfg["start_delay"]  # time for every process to start and connect
            spec = dict(
                workload="timed_calls",
                impl=impl,
                uri=uri,
                serializer="marshal",
                count=count,
                starts=[start_at],
            )
            procs = [
                subprocess.Popen(
                    _command(spec),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    env=_env(),
                    cwd=ROOT,
                )
                for _ in range(nprocs)
            ]
            runs = []
            for proc in procs:
                try:
                    out, err = proc.communicate(timeout=WORKLOAD_TIMEOUT)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.communicate()
                    return {"error": "client process timed out"}
                if proc.returncode != 0:
                    return {"error": f"client process failed: {(err.strip().splitlines() or ['?'])[-1]}"}
                runs.append(json.loads(out.strip().splitlines()[-1])[0])
            begin = min(run["start"] for run in runs)
            end = max(run["end"] for run in runs)
            results.append({"calls_per_s": nprocs * count / (end - begin)})
        return results

    def scenario_connect(self) -> None:
        cfg = self.cfg
        with (
            server(kind="bench", impl="ours", cpu=SERVER_CPU) as ours,
            server(kind="bench", impl="pyro4", cpu=SERVER_CPU) as pyro4,
        ):
            res = self._both(
                {"ours": ours, "pyro4": pyro4},
                workload="connect",
                serializer="serpent",
                cpu=OTHER_CPU,
                count=cfg["connect"],
                reps=cfg["reps"],
            )
            self.add(
                "connect",
                "new proxy + first call + release, serpent",
                "µs",
                "lower",
                res["ours"],
                res["pyro4"],
                "us_per_call",
                target=0.5,
            )

    def scenario_naming(self) -> None:
        cfg = self.cfg
        with (
            server(kind="ns", impl="ours", cpu=SERVER_CPU) as ours,
            server(kind="ns", impl="pyro4", cpu=SERVER_CPU) as pyro4,
        ):
            res = {
                impl: workload(
                    workload="naming",
                    impl=impl,
                    ns_uri=srv["ns_uri"],
                    serializer="serpent",
                    cpu=OTHER_CPU,
                    count=cfg["lookups"],
                    reps=cfg["reps"],
                )
                for impl, srv in (("ours", ours), ("pyro4", pyro4))
            }
            self.add(
                "naming",
                f"{cfg['lookups']} lookups on one name server proxy, serpent",
                "ops/s",
                "higher",
                res["ours"],
                res["pyro4"],
                "ops_per_s",
                target=2.0,
            )
            res = {
                impl: workload(
                    workload="pyroname",
                    impl=impl,
                    ns_host=srv["ns_host"],
                    ns_port=srv["ns_port"],
                    serializer="serpent",
                    cpu=OTHER_CPU,
                    count=cfg["pyroname"],
                    reps=cfg["reps"],
                )
                for impl, srv in (("ours", ours), ("pyro4", pyro4))
            }
            self.add(
                "naming",
                "fresh PYRONAME: proxy + call, serpent",
                "µs",
                "lower",
                res["ours"],
                res["pyro4"],
                "us_per_call",
            )

    def scenario_gateway(self) -> None:
        """Each gateway in its own process (on the server CPU) in front of its own implementation's
        name server and object (another process, left to the scheduler), as gateways are run."""
        cfg = self.cfg
        with (
            server(kind="ns", impl="ours") as ours_ns,
            server(kind="ns", impl="pyro4") as pyro4_ns,
            server(
                kind="gateway", impl="ours", cpu=SERVER_CPU, ns_host=ours_ns["ns_host"], ns_port=ours_ns["ns_port"]
            ) as ours,
            server(
                kind="gateway",
                impl="ours",
                server="waitress",
                cpu=SERVER_CPU,
                ns_host=ours_ns["ns_host"],
                ns_port=ours_ns["ns_port"],
            ) as waitress,
            server(
                kind="gateway", impl="pyro4", cpu=SERVER_CPU, ns_host=pyro4_ns["ns_host"], ns_port=pyro4_ns["ns_port"]
            ) as pyro4,
        ):
            gateways = {"ours": ours, "waitress": waitress, "pyro4": pyro4}
            res = _in_turns(
                {
                    name: functools.partial(
                        workload,
                        workload="gateway",
                        url=srv["url"],
                        cpu=OTHER_CPU,
                        count=cfg["gateway_requests"],
                        warmup=20,
                    )
                    for name, srv in gateways.items()
                },
                cfg["reps"],
            )
            for name, how in (
                ("ours", "wsgiref, a connection per request"),
                ("waitress", "ours on waitress, keep-alive"),
            ):
                self.add(
                    "gateway",
                    f"GET add() through the HTTP gateway ({how}): calls/s",
                    "calls/s",
                    "higher",
                    res[name],
                    res["pyro4"],
                    "calls_per_s",
                )
            self.add(
                "gateway",
                "GET add() through the HTTP gateway (wsgiref): p50",
                "µs",
                "lower",
                res["ours"],
                res["pyro4"],
                "p50_us",
            )

    def scenario_scale(self) -> None:
        cfg = self.cfg
        p99s: list[float | None] = []
        per_conn: list[float | None] = []
        notes = []
        for _ in range(cfg["scale_reps"]):
            p99, mem, note = self._hold_and_measure("ours", cfg["scale_conns"])
            p99s.append(p99)
            per_conn.append(mem)
            if note:
                notes.append(note)
        _, pyro4_mem, pyro4_note = self._hold_and_measure("pyro4", cfg["scale_conns"])
        label = f"{cfg['scale_conns']} idle connections held, thread server"
        self.add_absolute(
            "scale",
            f"{label}: new client's call p99",
            "ms",
            p99s,
            20.0,
            pyro4_note,
            "; ".join(notes),
        )
        mem_text = f"{pyro4_mem / 1024:.1f} KiB per held connection" if pyro4_mem else "-"
        self.add_absolute(
            "scale",
            f"{label}: server memory per connection",
            "KiB",
            [m / 1024 if m is not None else None for m in per_conn],
            20.0,
            mem_text,
        )

    def _hold_and_measure(self, impl: str, count: int) -> tuple[float | None, float | None, str]:
        """Hold ``count`` connections on a fresh server; a new client's p99 (ms), server bytes per connection."""
        cfg = self.cfg
        with server(kind="bench", impl=impl, cpu=SERVER_CPU) as srv:
            # one call first, so the server's code paths have allocated what every call needs
            workload(
                workload="latency",
                impl=impl,
                uri=srv["uri"],
                serializer="serpent",
                count=10,
                reps=1,
                call_timeout=SCALE_TIMEOUT,
                cpu=OTHER_CPU,
            )
            time.sleep(0.2)
            before = rss_bytes(srv["pid"])
            spec = dict(
                workload="hold",
                impl=impl,
                uri=srv["uri"],
                serializer="serpent",
                count=count,
                call_timeout=SCALE_TIMEOUT,
                cpu=OTHER_CPU,
            )
            holder = subprocess.Popen(
                _command(spec),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=_env(),
                cwd=ROOT,
            )
            try:
                assert holder.stdout is not None and holder.stdin is not None
                ready, _, _ = select.select([holder.stdout], [], [], WORKLOAD_TIMEOUT)
                line = holder.stdout.readline() if ready else ""
                if not line:
                    return None, None, "the holding client did not report"
                held = json.loads(line)
                time.sleep(0.5)
                after = rss_bytes(srv["pid"])
                mem = (after - before) / held["held"] if held["held"] else None
                lat = workload(
                    workload="latency",
                    impl=impl,
                    uri=srv["uri"],
                    serializer="serpent",
                    count=cfg["scale_calls"],
                    reps=1,
                    call_timeout=SCALE_TIMEOUT,
                    cpu=OTHER_CPU,
                )
                self.say(
                    f"   {impl}: held {held['held']} in {held['seconds']:.1f} s"
                    f"{' then ' + held['error'] if held['error'] else ''}; new client: {lat}"
                )
                rep = lat[0] if isinstance(lat, list) else lat
                if "error" in rep:
                    note = (
                        f"held {held['held']} connections, then "
                        f"{held['error'] or 'no error'}; a new client then got {rep['error']}"
                    )
                    return None, mem, note
                note = f"held {held['held']} connections" + (f", then {held['error']}" if held["error"] else "")
                return rep["p99_us"] / 1e3, mem, note if held["held"] < count else ""
            finally:
                if holder.stdin is not None:
                    holder.stdin.close()
                try:
                    holder.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    holder.kill()
                    holder.wait()
                for stream in (holder.stdout, holder.stderr):
                    if stream is not None:
                        stream.close()


def main(argv: list[str] | None = None, bench_class: type[Bench] = Bench, doc: str | None = __doc__) -> int:
    scenarios = bench_class.SCENARIOS
    parser = argparse.ArgumentParser(prog=bench_class.PROG, description=doc)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="smaller counts (about 2 minutes)")
    group.add_argument(
        "--smoke",
        action="store_true",
        help="tiny counts: only proves that everything runs",
    )
    parser.add_argument("--out", default=os.path.join(HERE, "results"), help="folder for the results")
    parser.add_argument("--only", help=f"comma-separated scenarios out of: {', '.join(scenarios)}")
    parser.add_argument("--no-chart", action="store_true", help="skip the PNG chart")
    args = parser.parse_args(argv)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    only = set(args.only.split(",")) if args.only else None
    if only and only - set(scenarios):
        parser.error(f"unknown scenario(s): {', '.join(sorted(only - set(scenarios)))}")
    bench = bench_class(mode, only)
    started = time.time()
    bench.run()
    name = f"{bench_class.NAME}-{mode}" if bench_class.NAME else mode
    meta = {
        "mode": name,
        "command": " ".join([bench_class.PROG, *(argv if argv is not None else sys.argv[1:])]),
        "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
        "seconds": round(time.time() - started, 1),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "counts": bench.cfg,
    }
    paths = report.write(args.out, name, meta, bench.records, chart=not args.no_chart)
    print(report.markdown(meta, bench.records))
    for path in paths:
        print(f"wrote {path}")
    return 0
