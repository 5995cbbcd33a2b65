"""The benchmarks run end to end with tiny counts and write their JSON (no timing is checked)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_benchmarks_smoke_run_writes_results(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--smoke",
            "--no-chart",
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "bench-smoke.json").read_text())
    assert results["meta"]["mode"] == "smoke"
    rows = results["results"]
    assert {row["scenario"] for row in rows} == {
        "floor",
        "small call",
        "oneway",
        "payload",
        "concurrency",
        "connect",
        "naming",
        "gateway",
        "scale",
    }
    for row in rows:
        assert row["ours"]["median"] is not None, row  # every code path of ours produced a figure
        if row["baseline"] == "Pyro4":
            assert row["base"]["median"] is not None, row
            assert row["ratio"] is not None, row
    assert "| scenario |" in (tmp_path / "bench-smoke.md").read_text()


def test_aio_benchmarks_smoke_run_writes_results(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.aio", "--smoke", "--no-chart", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads((tmp_path / "bench-aio-smoke.json").read_text())["results"]
    assert {row["scenario"] for row in rows} == {"pipelined", "clients"}  # (instructions: not in a smoke run)
    for row in rows:
        assert row["ours"]["median"] is not None, row
    answered = [row for row in rows if row["metric"].endswith("calls answered")]
    assert answered and answered[0]["ours"]["median"] == 100.0
