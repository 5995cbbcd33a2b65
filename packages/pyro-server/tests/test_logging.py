"""Logging as a library should: silent until the program (or PYRO_LOGLEVEL) switches it on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# A daemon that gets garbage from a client logs a warning ("closing connection ...").
GARBAGE_CLIENT = """
import socket, threading, time
from pyro_server import Daemon
daemon = Daemon(host="127.0.0.1")
thread = threading.Thread(target=daemon.requestLoop, daemon=True)
thread.start()
sock = socket.create_connection(daemon.sock.getsockname()[:2])
sock.sendall(b"this is not a Pyro message, not at all")
sock.settimeout(5)
while sock.recv(1000):  # the daemon answers and closes the connection
    pass
sock.close()
daemon.shutdown()
daemon.close()
print("done")
"""


def _run(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("PYRO_")}
    return subprocess.run(
        [sys.executable, "-c", GARBAGE_CLIENT],
        capture_output=True,
        text=True,
        env={**clean, **env},
        cwd=cwd,
        timeout=60,
    )


def test_unconfigured_logging_prints_nothing(tmp_path):
    result = _run({}, tmp_path)
    assert result.stdout.strip() == "done", result.stderr
    assert result.stderr == ""  # no "closing connection" warning from Python's last-resort handler
    assert not (tmp_path / "pyro.log").exists()


def test_pyro_loglevel_logs_to_a_file_or_stderr(tmp_path):
    result = _run({"PYRO_LOGLEVEL": "WARNING"}, tmp_path)
    assert result.returncode == 0, result.stderr
    logged = (tmp_path / "pyro.log").read_text()
    assert "pyro.server,WARNING] closing connection from" in logged
    result = _run({"PYRO_LOGLEVEL": "debug", "PYRO_LOGFILE": "{stderr}"}, tmp_path)
    assert "pyro.server,WARNING] closing connection from" in result.stderr
    assert "logging configured from PYRO_LOGLEVEL=debug" in result.stderr
    log_file = tmp_path / "elsewhere.log"
    _run({"PYRO_LOGLEVEL": "INFO", "PYRO_LOGFILE": str(log_file)}, tmp_path)
    assert "closing connection from" in log_file.read_text()


def test_a_program_that_configures_logging_sees_pyro_warnings(tmp_path):
    program = "import logging, sys; logging.basicConfig(stream=sys.stderr)\n" + GARBAGE_CLIENT
    clean = {key: value for key, value in os.environ.items() if not key.startswith("PYRO_")}
    result = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        env={**clean, "PYRO_LOGLEVEL": "DEBUG"},
        timeout=60,
    )
    assert "WARNING:pyro.server:closing connection from" in result.stderr  # its own format: PYRO_LOGLEVEL stood back


def test_bad_loglevel_is_a_clear_error(tmp_path):
    result = _run({"PYRO_LOGLEVEL": "LOUD"}, tmp_path)
    assert result.returncode != 0
    assert "PYRO_LOGLEVEL='LOUD' is not a logging level" in result.stderr


def test_logwire_logs_every_message_both_ways(serve, caplog):
    from pyro_client import Proxy
    from pyro_protocol.config import config

    class Echo:
        def echo(self, value):
            return value

    _daemon, uri = serve(Echo())
    config.LOGWIRE = True
    caplog.set_level("DEBUG", logger="pyro.wire")
    with Proxy(uri) as proxy:
        assert proxy.echo("hello") == "hello"
        big = bytes(300_000)
        config.SERIALIZER = "marshal"  # a large bytes argument and result go out without a copy: logged too
        assert proxy.echo(big) == big
    lines = [record.getMessage() for record in caplog.records if record.name == "pyro.wire"]
    kinds = [line.split(":")[0] for line in lines]
    # connect, then two calls: each message logged once by its sender and once by its receiver
    assert (
        kinds
        == ["proxy wiredata sending", "daemon wiredata received", "daemon wiredata sending", "proxy wiredata received"]
        * 3
    )
    assert "msgtype=1 " in lines[0] and "msgtype=2 " in lines[3]  # CONNECT, CONNECTOK
    assert "msgtype=4 " in lines[4] and "'hello'" in lines[4] and "msgtype=5 " in lines[7]
    # the 300,000 byte parts are shown by their first 1000 bytes and counted
    assert all(" bytes)" in line and "ser=3" in line for line in lines[8:])


def test_logwire_off_logs_nothing(serve, caplog):
    from pyro_client import Proxy

    class Echo:
        def echo(self, value):
            return value

    _daemon, uri = serve(Echo())
    caplog.set_level("DEBUG", logger="pyro.wire")
    with Proxy(uri) as proxy:
        proxy.echo("hello")
    assert not [record for record in caplog.records if record.name == "pyro.wire"]
