"""TLS for the name server, like any daemon: our client and genuine Pyro4 look names up over TLS."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

trustme = pytest.importorskip("trustme")

LOOKUP = """
import sys
kind = sys.argv[1]
if kind == "ours":
    import pyro_client as pyro
else:
    import Pyro4 as pyro
with pyro.locateNS(host="localhost", port=int(sys.argv[2])) as ns:
    print("names:", sorted(ns.list()))
"""


@pytest.fixture()
def certificates(tmp_path):
    ca = trustme.CA()
    server = ca.issue_cert("localhost", "127.0.0.1")
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    server.cert_chain_pems[0].write_to_path(str(tmp_path / "server.pem"))
    server.private_key_pem.write_to_path(str(tmp_path / "server.key"))
    return {name: str(tmp_path / name) for name in ("ca.pem", "server.pem", "server.key")}


@pytest.mark.parametrize("client_kind", ["ours", "pyro4"])
def test_name_server_over_tls(spawn, certificates, client_kind):
    server_env = {
        "PYRO_SSL": "true",
        "PYRO_SSL_SERVERCERT": certificates["server.pem"],
        "PYRO_SSL_SERVERKEY": certificates["server.key"],
    }
    ns = spawn(["-m", "pyro_naming", "-n", "localhost", "-p", "0", "-x"], env=server_env)
    port = ns.wait_for("URI = ").rsplit(":", 1)[1]
    client_env = {**os.environ, "PYRO_SSL": "true", "PYRO_SSL_CACERTS": certificates["ca.pem"]}
    ok = subprocess.run(
        [sys.executable, "-c", LOOKUP, client_kind, port], capture_output=True, text=True, timeout=60, env=client_env
    )
    assert ok.returncode == 0, ok.stderr
    assert "names: ['Pyro.NameServer']" in ok.stdout
    plain_env = {key: value for key, value in client_env.items() if not key.startswith("PYRO_SSL")}
    plain_env["PYRO_COMMTIMEOUT"] = "5"
    refused = subprocess.run(
        [sys.executable, "-c", LOOKUP, client_kind, port], capture_output=True, text=True, timeout=60, env=plain_env
    )
    assert refused.returncode != 0 and "names:" not in refused.stdout
