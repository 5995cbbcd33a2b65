"""Shared fixtures: config snapshots, the genuine Pyro4 package, free ports, a name server
daemon in a thread, storages of every kind (PostgreSQL in a throwaway cluster started once
per session), and ``python -m pyro_naming`` as a process."""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import pytest

from pyro_naming import NameServerDaemon, Storage, make_storage
from pyro_protocol.config import config

STORAGE_KINDS = ["memory", "sql", "dbm", "postgresql"]
PERSISTENT_KINDS = ["sql", "dbm", "postgresql"]
#: How long a test waits for a process or thread to come up or go away.
START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0


@pytest.fixture(autouse=True)
def restore_config() -> Iterator[None]:
    """Every test may change the global config; it is put back afterwards."""
    saved = config.asDict()
    yield
    for item, value in saved.items():
        setattr(config, item, value)


@pytest.fixture()
def pyro4() -> Iterator[Any]:
    """The genuine Pyro4 4.82 package, with its config restored after the test."""
    import Pyro4

    saved = Pyro4.config.asDict()
    yield Pyro4
    for item, value in saved.items():
        setattr(Pyro4.config, item, value)


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture()
def free_port() -> Callable[..., int]:
    """``free_port()`` a free TCP port on 127.0.0.1; ``free_port(udp=True)`` a free UDP port."""
    return lambda udp=False: _free_port(socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)


def _load_pgcluster() -> Any:
    """pgcluster.py beside this file (test modules cannot import each other in importlib mode)."""
    spec = importlib.util.spec_from_file_location("pyro_naming_pgcluster", Path(__file__).with_name("pgcluster.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pgcluster = _load_pgcluster()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Any]:
    """One PostgreSQL cluster for the session (a unix socket in a temp dir, no TCP port), with
    a database ``pyro``; skipped only where the PostgreSQL binaries are not installed."""
    if pgcluster.find_binaries() is None:
        pytest.skip(
            "PostgreSQL is not installed: no initdb, pg_ctl and postgres in /usr/lib/postgresql/*/bin "
            "or on PATH (Debian's postgresql package; .ci/run installs it)"
        )
    with pgcluster.TemporaryCluster() as cluster:
        cluster.sql("CREATE DATABASE pyro")
        yield cluster


_schema_numbers = itertools.count(1)


@pytest.fixture()
def pg_url(pg_cluster: Any) -> Iterator[str]:
    """A URL of the session's PostgreSQL database with a schema of the test's own as its
    search_path (so every test starts with an empty registry); dropped afterwards."""
    schema = f"test_{os.getpid()}_{next(_schema_numbers)}"
    pg_cluster.sql(f"CREATE SCHEMA {schema}", "pyro")
    yield pg_cluster.url("pyro", options=f"-csearch_path={schema}")
    pg_cluster.sql(f"DROP SCHEMA {schema} CASCADE", "pyro")


def storage_spec(kind: str, directory: Path, request: pytest.FixtureRequest) -> str:
    """The ``-s`` spelling of a storage of ``kind`` (in ``directory``, or the test's PostgreSQL schema)."""
    if kind == "postgresql":
        return str(request.getfixturevalue("pg_url"))
    return {"memory": "memory", "sql": f"sql:{directory / 'names.sqlite'}", "dbm": f"dbm:{directory / 'names.dbm'}"}[
        kind
    ]


@pytest.fixture()
def spec_of(tmp_path: Path, request: pytest.FixtureRequest) -> Callable[[str], str]:
    """``spec_of(kind)``: the ``-s`` spelling of a storage of that kind for this test (as new_storage opens it)."""
    return lambda kind: storage_spec(kind, tmp_path, request)


@pytest.fixture()
def new_storage(tmp_path: Path, request: pytest.FixtureRequest) -> Callable[[str], Storage]:
    """``new_storage(kind)`` opens a storage of that kind in the test's tmp dir (PostgreSQL: in the
    test's schema); all are closed afterwards. Two of one kind share their file or database."""

    def open_one(kind: str) -> Storage:
        store = make_storage(storage_spec(kind, tmp_path, request))
        request.addfinalizer(store.close)  # after pg_url's set-up: closed before its schema is dropped
        return store

    return open_one


@pytest.fixture(params=STORAGE_KINDS)
def storage(request: pytest.FixtureRequest, new_storage: Callable[[str], Storage]) -> Storage:
    """One storage of each kind (the test runs once per kind)."""
    return new_storage(request.param)


@contextlib.contextmanager
def running(daemon: Any) -> Iterator[Any]:
    """Serve ``daemon.requestLoop`` in a thread for the block; shut it down and close it after."""
    thread = threading.Thread(target=daemon.requestLoop, daemon=True)
    thread.start()
    try:
        yield daemon
    finally:
        daemon.shutdown()
        thread.join(timeout=STOP_TIMEOUT)
        daemon.close()
        assert not thread.is_alive(), "request loop did not stop"


@pytest.fixture()
def run() -> Callable[[Any], Any]:
    """``with run(daemon):`` serves the daemon in a background thread for the block."""
    return running


@pytest.fixture()
def name_server() -> Iterator[Callable[..., NameServerDaemon]]:
    """``name_server(**kwargs)`` -> a NameServerDaemon on 127.0.0.1, served in a thread until the test ends."""
    stack = contextlib.ExitStack()

    def start(**kwargs: Any) -> NameServerDaemon:
        kwargs.setdefault("host", "127.0.0.1")
        kwargs.setdefault("port", 0)
        daemon = NameServerDaemon(**kwargs)
        stack.enter_context(running(daemon))
        return daemon

    with stack:
        yield start


NS_COMMAND = [sys.executable, "-m", "pyro_naming"]


class NsProcess:
    """``python -m pyro_naming`` (or another ``command`` of ours) in a child process, its output
    collected line by line. No PYRO_* variables are passed on but those in ``env``."""

    def __init__(
        self, args: list[str], command: Optional[list[str]] = None, env: Optional[dict[str, str]] = None
    ) -> None:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("PYRO_")}
        environment.update(env or {})
        self.proc = subprocess.Popen(
            [*(command or NS_COMMAND), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env=environment,
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def output(self) -> str:
        with self._changed:
            return "\n".join(self.lines)

    def wait_for_line(self, prefix: str, timeout: float = START_TIMEOUT) -> str:
        """The first output line starting with ``prefix``; fails after ``timeout`` or if the process ends."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines:
                    if line.startswith(prefix):
                        return line
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(
                        f"no line starting with {prefix!r}; output so far:\n{chr(10).join(self.lines)}"
                    )
                self._changed.wait(min(remaining, 0.2))

    @property
    def uri(self) -> str:
        return self.wait_for_line("URI = ").split(" = ", 1)[1]

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Send ``sig``, wait for the exit (kill after STOP_TIMEOUT); returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(timeout=STOP_TIMEOUT)
        self._reader.join(timeout=STOP_TIMEOUT)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return code

    def wait(self, timeout: float = STOP_TIMEOUT) -> int:
        """Wait for the process to end by itself (killed after ``timeout``)."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        return self.stop(signal.SIGKILL)


@contextlib.contextmanager
def ns_processes() -> Iterator[Callable[..., NsProcess]]:
    started: list[NsProcess] = []

    def start(*args: str, command: Optional[list[str]] = None, env: Optional[dict[str, str]] = None) -> NsProcess:
        process = NsProcess(list(args), command, env)
        started.append(process)
        return process

    try:
        yield start
    finally:
        for process in started:
            process.stop()


@pytest.fixture()
def ns_process() -> Iterator[Callable[..., NsProcess]]:
    """``ns_process(*args)`` starts ``python -m pyro_naming *args`` (``command=[...]``: another
    command, ``env={...}``: PYRO_* settings for it); every process is stopped afterwards."""
    with ns_processes() as start:
        yield start


@pytest.fixture(scope="module")
def shared_ns_process() -> Iterator[NsProcess]:
    """One name server process on 127.0.0.1 (memory storage, no broadcast) shared by a module."""
    with ns_processes() as start:
        process = start("-n", "127.0.0.1", "-p", "0", "-x")
        process.wait_for_line("URI = ")
        yield process


def wait_until(condition: Callable[[], Any], timeout: float = 5.0, interval: float = 0.02) -> Any:
    """Poll ``condition`` until it is truthy (returns it) or ``timeout`` passes (returns the last value)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


@pytest.fixture()
def eventually() -> Callable[..., Any]:
    """``eventually(condition, timeout=5.0)``: poll until truthy, bounded in time."""
    return wait_until
