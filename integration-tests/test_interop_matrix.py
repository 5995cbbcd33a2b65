"""The interop matrix: {our client, genuine Pyro4 4.82 client} x {our daemon, Pyro4's daemon}
x {serpent, json, marshal, msgpack, pickle}, each pair running one shared scenario set
(integration-tests/scripts/matrix_client.py). A pair that cannot work is skipped with its reason."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

SCENARIOS = [
    "plain_calls",
    "keyword_arguments",
    "oneway",
    "remote_attributes",
    "exceptions_with_remote_traceback",
    "autoproxy",
    "batch",
    "async_results",
    "remote_iterators",
    "instance_modes",
    "large_payload",
    "metadata",
    "refused_serializer",
]
SERIALIZERS = ["serpent", "json", "marshal", "msgpack", "pickle"]


@pytest.fixture(scope="module", params=["ours", "pyro4"])
def daemon_location(request, module_spawn):
    process = module_spawn(["integration-tests/scripts/matrix_server.py", request.param])
    line = process.wait_for("location=")
    return request.param, line.split("=", 1)[1].strip()


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest.mark.parametrize("client_kind", ["ours", "pyro4"])
def test_pair(daemon_location, client_kind, serializer):
    daemon_kind, location = daemon_location
    result = subprocess.run(
        [sys.executable, "integration-tests/scripts/matrix_client.py", client_kind, serializer, location, daemon_kind],
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line for line in result.stdout.splitlines() if re.match(r"(OK|SKIP|FAIL) ", line)]
    outcomes = {line.split()[1].rstrip(":"): line for line in lines}
    assert sorted(outcomes) == sorted(SCENARIOS), result.stdout + result.stderr
    failures = [line for line in lines if line.startswith("FAIL")]
    assert not failures, "\n".join(failures)
    for line in lines:
        if line.startswith("SKIP"):
            assert ": " in line, f"a skip must give its reason: {line}"
