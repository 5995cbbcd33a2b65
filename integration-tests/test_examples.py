"""Every example in examples/ runs: its server starts, its client prints what the example promises."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

LOCAL = {"PYRO_HOST": "127.0.0.1"}


def _client(args, env=None, timeout=60):
    result = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **LOCAL, **(env or {})},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _uri_from(line: str) -> str:
    return line[line.index("PYRO:") :].split()[0]


@pytest.fixture()
def name_server(spawn):
    ns = spawn(["-m", "pyro_naming", "-n", "127.0.0.1", "-p", "0", "-x"])
    uri = _uri_from(ns.wait_for("URI = "))
    host, port = uri.split("@", 1)[1].rsplit(":", 1)
    return {"PYRO_NS_HOST": host, "PYRO_NS_PORT": port}


def test_thing(spawn):
    server = spawn(["examples/thing/server.py"], env=LOCAL)
    uri = _uri_from(server.wait_for("uri="))
    assert _client(["examples/thing/client.py", uri]).strip() == "84"


def test_thing_with_name_server(spawn, name_server):
    server = spawn(["examples/thing_ns/server.py"], env={**LOCAL, **name_server})
    server.wait_for("registered mythingy")
    assert _client(["examples/thing_ns/client.py"], env=name_server).strip() == "84"


def test_partially_exposed_class(spawn):
    server = spawn(["examples/exposed/server.py"], env=LOCAL)
    uri = _uri_from(server.wait_for("uri="))
    out = _client(["examples/exposed/client.py", uri])
    assert "get_value: 42" in out and "__dunder__: dunder" in out and "attr after setting: 99" in out
    for name in ("not_exposed", "_private", "value"):
        assert f"{name}: not reachable" in out


def test_oneway(spawn):
    server = spawn(["examples/oneway/server.py"], env=LOCAL)
    uri = _uri_from(server.wait_for("uri="))
    out = _client(["examples/oneway/client.py", uri])
    returned_after = float(out.split("returned after ")[1].split()[0])
    assert returned_after < 0.5
    assert "normal call: 42" in out and "oneway work finished: True" in out


def test_instance_modes(spawn):
    server = spawn(["examples/instancemode/server.py"], env=LOCAL)
    location = _uri_from(server.wait_for("session=")).split("@", 1)[1]
    server.wait_for("ready")
    out = _client(["examples/instancemode/client.py", location])
    assert "session, one proxy, same instance: True" in out
    assert "session, two proxies, same instance: False" in out
    assert "single, two proxies, same instance: True" in out
    assert "percall, one proxy, same instance: False" in out
    assert "Hello, world" in out


def test_serve_simple_without_name_server(spawn):
    server = spawn(["examples/servesimple/server.py"], env=LOCAL)
    location = _uri_from(server.wait_for("uri = PYRO:example.")).split("@", 1)[1]
    server.wait_for("Pyro daemon running")
    out = _client(["examples/servesimple/client.py", "PYRO:", f"@{location}"])
    assert "example.class 42" in out and "example.instance 42" in out


def test_serve_simple_with_name_server(spawn, name_server):
    server = spawn(["examples/servesimple/server.py", "--ns"], env={**LOCAL, **name_server})
    server.wait_for("Pyro daemon running")
    out = _client(["examples/servesimple/client.py", "PYRONAME:"], env=name_server)
    assert "example.class 42" in out and "example.instance 42" in out


def test_own_event_loop(spawn):
    server = spawn(["examples/eventloop/server.py"], env=LOCAL)
    uri = _uri_from(server.wait_for("uri="))
    assert _client(["examples/eventloop/client.py", uri]).strip() == "[1, 2, 3]"
    server.wait_for("event loop ended")


def test_combine(spawn):
    server = spawn(["examples/combine/server.py"], env=LOCAL)
    first = _uri_from(server.wait_for("first="))
    second = _uri_from(server.wait_for("second="))
    assert _client(["examples/combine/client.py", first, second]).split("\n")[:2] == ["first daemon", "second daemon"]


def test_autoproxy(spawn):
    server = spawn(["examples/autoproxy/server.py"], env=LOCAL)
    uri = _uri_from(server.wait_for("uri="))
    assert _client(["examples/autoproxy/client.py", uri]).strip() == "Proxy thing one"


def test_demo_runs_and_leaves_nothing_behind():
    result = subprocess.run([sys.executable, "demo/demo.py"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "thing.method(42) -> 84" in out
    assert "session  counter, two calls on proxy A then one on proxy B -> [1, 2, 1]" in out
    assert "single   counter, two calls on proxy A then one on proxy B -> [1, 2, 3]" in out
    assert "percall  counter, two calls on proxy A then one on proxy B -> [1, 1, 1]" in out
    assert "returned a Proxy (autoproxy)" in out and "[5, 4, 3, 2, 1]" in out
    assert "demo: done" in out


def test_asyncio(spawn):
    server = spawn(["examples/asyncio/server.py"], env=LOCAL)
    uri = _uri_from(server.wait_for("uri="))
    out = _client(["examples/asyncio/client.py", uri]).splitlines()
    assert out[:3] == ["ready: toast after 5 minutes", "ready: rice after 20 minutes", "ready: pasta after 30 minutes"]
    assert float(out[3].split()[3]) < 0.5  # in flight together (one after the other: 0.55 s)
    assert out[4:] == ["weights: [0.25, 0.5, 0.75]", "menu: ['soup', 'stew', 'pie']", "dishes served: 3"]
    server.wait_for("kitchen closed")
