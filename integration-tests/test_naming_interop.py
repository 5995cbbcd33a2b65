"""Naming interop: {our name server, Pyro4's} used by {our serveSimple, Pyro4's} and by
{our client, Pyro4's}: PYRONAME:, PYROMETA:, queries and broadcast discovery on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(
    scope="module",
    params=[("ours", "ours"), ("ours", "pyro4"), ("pyro4", "ours"), ("pyro4", "pyro4")],
    ids=lambda kinds: f"ns-{kinds[0]}-server-{kinds[1]}",
)
def naming_setup(request, module_spawn):
    ns_kind, server_kind = request.param
    bcport = _free_udp_port()
    ns = module_spawn(["integration-tests/scripts/ns_server.py", ns_kind, str(bcport)])
    ns_uri = ns.wait_for("URI =").split("=", 1)[1].strip()
    host, port = ns_uri.split("@", 1)[1].rsplit(":", 1)
    env = {"PYRO_NS_HOST": host, "PYRO_NS_PORT": port, "PYRO_NS_BCPORT": str(bcport)}
    publisher = module_spawn(["integration-tests/scripts/ns_publisher.py", server_kind], env=env)
    publisher.wait_for("Pyro daemon running")
    return server_kind, env


@pytest.mark.parametrize("client_kind", ["ours", "pyro4"])
def test_naming_pair(naming_setup, client_kind):
    server_kind, env = naming_setup
    result = subprocess.run(
        [sys.executable, "integration-tests/scripts/ns_client.py", client_kind, server_kind],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith(("OK ", "FAIL "))]
    assert len(lines) == 4, result.stdout + result.stderr
    failures = [line for line in lines if line.startswith("FAIL")]
    assert not failures, "\n".join(failures)
