"""Calls with the busy poll before blocking reads on both ends, and with it turned off."""

from __future__ import annotations

import threading
import time

import pytest

from pyro_client import Proxy
from pyro_protocol import spinwait
from pyro_protocol.config import config
from pyro_server import Daemon, oneway


class Adder:
    def add(self, a, b):
        return a + b


@pytest.mark.parametrize("spin_time", [0.0, 100e-6, 0.05])
@pytest.mark.parametrize("serializer", ["serpent", "marshal"])
def test_calls_with_and_without_spinning(spin_time, serializer, run, monkeypatch):
    monkeypatch.setattr(spinwait, "SPIN_TIME", spin_time)
    monkeypatch.setattr(spinwait, "_CPUS", 2)
    config.SERVERTYPE = "thread"
    config.SERIALIZER = serializer
    daemon = Daemon(host="127.0.0.1")
    uri = daemon.register(Adder(), "adder")
    with run(daemon), Proxy(uri) as proxy:
        assert [proxy.add(n, 1) for n in range(300)] == list(range(1, 301))
        assert (proxy._pyro_conn.spin is None) == (spin_time == 0.0)
        (conn,) = daemon.transportServer.connections
        assert (conn.spin is None) == (spin_time == 0.0)


def test_running_oneway_calls_are_counted_until_they_finish(run):
    """A worker polls only when no oneway call is running beside it: the count must come back to zero."""
    release = threading.Event()

    class Slow:
        @oneway
        def wait(self):
            release.wait(10)

        def ping(self):
            return "pong"

    config.SERVERTYPE = "thread"
    daemon = Daemon(host="127.0.0.1")
    uri = daemon.register(Slow(), "slow")
    with run(daemon), Proxy(uri) as proxy:
        for _ in range(3):
            proxy.wait()
        assert proxy.ping() == "pong"
        assert daemon.dispatcher.oneways_running == 3
        assert not daemon.transportServer._alone()
        release.set()
        deadline = time.monotonic() + 10
        while daemon.dispatcher.oneways_running and time.monotonic() < deadline:
            time.sleep(0.01)
        assert daemon.dispatcher.oneways_running == 0
