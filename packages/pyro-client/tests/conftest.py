"""Fixtures: genuine Pyro4 4.82 daemons and name servers in subprocesses, and a
clean configuration and call context for every test."""

from __future__ import annotations

import os
import selectors
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import pytest

from pyro_client import Proxy
from pyro_protocol.config import config
from pyro_protocol.context import current_context

HERE = Path(__file__).parent
SERVER_SCRIPT = HERE / "pyro4_server.py"
NAMESERVER_SCRIPT = HERE / "pyro4_nameserver.py"
#: Seconds a Pyro4 subprocess gets to print its uris (importing Pyro4 takes most of it).
STARTUP_TIMEOUT = 20.0
#: Proxies in tests get this socket timeout, so a misbehaving peer fails a test instead of hanging it.
CALL_TIMEOUT = 15.0
#: The serializers every feature is tested with (pickle is tested separately).
SERIALIZERS = ["serpent", "json", "marshal", "msgpack"]


class Pyro4Process:
    """A Pyro4 script running in a subprocess; ``lines`` holds what it printed up to READY."""

    def __init__(self, script: Path, *args: str, pass_fds: tuple[int, ...] = ()) -> None:
        self.script = script
        self.args = args
        self.lines: dict[str, list[str]] = {}
        self.proc = subprocess.Popen(
            [sys.executable, str(script), *args],
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            pass_fds=pass_fds,
        )
        try:
            self._read_until_ready()
        except BaseException:
            self.stop()
            raise

    def _read_until_ready(self) -> None:
        # Raw reads: a buffered readline would swallow lines that select() then never reports.
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        pending = b""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if not selector.select(timeout=deadline - time.monotonic()):
                    continue
                chunk = os.read(fd, 4096)
                if not chunk:
                    raise RuntimeError(f"{self.script.name} exited with {self.proc.wait(5)} before it was ready")
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    words = line.decode().split()
                    if words == ["READY"]:
                        return
                    if words:
                        self.lines.setdefault(words[0], []).append(" ".join(words[1:]))
        raise RuntimeError(f"{self.script.name} did not get ready within {STARTUP_TIMEOUT} s")

    def value(self, key: str) -> str:
        return self.lines[key][0]

    def uri(self, name: str) -> str:
        for line in self.lines["URI"]:
            object_name, uri = line.split()
            if object_name == name:
                return uri
        raise KeyError(name)

    @property
    def port(self) -> int:
        return int(self.uri("calc").rsplit(":", 1)[1])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture(autouse=True)
def clean_config_and_context() -> Iterator[None]:
    """Every test starts from the defaults and may change config freely."""
    config.reset(useenvironment=False)
    config.COMMTIMEOUT = CALL_TIMEOUT
    yield
    config.reset(useenvironment=False)
    current_context.correlation_id = None
    current_context.annotations = {}
    current_context.response_annotations = {}


@pytest.fixture(scope="session")
def pyro4_server() -> Iterator[Pyro4Process]:
    server = Pyro4Process(SERVER_SCRIPT)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pyro4_nameserver() -> Iterator[Pyro4Process]:
    server = Pyro4Process(NAMESERVER_SCRIPT)
    yield server
    server.stop()


@pytest.fixture
def start_server() -> Iterator[Callable[..., Pyro4Process]]:
    """Start extra Pyro4 daemons (with options) that are killed at the end of the test."""
    started: list[Pyro4Process] = []

    def start(*args: str, pass_fds: tuple[int, ...] = ()) -> Pyro4Process:
        server = Pyro4Process(SERVER_SCRIPT, *args, pass_fds=pass_fds)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def proxies() -> Iterator[Callable[..., Proxy]]:
    """Make proxies that are released at the end of the test."""
    made: list[Proxy] = []

    def make(uri: Any, serializer: Optional[str] = None, cls: type = Proxy) -> Proxy:
        proxy = cls(uri)
        if serializer:
            proxy._pyroSerializer = serializer
        made.append(proxy)
        return proxy

    yield make
    for proxy in made:
        proxy._pyroRelease()


@pytest.fixture(params=SERIALIZERS)
def serializer(request: pytest.FixtureRequest) -> str:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def calc(pyro4_server: Pyro4Process, proxies: Callable[..., Proxy], serializer: str) -> Proxy:
    """A proxy for the Pyro4 server's Calc object, using the serializer under test."""
    return proxies(pyro4_server.uri("calc"), serializer)


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port that nothing listens on right now (bound once on 127.0.0.1, then released)."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def unused_port() -> int:
    return free_port()


@pytest.fixture
def unused_udp_port() -> int:
    return free_port(socket.SOCK_DGRAM)


def wait_until(condition: Callable[[], bool], timeout: float = 5.0, interval: float = 0.02) -> bool:
    """Poll ``condition`` until true or until ``timeout`` seconds passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


@pytest.fixture
def wait() -> Callable[..., bool]:
    return wait_until
