"""Fixtures: a real name server and a Pyro server with objects (in threads), gateways on
127.0.0.1 port 0 served by the threaded wsgiref server, and a small HTTP client."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

import pytest

from pyro_httpgateway import Gateway, make_server
from pyro_naming import NameServerDaemon
from pyro_protocol.config import config
from pyro_protocol.context import current_context
from pyro_server import Daemon, oneway

STOP_TIMEOUT = 10.0
#: Longest a test waits for an HTTP answer.
HTTP_TIMEOUT = 20.0


class Thing:
    """Returned by Echo.thing: a class the gateway cannot rebuild (its dict passes through)."""

    def __init__(self) -> None:
        self.size = 3


class Echo:
    """The objects the gateway calls."""

    def __init__(self) -> None:
        self.logged: list[str] = []
        self._value = 42

    def echo(self, message: Any) -> Any:
        return message

    def add(self, a: Any, b: Any) -> Any:
        return a + b

    def arguments(self, **kwargs: Any) -> Any:
        return kwargs

    def fail(self, message: str = "it failed") -> None:
        raise ValueError(message)

    def slow(self, seconds: Any) -> str:
        time.sleep(float(seconds))
        return "slept"

    @oneway
    def log(self, message: str) -> None:
        self.logged.append(message)

    def messages(self) -> list[str]:
        return self.logged

    def correlation(self) -> str:
        return str(current_context.correlation_id)

    def thing(self) -> Thing:
        return Thing()

    def numbers(self) -> Iterator[int]:
        yield from range(3)

    @property
    def value(self) -> int:
        return self._value


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


@dataclass
class PyroSide:
    ns_host: str
    ns_port: int
    ns_uri: str
    echo: Echo
    register: Callable[[str, Any], None]


@pytest.fixture(scope="module")
def pyro_side() -> Iterator[PyroSide]:
    """A name server and a daemon with ``http.echo``, ``http.other`` and ``test.hidden`` (not
    exposed by default), plus ``http.dead`` whose daemon has gone."""
    with contextlib.ExitStack() as stack:
        ns_daemon = stack.enter_context(running(NameServerDaemon(host="127.0.0.1", port=0)))
        daemon = stack.enter_context(running(Daemon(host="127.0.0.1")))
        echo = Echo()
        nameserver = ns_daemon.nameserver

        def register(name: str, obj: Any) -> None:
            nameserver.register(name, obj if isinstance(obj, str) else daemon.register(obj), safe=False)

        register("http.echo", echo)
        register("http.other", Echo())
        register("test.hidden", Echo())
        with running(Daemon(host="127.0.0.1")) as gone:
            register("http.dead", str(gone.register(Echo())))
        ns_uri = ns_daemon.uriFor(ns_daemon.nameserver)
        yield PyroSide(ns_uri.host, ns_uri.port, str(ns_uri), echo, register)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


def request(
    url: str,
    method: str = "GET",
    body: Optional[bytes] = None,
    headers: Optional[dict[str, str]] = None,
    timeout: float = HTTP_TIMEOUT,
) -> Reply:
    """One HTTP request on a new connection; any status is returned, never raised."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request(method, target, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        return Reply(response.status, {name.lower(): value for name, value in response.getheaders()}, data)
    finally:
        connection.close()


@dataclass
class Served:
    app: Gateway
    url: str  # http://127.0.0.1:<port>

    def get(self, path: str, **kwargs: Any) -> Reply:
        return request(self.url + path, **kwargs)

    def post(self, path: str, body: bytes, content_type: str, **kwargs: Any) -> Reply:
        headers = {"Content-Type": content_type, **kwargs.pop("headers", {})}
        return request(self.url + path, "POST", body, headers, **kwargs)


@contextlib.contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve a WSGI app on 127.0.0.1, any free port, in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, quiet=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join(timeout=STOP_TIMEOUT)
        server.server_close()


@pytest.fixture()
def serve_gateway(pyro_side: PyroSide) -> Iterator[Callable[..., Served]]:
    """``serve_gateway(**settings)`` -> a gateway for ``pyro_side`` with these settings, served
    until the test ends."""
    with contextlib.ExitStack() as stack:

        def start(**settings: Any) -> Served:
            settings.setdefault("ns_host", pyro_side.ns_host)
            settings.setdefault("ns_port", pyro_side.ns_port)
            settings.setdefault("gateway_key", "")
            app = Gateway(**settings)
            stack.callback(app.close)
            return Served(app, stack.enter_context(serving(app)))

        yield start


@pytest.fixture()
def gateway(serve_gateway: Callable[..., Served]) -> Served:
    """A gateway with the default settings (only ``http.`` names exposed, no key)."""
    return serve_gateway()


@pytest.fixture(autouse=True)
def restore_config() -> Iterator[None]:
    """Every test may change the global config; it is put back afterwards."""
    saved = config.asDict()
    yield
    for item, value in saved.items():
        setattr(config, item, value)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a child process: no PYRO_ variables of ours leak in."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("PYRO_")}
    env.update(extra)
    return env


# Test modules cannot import this one (pytest's importlib mode): they get its helpers as fixtures.


@pytest.fixture()
def run() -> Callable[[Any], Any]:
    """``with run(daemon):`` serves the daemon in a background thread for the block."""
    return running


@pytest.fixture()
def echo_class() -> type:
    """The class of the test objects."""
    return Echo


@pytest.fixture()
def http_request() -> Callable[..., Reply]:
    """``http_request(url, method="GET", body=None, headers=None)`` -> Reply, any status."""
    return request


class Process:
    """A child process (stdout and stderr together) whose lines are collected by a thread."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.popen = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, env=env
        )
        self.output: list[str] = []
        self._lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.output.append(line.rstrip("\n"))
            self._lines.put(line.rstrip("\n"))
        self.popen.stdout.close()

    @property
    def text(self) -> str:
        return "\n".join(self.output)

    def wait_for(self, pattern: str, timeout: float = 20.0) -> re.Match[str]:
        """The match of the first line (from now on) that ``pattern`` is found in."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no line matching {pattern!r} in {timeout} s; output:\n{self.text}")
            try:
                line = self._lines.get(timeout=min(remaining, 0.2))
            except queue.Empty:
                if self.popen.poll() is not None and not self._reader.is_alive() and self._lines.empty():
                    raise AssertionError(f"exited ({self.popen.returncode}) first; output:\n{self.text}") from None
                continue
            match = re.search(pattern, line)
            if match:
                return match

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Send ``sig`` (kill after STOP_TIMEOUT) and wait; the exit code."""
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
        try:
            code = self.popen.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            code = self.popen.wait(timeout=STOP_TIMEOUT)
        self._reader.join(timeout=STOP_TIMEOUT)
        return code


def _spawner() -> Iterator[Callable[..., Process]]:
    started: list[Process] = []

    def start(*args: str, **env: str) -> Process:
        process = Process([sys.executable, *args], clean_env(PYTHONUNBUFFERED="1", **env))
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop(signal.SIGKILL)


@pytest.fixture()
def spawn() -> Iterator[Callable[..., Process]]:
    """``spawn(*args, **env)`` starts ``python *args`` (without our PYRO_ variables, plus ``env``);
    every one still running is stopped when the test ends."""
    yield from _spawner()


@pytest.fixture(scope="module")
def module_spawn() -> Iterator[Callable[..., Process]]:
    """Like ``spawn``, for processes shared by a test module."""
    yield from _spawner()
