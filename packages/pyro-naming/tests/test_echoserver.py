"""The test echo server: its object called by the genuine Pyro4 4.82 client, and
``pyro-test-echoserver`` / ``python -m pyro_naming.echoserver`` as real processes."""

from __future__ import annotations

import math
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pyro_naming import echoserver
from pyro_protocol.config import config

ECHO_MODULE = [sys.executable, "-m", "pyro_naming.echoserver"]
ECHO_SCRIPT = [str(Path(sys.executable).with_name("pyro-test-echoserver"))]
URI_LINE = re.compile(r"^echo uri: (PYRO:test\.echoserver@127\.0\.0\.1:\d+)$")
NS_LINE = re.compile(r"^using name server at (PYRO:Pyro\.NameServer@127\.0\.0\.1:(\d+))$")
BANNER = ["Starting Pyro's built-in test echo server.", "Warning: HMAC key not set. Anyone can connect to this server!"]
SERIALIZERS = ["serpent", "json", "marshal", "msgpack"]
#: Where Pyro4 4.82's examples are (the sdist's examples/ folder), to run its echo client; optional.
#: The name server the echo server may look for, on loopback only (never a broadcast out of the host).
LOOPBACK_NS = {"PYRO_NS_HOST": "127.0.0.1", "PYRO_BROADCAST_ADDRS": "127.0.0.1"}


@pytest.fixture()
def echo_server(ns_process):
    """``echo_server(*args, env=..., script=False)``: the echo server process (started with
    ``python -m``, or with the ``pyro-test-echoserver`` script); stopped after the test."""

    def start(*args, env=None, script=False):
        return ns_process(*args, command=ECHO_SCRIPT if script else ECHO_MODULE, env=env)

    return start


@pytest.fixture()
def in_process_echo(run):
    """``main(returnWithoutLooping=True)`` on 127.0.0.1: (echo object, uri), served in a thread."""
    daemon, echo, uri = echoserver.main(["-H", "127.0.0.1", "-q"], returnWithoutLooping=True)
    with run(daemon):
        yield echo, uri


def uri_of(process):
    match = URI_LINE.match(process.wait_for_line("echo uri: "))
    assert match, process.output
    return match.group(1)


def test_main_returns_the_daemon_unstarted_and_sets_multiplex(run, capsys):
    daemon, echo, uri = echoserver.main(["-H", "127.0.0.1", "-q"], returnWithoutLooping=True)
    with run(daemon):
        assert isinstance(echo, echoserver.EchoServer) and echo._verbose is False
        assert str(uri) == f"PYRO:test.echoserver@{daemon.locationStr}"
        assert daemon.objectsById["test.echoserver"] is echo
        assert config.SERVERTYPE == "multiplex"  # as Pyro4's echo server does
        assert type(daemon.transportServer).__name__.lower().startswith("multiplex")
    assert capsys.readouterr().out == ""  # -q: not a word


def test_remote_interface_is_pyro4s(pyro4, in_process_echo):
    _, uri = in_process_echo
    with pyro4.Proxy(str(uri)) as proxy:
        proxy._pyroBind()
        assert proxy._pyroMethods == {
            "echo",
            "error",
            "error_with_text",
            "oneway_echo",
            "slow",
            "generator",
            "nan",
            "inf",
            "oneway_slow",
            "shutdown",
            "__dunder__",
        }
        assert proxy._pyroOneway == {"oneway_echo", "oneway_slow"}
        assert proxy._pyroAttrs == {"verbose"}


@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_every_call_from_the_genuine_client(pyro4, in_process_echo, serializer):
    echo, uri = in_process_echo
    pyro4.config.SERIALIZER = serializer
    with pyro4.Proxy(str(uri)) as proxy:
        assert proxy.echo("hello") == "hello"
        assert proxy.echo([1, 2, {"x": 3.5}]) == [1, 2, {"x": 3.5}]
        with pytest.raises(ValueError, match=r"^expected error from echoserver error\(\) method$"):
            proxy.error()
        with pytest.raises(ValueError, match="^the message of the error$"):
            proxy.error_with_text()
        assert list(proxy.generator()) == ["one", "two", "three"]
        assert proxy.oneway_echo("fire and forget") is None
        assert proxy.__dunder__() == "should be allowed (dunder)"
        if serializer != "json":  # json has no NaN or infinity
            assert math.isnan(proxy.nan()) and proxy.inf() == math.inf
        for private in ("_private", "__private", "_EchoServer__private"):
            with pytest.raises(AttributeError):
                getattr(proxy, private)()
        if serializer == "marshal":
            return  # Pyro4's marshal serializer cannot send an attribute access (kwargs None)
        assert proxy.verbose is False
        proxy.verbose = 1
        assert echo._verbose is True and proxy.verbose is True
        proxy.verbose = 0
        assert echo._verbose is False


def test_verbose_prints_each_call(in_process_echo, pyro4, capsys):
    echo, uri = in_process_echo
    echo.verbose = True
    with pyro4.Proxy(str(uri)) as proxy:
        proxy.echo("héllo")
        with pytest.raises(ValueError):
            proxy.error()
        proxy.shutdown()
    out = capsys.readouterr().out.splitlines()
    assert [line.split(" - ", 1)[1] for line in out] == [
        "echo: 'héllo'",
        "error: generating exception",
        "shutting down",
    ]
    assert echo._must_shutdown is True


def test_process_serves_until_a_client_calls_shutdown(echo_server, pyro4, eventually):
    process = echo_server("-H", "127.0.0.1", "-v", script=True)  # the console script
    uri = uri_of(process)
    assert process.wait_for_line("echoserver running.")
    assert process.lines[:6] == [
        *BANNER,
        "not using a name server.",
        "object name: test.echoserver",
        f"echo uri: {uri}",
        "echoserver running.",
    ]
    with pyro4.Proxy(uri) as proxy:
        assert proxy.echo([1, 2, 3, 4]) == [1, 2, 3, 4]
        proxy.oneway_echo("one way")  # run in a thread of its own: wait for its line
        assert eventually(lambda: any(line.endswith("oneway_echo: 'one way'") for line in process.lines))
        proxy.shutdown()
    assert process.wait() == 0
    logged = [line.split(" - ", 1)[1] for line in process.lines[6:]]
    assert logged == ["echo: [1, 2, 3, 4]", "oneway_echo: 'one way'", "shutting down"]


def test_the_example_steps_of_pyro4s_echo_client(echo_server, pyro4):
    """What Pyro4's examples/echoserver/client.py does, with the genuine Pyro4."""
    process = echo_server("-H", "127.0.0.1")
    with pyro4.Proxy(uri_of(process)) as proxy:
        assert proxy.echo("hello") == "hello"
        assert [element for element in proxy.generator()] == ["one", "two", "three"]
        try:
            proxy.error()
        except ValueError:
            traceback = "".join(pyro4.util.getPyroTraceback())
        assert "Remote traceback:" in traceback
        assert "ValueError: expected error from echoserver error() method" in traceback
        assert 'echoserver.py", line' in traceback and "in error" in traceback
        proxy.shutdown()
    assert process.wait() == 0


def test_registers_in_a_running_name_server(echo_server, shared_ns_process, pyro4):
    ns_port = shared_ns_process.uri.rsplit(":", 1)[1]
    process = echo_server("-H", "127.0.0.1", "-n", "-v", env={**LOOPBACK_NS, "PYRO_NS_PORT": ns_port})
    uri = uri_of(process)
    assert f"using name server at PYRO:Pyro.NameServer@127.0.0.1:{ns_port}" in process.lines
    assert "not using a name server." not in process.lines
    with pyro4.Proxy(f"PYRONAME:test.echoserver@127.0.0.1:{ns_port}") as proxy:
        assert proxy.echo("by name") == "by name"
    with pyro4.Proxy(shared_ns_process.uri) as ns:
        assert str(ns.lookup("test.echoserver")) == uri
        assert ns.remove("test.echoserver") == 1
    assert process.stop(signal.SIGTERM) == 0


def test_starts_its_own_name_server(echo_server, pyro4):
    process = echo_server("-H", "127.0.0.1", "-N", "-v", env={**LOOPBACK_NS, "PYRO_NS_PORT": "0"})
    uri = uri_of(process)
    match = NS_LINE.match(process.wait_for_line("using name server at "))
    assert match, process.output
    assert "not using a broadcast server" in process.lines  # none on loopback
    ns_port = int(match.group(2))
    with pyro4.locateNS("127.0.0.1", ns_port) as ns:
        assert str(ns.lookup("test.echoserver")) == uri
    with pyro4.Proxy(uri) as proxy:
        proxy.shutdown()
    assert process.wait() == 0
    assert not accepts(ns_port)  # the name server went with it


def test_a_missing_name_server_fails_clearly(echo_server, free_port):
    # PREFER_IP_VERSION 6 skips the broadcast rounds (2.1 s); the 127.0.0.1 tries stay
    env = {**LOOPBACK_NS, "PYRO_NS_PORT": str(free_port()), "PYRO_PREFER_IP_VERSION": "6"}
    process = echo_server("-H", "127.0.0.1", "-n", env=env)
    assert process.wait() == 1
    assert "error: cannot start the echo server: Failed to locate the nameserver; tried 127.0.0.1:" in process.output


def test_unix_socket_and_sigterm(echo_server, pyro4, tmp_path):
    path = tmp_path / "echo.sock"
    process = echo_server("-u", str(path))
    assert process.wait_for_line("echo uri: ") == f"echo uri: PYRO:test.echoserver@./u:{path}"
    with pyro4.Proxy(f"PYRO:test.echoserver@./u:{path}") as proxy:
        assert proxy.echo(b"bytes".decode()) == "bytes"
    assert process.stop(signal.SIGTERM) == 0
    assert not path.exists()


def accepts(port):
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_quiet_prints_nothing(echo_server, pyro4, free_port, eventually):
    port = free_port()
    process = echo_server("-H", "127.0.0.1", "-p", str(port), "-q")
    assert eventually(lambda: accepts(port), timeout=15)  # nothing printed to wait for
    with pyro4.Proxy(f"PYRO:test.echoserver@127.0.0.1:{port}") as proxy:
        proxy.shutdown()
    assert process.wait() == 0
    assert process.lines == []


def test_hmac_key_from_the_environment(echo_server, pyro4):
    process = echo_server("-H", "127.0.0.1", env={"PYRO_HMAC_KEY": "s3cret"})
    uri = uri_of(process)
    assert BANNER[1] not in process.lines
    with pyro4.Proxy(uri) as stranger:
        with pytest.raises(pyro4.errors.CommunicationError):
            stranger.echo("no key")
    with pyro4.Proxy(uri) as friend:
        friend._pyroHmacKey = b"s3cret"
        assert friend.echo("keyed") == "keyed"
        friend.shutdown()
    assert process.wait() == 0


def test_a_port_in_use_fails_with_exit_code_1(echo_server):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        process = echo_server("-H", "127.0.0.1", "-p", str(taken.getsockname()[1]))
        assert process.wait() == 1
    assert "error: cannot start the echo server: cannot listen on 127.0.0.1:" in process.output


def test_script_and_module_are_one_tool():
    helps = [
        subprocess.run([*command, "--help"], capture_output=True, text=True, timeout=30)
        for command in (ECHO_MODULE, ECHO_SCRIPT)
    ]
    assert helps[0].returncode == helps[1].returncode == 0
    assert helps[0].stdout == helps[1].stdout
    for option in ("--host", "--port", "--unixsocket", "--naming", "--nameserver", "--verbose", "--quiet", "--key"):
        assert option in helps[0].stdout
