"""``python -m pyro_naming`` as a real process, used by the genuine Pyro4 4.82 client."""

import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pyro_server import Daemon

SERIALIZERS = ["serpent", "json", "marshal", "msgpack"]
RUNNING_LINE = re.compile(r"^NS running on 127\.0\.0\.1:(\d+) \(127\.0\.0\.1\)$")


class Greeter:
    def greet(self, name):
        return f"hello {name}"


def port_of(process):
    match = RUNNING_LINE.match(process.wait_for_line("NS running on "))
    assert match, process.output
    return int(match.group(1))


def test_prints_where_it_runs_and_stops_on_sigterm(ns_process):
    process = ns_process("-n", "127.0.0.1", "-p", "0", "-x")
    port = port_of(process)
    assert process.uri == f"PYRO:Pyro.NameServer@127.0.0.1:{port}"
    assert process.stop(signal.SIGTERM) == 0
    lines = process.lines
    assert lines[-1] == "NS shut down."
    assert "Not starting broadcast server" not in process.output  # -x: not even mentioned
    assert lines.index(f"URI = PYRO:Pyro.NameServer@127.0.0.1:{port}") > lines.index(
        f"NS running on 127.0.0.1:{port} (127.0.0.1)"
    )


def test_ctrl_c_stops_it_cleanly_and_loopback_gets_no_broadcast(ns_process):
    process = ns_process("-n", "127.0.0.1", "-p", "0")
    process.wait_for_line("URI = ")
    assert "Not starting broadcast server for localhost." in process.lines
    assert process.stop(signal.SIGINT) == 0
    assert process.lines[-1] == "NS shut down."


def test_unix_socket_name_server(ns_process, tmp_path, pyro4):
    path = tmp_path / "ns.sock"
    process = ns_process("-u", str(path))
    assert process.wait_for_line("NS running on ") == f"NS running on ./u:{path} (Unix domain socket)"
    assert process.uri == f"PYRO:Pyro.NameServer@./u:{path}"
    with pyro4.Proxy(process.uri) as ns:
        assert ns.count() == 1
    assert process.stop() == 0
    assert not path.exists()


@pytest.mark.parametrize("kind", ["sql", "dbm"])
def test_registrations_survive_a_restart(ns_process, tmp_path, pyro4, free_port, kind):
    store = f"{kind}:{tmp_path / 'ns.store'}"
    port = str(free_port())
    first = ns_process("-n", "127.0.0.1", "-p", port, "-x", "-s", store)
    with pyro4.Proxy(first.uri) as ns:
        ns.register("keep.me", "PYRO:obj@127.0.0.1:5555", metadata={"tag1", "tag2"})
        ns.register("keep.too", "PYRO:other@127.0.0.1:5556")
        ns.register("drop.me", "PYRO:third@127.0.0.1:5557")
        assert ns.remove("drop.me") == 1
    assert first.stop(signal.SIGTERM) == 0
    assert first.lines[-1] == "NS shut down."

    second = ns_process("-n", "127.0.0.1", "-p", port, "-x", "-s", store)
    assert second.uri == first.uri
    assert "Persistent store contains 2 existing registrations." in second.lines
    with pyro4.Proxy(second.uri) as ns:
        uri, metadata = ns.lookup("keep.me", return_metadata=True)
        assert str(uri) == "PYRO:obj@127.0.0.1:5555" and sorted(metadata) == ["tag1", "tag2"]
        assert set(ns.list()) == {"Pyro.NameServer", "keep.me", "keep.too"}
        assert ns.count() == 3
    assert second.stop() == 0


@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_genuine_pyro4_client_per_serializer(shared_ns_process, pyro4, serializer):
    pyro4.config.SERIALIZER = serializer
    name = f"test.{serializer}"
    with pyro4.Proxy(shared_ns_process.uri) as ns:
        ns.register(name, pyro4.URI("PYRO:thing@127.0.0.1:7000"), metadata={"proc", serializer})
        assert str(ns.lookup(name)) == "PYRO:thing@127.0.0.1:7000"
        uri, meta = ns.lookup(name, return_metadata=True)
        assert isinstance(uri, pyro4.URI) and sorted(meta) == sorted(["proc", serializer])
        assert ns.list(metadata_all={"proc", serializer}) == {name: "PYRO:thing@127.0.0.1:7000"}
        assert name in ns.list(prefix="test.")
        with pytest.raises(pyro4.errors.NamingError, match="unknown name"):
            ns.lookup("no.such.thing")
        assert ns.remove(name) == 1


@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_pyroname_resolution_by_the_genuine_client(shared_ns_process, pyro4, run, serializer):
    pyro4.config.SERIALIZER = serializer
    pyro4.config.NS_HOST = "127.0.0.1"
    pyro4.config.NS_PORT = port_of(shared_ns_process)
    daemon = Daemon(host="127.0.0.1")
    uri = daemon.register(Greeter())
    with run(daemon):
        with pyro4.locateNS() as ns:
            ns.register(f"greeter.{serializer}", str(uri))  # our URI class is not known to Pyro4
        with pyro4.Proxy(f"PYRONAME:greeter.{serializer}") as greeter:
            assert greeter.greet(serializer) == f"hello {serializer}"
        with pyro4.locateNS() as ns:
            ns.remove(f"greeter.{serializer}")


def test_a_port_in_use_fails_with_exit_code_1(ns_process):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        process = ns_process("-n", "127.0.0.1", "-p", str(taken.getsockname()[1]), "-x")
        assert process.wait() == 1
    assert "error: cannot start the name server" in process.output


def test_an_invalid_storage_fails_with_exit_code_1(ns_process):
    process = ns_process("-n", "127.0.0.1", "-p", "0", "-s", "nosql:here")
    assert process.wait() == 1
    assert "invalid storage type 'nosql:here'" in process.output


def test_help_lists_pyro4s_options():
    result = subprocess.run([sys.executable, "-m", "pyro_naming", "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    script = Path(sys.executable).with_name("pyro-ns")
    assert subprocess.run([script, "--help"], capture_output=True, text=True, timeout=30).stdout == result.stdout
    for option in (
        "--host",
        "--port",
        "--unixsocket",
        "--bchost",
        "--bcport",
        "--nobc",
        "--storage",
        "--nathost",
        "--natport",
    ):
        assert option in result.stdout
