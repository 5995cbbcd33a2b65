"""A genuine Pyro4 daemon that dies and comes back on the same port."""

from __future__ import annotations

import threading
import time

import pytest

from pyro_client import CommunicationError, ConnectionClosedError


def test_daemon_dying_during_a_call_and_coming_back(start_server, proxies):
    server = start_server()
    port = server.port
    calc = proxies(server.uri("calc"))
    assert calc.add(1, 2) == 3
    start = time.monotonic()
    with pytest.raises(ConnectionClosedError):
        calc.crash()  # the daemon process exits inside this call
    assert time.monotonic() - start < 3
    assert calc._pyroConnection is None
    server.stop()
    with pytest.raises(CommunicationError, match=f"127.0.0.1:{port}"):
        calc.add(1, 2)  # nobody listens now
    start_server("--port", str(port))
    assert calc.add(2, 3) == 5  # the same proxy simply connects again


def test_daemon_killed_while_a_call_waits(start_server, proxies):
    server = start_server()
    calc = proxies(server.uri("calc"))
    calc._pyroBind()
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            calc.sleep(30)
        except BaseException as exc:
            outcome.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    time.sleep(0.3)  # let the request reach the daemon
    killed = time.monotonic()
    server.stop()
    caller.join(10)
    assert not caller.is_alive()
    assert time.monotonic() - killed < 3
    assert len(outcome) == 1 and isinstance(outcome[0], ConnectionClosedError)


def test_reconnect_after_restart(start_server, proxies):
    server = start_server()
    port = server.port
    calc = proxies(server.uri("calc"))
    first_pid = calc.pid()
    server.stop()
    start_server("--port", str(port))
    calc._pyroReconnect(tries=3)
    assert calc.pid() != first_pid


def test_retries_carry_a_call_over_a_restart(start_server, proxies):
    server = start_server()
    port = server.port
    calc = proxies(server.uri("calc"))
    calc._pyroMaxRetries = 1
    assert calc.add(1, 1) == 2
    server.stop()
    start_server("--port", str(port))
    assert calc.add(2, 2) == 4  # the old connection is dead; the retry reconnects


def test_stream_of_a_dead_daemon(start_server, proxies):
    server = start_server()
    calc = proxies(server.uri("calc"))
    items = calc.generator(10)
    assert next(items) == 0
    server.stop()
    with pytest.raises(ConnectionClosedError):
        next(items)
    items.close()  # quietly: there is nobody to tell


def test_async_call_to_a_dead_daemon(start_server, proxies):
    server = start_server()
    calc = proxies(server.uri("calc"))
    calc._pyroBind()
    calc._pyroAsync()
    server.stop()
    result = calc.add(1, 2)
    assert result.wait(10)
    with pytest.raises(CommunicationError):
        result.get_value()
