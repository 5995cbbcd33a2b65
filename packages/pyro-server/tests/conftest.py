"""Fixtures: a running daemon in a background thread, config snapshots, a genuine Pyro4 client."""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Callable, Iterator

import pytest

from pyro_protocol.config import config
from pyro_server import Daemon

SERIALIZERS = ["serpent", "json", "marshal", "msgpack"]
SERVERTYPES = ["thread", "multiplex", "asyncio"]


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
    vars(Pyro4.socketutil)["__ssl_client_context"] = None


@contextlib.contextmanager
def running(daemon: Daemon) -> Iterator[Daemon]:
    """Run ``daemon.requestLoop`` in a thread; shut it down and close it at the end."""
    thread = threading.Thread(target=daemon.requestLoop, daemon=True)
    thread.start()
    try:
        yield daemon
    finally:
        daemon.shutdown()
        thread.join(timeout=10)
        daemon.close()
        assert not thread.is_alive(), "request loop did not stop"


@pytest.fixture()
def run() -> Callable[[Daemon], Any]:
    """``with run(daemon):`` serves the daemon in a background thread for the block."""
    return running


@pytest.fixture()
def serve() -> Iterator[Callable[..., Any]]:
    """``serve(obj_or_class, objectId=None, **daemon_kwargs)`` -> (daemon, uri), served until the test ends."""
    stack = contextlib.ExitStack()

    def start(*objects: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("host", "127.0.0.1")
        daemon = Daemon(**kwargs)
        uris = [daemon.register(obj) for obj in objects]
        stack.enter_context(running(daemon))
        return (daemon, *uris)

    with stack:
        yield start
