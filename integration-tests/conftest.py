"""Helpers for tests that run real processes: start, read a line, always stop."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator, Optional

import pytest

ROOT = Path(__file__).resolve().parent.parent


class Process:
    """A child process whose stdout lines are collected by a reader thread."""

    def __init__(self, args: list[str], env: Optional[dict[str, str]] = None, cwd: Optional[Path] = None) -> None:
        full_env = dict(os.environ)
        full_env["PYTHONUNBUFFERED"] = "1"
        full_env.update(env or {})
        self.args = args
        self.popen = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=full_env, cwd=cwd or ROOT
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.output.append(line)
            self.lines.put(line)
        self.popen.stdout.close()

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        """The first line (from now on) containing ``text``; fails with the output so far."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{self.args} did not print {text!r} in {timeout} s; output:\n{self.text}")
            try:
                line = self.lines.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                if self.popen.poll() is not None and self.lines.empty():
                    raise AssertionError(f"{self.args} exited ({self.popen.returncode}); output:\n{self.text}")
                continue
            if text in line:
                return line.strip()

    @property
    def text(self) -> str:
        return "".join(self.output)

    def stop(self, timeout: float = 10.0) -> int:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout)
        self.reader.join(timeout)
        return self.popen.returncode


def _spawner() -> Iterator:
    started: list[Process] = []

    def start(
        args: list[str], env: Optional[dict[str, str]] = None, cwd: Optional[Path] = None, netns: str = ""
    ) -> Process:
        # (`ip netns exec` execs the command: the process's pid is Python's own)
        prefix = ["ip", "netns", "exec", netns] if netns else []
        process = Process([*prefix, sys.executable, *args], env, cwd)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture()
def spawn() -> Iterator:
    """``spawn(args, env=None, cwd=None, netns="")`` starts a Python child (in network namespace
    ``netns`` if given); all are stopped when the test ends."""
    yield from _spawner()


@pytest.fixture(scope="module")
def module_spawn() -> Iterator:
    """Like ``spawn``, for processes shared by a whole test module."""
    yield from _spawner()


@pytest.fixture()
def memory_of():
    """``memory_of(pid)`` -> {"VmRSS": KiB, "VmHWM": KiB (peak)}."""
    return rss_kib


def rss_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in KiB."""
    values = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                name, amount, _unit = line.split()
                values[name[:-1]] = int(amount)
    return values
