"""Faults: dying servers, vanishing clients, shutdown with calls in flight, no file descriptors."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest

import pyro_client
from pyro_client import aio, errors
from pyro_protocol import message as wire
from pyro_protocol import serializers
from pyro_protocol.config import config
from pyro_server import Daemon


def _head_and_body(frames):
    """A message's frames as (header with annotations, payload)."""
    data = b"".join(frames)
    size = 24 + int.from_bytes(data[18:20], "big")
    return data[:size], data[size:]


def _uri(process):
    line = process.wait_for("uri=")
    return line[line.index("PYRO:") :]


def test_server_killed_mid_call_gives_connection_closed_promptly(spawn):
    server = spawn(["integration-tests/scripts/fault_daemon.py"])
    uri = _uri(server)
    outcome = {}

    def call():
        with pyro_client.Proxy(uri) as proxy:
            try:
                proxy.slow(30)
            except errors.ConnectionClosedError as error:
                outcome["error"] = error
                outcome["at"] = time.monotonic()

    caller = threading.Thread(target=call)
    caller.start()
    time.sleep(0.5)
    killed_at = time.monotonic()
    server.popen.kill()
    caller.join(timeout=10)
    assert not caller.is_alive()
    assert isinstance(outcome.get("error"), errors.ConnectionClosedError)
    assert outcome["at"] - killed_at < 3


def test_server_killed_mid_call_fails_every_aio_call_promptly(spawn):
    server = spawn(["integration-tests/scripts/fault_daemon.py"])
    uri = _uri(server)

    async def calls():
        async with aio.Proxy(uri) as proxy:
            await proxy._pyroBind()
            pending = asyncio.gather(*(proxy.slow(30) for _ in range(10)), return_exceptions=True)
            await asyncio.sleep(0.5)
            killed_at = time.monotonic()
            server.popen.kill()
            outcomes = await asyncio.wait_for(pending, 10)
            return outcomes, time.monotonic() - killed_at

    outcomes, after = asyncio.run(calls())
    assert all(isinstance(outcome, errors.ConnectionClosedError) for outcome in outcomes), outcomes
    assert after < 3


@pytest.mark.parametrize("servertype", ["thread", "asyncio"])
def test_client_vanishing_mid_reply_does_not_hurt_the_server(spawn, servertype):
    server = spawn(["integration-tests/scripts/fault_daemon.py"], env={"PYRO_SERVERTYPE": servertype})
    uri = pyro_client.URI(_uri(server))
    serpent = serializers.get_serializer("serpent")
    for _ in range(5):
        with socket.create_connection((uri.host, uri.port)) as sock:
            head, body = _head_and_body(wire.encode(wire.MSG_CONNECT, serpent.dumps({"handshake": "hello"}), 1, 0, 0))
            sock.sendall(head + body)
            sock.recv(1000)
            head, body = _head_and_body(
                wire.encode(wire.MSG_INVOKE, serpent.dumpsCall("service", "big", (50_000_000,), {}), 1, 0, 1)
            )
            sock.sendall(head + body)
            sock.recv(1000)  # the reply has started; now vanish
    with pyro_client.Proxy(str(uri)) as proxy:
        assert proxy.echo("fine") == "fine"
    assert server.popen.poll() is None


@pytest.mark.parametrize("servertype", ["thread", "multiplex", "asyncio"])
def test_shutdown_with_calls_in_flight(servertype):
    config.SERVERTYPE = servertype
    try:
        daemon = Daemon(host="127.0.0.1")
        uri = str(daemon.register(type("Slow", (), {"slow": lambda self, s: time.sleep(s) or "finished"})(), "slow"))
        loop = threading.Thread(target=daemon.requestLoop)
        loop.start()
        outcomes = []

        def call():
            with pyro_client.Proxy(uri) as proxy:
                try:
                    outcomes.append(proxy.slow(0.5))
                except errors.CommunicationError as error:
                    outcomes.append(type(error).__name__)

        callers = [threading.Thread(target=call) for _ in range(4)]
        for caller in callers:
            caller.start()
        time.sleep(0.2)
        daemon.shutdown()
        loop.join(timeout=10)
        daemon.close()
        for caller in callers:
            caller.join(timeout=10)
        assert not loop.is_alive() and not any(caller.is_alive() for caller in callers)
        assert len(outcomes) == 4
        assert set(outcomes) <= {"finished", "ConnectionClosedError"}
    finally:
        config.reset()


@pytest.mark.parametrize("servertype", ["thread", "asyncio"])
def test_running_out_of_file_descriptors_backs_off_and_recovers(spawn, servertype):
    server = spawn(["integration-tests/scripts/fault_daemon.py", "64"], env={"PYRO_SERVERTYPE": servertype})
    uri = pyro_client.URI(_uri(server))
    hogs = []
    try:
        for _ in range(120):
            try:
                hogs.append(socket.create_connection((uri.host, uri.port), timeout=2))
            except OSError:
                break
        time.sleep(0.5)
    finally:
        for sock in hogs:
            sock.close()
    deadline = time.monotonic() + 20
    while True:
        try:
            with pyro_client.Proxy(str(uri)) as proxy:
                proxy._pyroTimeout = 2
                assert proxy.echo("back") == "back"
            break
        except errors.CommunicationError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    assert server.popen.poll() is None
    assert "accept failed" in server.text
