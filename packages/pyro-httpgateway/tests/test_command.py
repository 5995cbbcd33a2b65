"""``python -m pyro_httpgateway`` as a real process (wsgiref and waitress), and Pyro4 4.82's
``examples/http`` clients (Python and node.js) run unchanged against it."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from pyro_server import expose, oneway

RUNNING = r"^Pyro HTTP gateway running on (http://127\.0\.0\.1:(\d+))/pyro/$"
#: Pyro4 4.82's sdist (it has the examples; the wheel has not), shared with pyro4-compat's tests.
SDIST = Path(__file__).resolve().parents[3] / "build" / "pyro4-sdist" / "Pyro4-4.82.tar.gz"


@expose
class ExampleEchoServer:
    """What Pyro4's example clients call on ``test.echoserver`` (Pyro4's echo server, with short sleeps)."""

    def echo(self, message):
        return message

    def error(self):
        raise ValueError("expected error from echoserver error() method")

    def slow(self):
        time.sleep(0.3)
        return "Finally, an answer!"

    @oneway
    def oneway_slow(self):
        time.sleep(0.3)
        return "bogus return value"


def gateway_args(pyro_side, *more):
    return [
        "-m",
        "pyro_httpgateway",
        "-H",
        "127.0.0.1",
        "-p",
        "0",
        "-n",
        pyro_side.ns_host,
        "--nsport",
        str(pyro_side.ns_port),
        *more,
    ]


def test_command_serves_and_stops_on_sigterm(spawn, pyro_side, http_request):
    process = spawn(*gateway_args(pyro_side, "-e", r"http\.|test\."))
    url = process.wait_for(RUNNING).group(1)
    assert process.output[:2] == [
        r"Exposing objects with names matching: http\.|test\.",
        f"Connected to name server at: {pyro_side.ns_uri}",
    ]
    reply = http_request(url + "/pyro/http.echo/echo?message=from%20the%20command")
    assert reply.status == 200 and reply.json() == "from the command"
    assert http_request(url + "/pyro/test.hidden/echo?message=x").json() == "x"
    process.wait_for(r'"GET /pyro/http\.echo/echo\?message=from%20the%20command HTTP/1\.1" 200')  # access log
    assert process.stop(signal.SIGTERM) == 0
    assert [line for line in process.output if line][-1] == "Pyro HTTP gateway shut down."


def test_command_without_a_name_server_starts_and_answers_502(spawn, pyro_side, http_request, run):
    from pyro_naming import NameServerDaemon

    with run(NameServerDaemon(host="127.0.0.1", port=0)) as gone:
        port = gone.locationStr.rsplit(":", 1)[1]
    process = spawn("-m", "pyro_httpgateway", "-H", "127.0.0.1", "-p", "0", "-n", "127.0.0.1", "--nsport", port, "-q")
    url = process.wait_for(RUNNING).group(1)
    assert "Not yet connected to a name server." in process.output
    assert http_request(url + "/pyro/http.echo/echo").status == 502
    assert process.stop(signal.SIGINT) == 0


def test_gateway_key_from_the_environment(spawn, pyro_side, http_request):
    process = spawn(*gateway_args(pyro_side, "-q"), PYRO_HTTPGATEWAY_KEY="env-key")
    url = process.wait_for(RUNNING).group(1)
    assert http_request(url + "/pyro/http.echo/echo?message=x").status == 401
    assert http_request(url + "/pyro/http.echo/echo?message=x&$key=env-key").status == 200
    assert process.stop() == 0


def test_key_option_and_variable_together_are_refused(spawn, pyro_side):
    process = spawn(*gateway_args(pyro_side, "-g", "option-key"), PYRO_HTTPGATEWAY_KEY="env-key")
    assert process.popen.wait(timeout=20) == 1
    process.wait_for("error: don't use -g and PYRO_HTTPGATEWAY_KEY at the same time")
    assert "shows them to every user of this machine" in process.text  # the warning about -g comes first


def test_a_bad_expose_pattern_is_refused_at_once(capsys):
    from pyro_httpgateway import Gateway, main

    with pytest.raises(SystemExit) as stopped:
        main(["-e", "http.(", "-p", "0"])
    assert stopped.value.code == 2
    assert "argument -e/--expose: not a regular expression: 'http.('" in capsys.readouterr().err
    with pytest.raises(re.error):
        Gateway(ns_regex="[")


def test_waitress_server(spawn, pyro_side, http_request):
    process = spawn(*gateway_args(pyro_side, "--server", "waitress", "--max-body", "50"))
    url = process.wait_for(RUNNING).group(1)
    assert http_request(url + "/pyro/http.echo/add?a=wait&b=ress").json() == "waitress"
    too_big = http_request(
        url + "/pyro/http.echo/echo",
        "POST",
        b"message=" + b"x" * 60,
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert too_big.status == 413
    assert too_big.headers["server"] == "waitress"
    assert process.stop() == 0
    assert process.output[-1] == "Pyro HTTP gateway shut down."


def test_the_installed_command_runs(pyro_side):
    command = shutil.which("pyro-httpgateway", path=str(Path(sys.executable).parent))
    assert command, "the pyro-httpgateway script is not installed next to the interpreter"
    done = subprocess.run([command, "--help"], capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0
    for option in ("--host", "--port", "--expose", "--pyrokey", "--gatewaykey", "--timeout", "--nshost", "--server"):
        assert option in done.stdout


@pytest.fixture()
def example_gateway(spawn, pyro_side, run):
    """The gateway as Pyro4's http example's Readme starts it (-e 'Pyro.|test.'), with its test.echoserver."""
    from pyro_server import Daemon

    with run(Daemon(host="127.0.0.1")) as daemon:
        pyro_side.register("test.echoserver", str(daemon.register(ExampleEchoServer())))
        process = spawn(*gateway_args(pyro_side, "-e", "Pyro.|test.", "-q"))
        yield process.wait_for(RUNNING).group(2)
        process.stop()


def example_copy(tmp_path, name, port, fixes=()):
    """Pyro4 4.82's examples/http/<name> from its sdist (fetched with pip once), with its fixed
    gateway port changed to ours and each (old, new) of ``fixes`` applied once."""
    if not SDIST.exists():
        SDIST.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:", "Pyro4==4.82"]
            + ["--dest", str(SDIST.parent)],
            check=True,
            timeout=300,
        )
    with tarfile.open(SDIST) as sdist:
        member = sdist.extractfile(f"Pyro4-4.82/examples/http/{name}")
        assert member is not None
        text = member.read().decode("utf-8")
    assert text.count(":8080") + text.count("port: 8080") == 1, "the example's gateway address changed?"
    text = text.replace("8080", port)
    for old, new in fixes:
        assert text.count(old) == 1, f"the example no longer has {old!r}"
        text = text.replace(old, new)
    copy = tmp_path / name
    copy.write_text(text)
    return copy


def test_pyro4_example_python_client(example_gateway, tmp_path):
    client = example_copy(tmp_path, "client.py", example_gateway)
    done = subprocess.run([sys.executable, str(client)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Error" not in out, out
    for section in ("LIST--->", "META--->", "LOOKUP--->", "ONEWAY_SLOW--->", "SLOW--->"):
        assert section in out
    assert "'Pyro.NameServer': 'PYRO:Pyro.NameServer@127.0.0.1:" in out  # list
    assert "'methods': [" in out and "'lookup'" in out  # $meta
    assert "'__class__': 'Pyro4.core.URI'" in out  # lookup result, a URI object in Pyro's JSON
    assert out.rstrip().endswith("'Finally, an answer!'")  # slow; oneway_slow printed None before it
    assert "ONEWAY_SLOW--->\nNone\n" in out


def test_pyro4_example_node_client(example_gateway, tmp_path):
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.skip("node.js is not installed (Pyro4's client.js needs it)")
    # client.js keeps one global response buffer (``buffer='';`` without ``var``) for its five
    # requests in flight at once. Pyro4's gateway answered one request at a time, so the replies
    # rarely met; ours answers them concurrently, and two replies arriving in one turn of node's
    # event loop end up in one buffer. The one fix: a buffer per request.
    fix = ("            buffer='';", "            var buffer='';")
    client = example_copy(tmp_path, "client.js", example_gateway, fixes=[fix])
    done = subprocess.run([node, str(client)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr  # client.js prints failures to stderr
    for section in ("LIST--->", "META--->", "LOOKUP--->", "ONEWAY_SLOW--->", "SLOW--->"):
        assert section in done.stdout
    assert '"Finally, an answer!"' in done.stdout
    assert '"Pyro.NameServer": "PYRO:Pyro.NameServer@127.0.0.1:' in done.stdout
