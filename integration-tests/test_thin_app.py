"""A thin app: a fresh virtual environment with only the built pyro-client wheel (and what it
needs) calls a running server; pyro_server is not importable there."""

from __future__ import annotations

import subprocess
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CLIENT_SCRIPT = """
import sys
import pyro_client
with pyro_client.Proxy(sys.argv[1]) as thing:
    print("answer", thing.method(21))
try:
    import pyro_server
except ImportError:
    print("pyro_server not installed")
"""


@pytest.fixture(scope="module")
def thin_env(tmp_path_factory):
    where = tmp_path_factory.mktemp("thin")
    env_dir = where / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    wheels = where / "wheels"
    build = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(wheels),
            str(ROOT / "packages" / "pyro-protocol"),
            str(ROOT / "packages" / "pyro-client"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if build.returncode != 0 and "No matching distribution" in build.stderr:
        pytest.skip(f"cannot reach the package index to get the build backend: {build.stderr[-300:]}")
    assert build.returncode == 0, build.stderr
    built = sorted(str(wheel) for wheel in wheels.glob("*.whl"))
    assert [Path(w).name.split("-")[0] for w in built] == ["pyro_client", "pyro_protocol"]
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", *built], capture_output=True, text=True, timeout=300
    )
    assert install.returncode == 0, install.stderr
    return python


def test_thin_client_calls_a_server(thin_env, spawn):
    server = spawn(["examples/thing/server.py"], env={"PYRO_HOST": "127.0.0.1"})
    line = server.wait_for("uri=")
    uri = line[line.index("PYRO:") :]
    result = subprocess.run([str(thin_env), "-c", CLIENT_SCRIPT, uri], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["answer 42", "pyro_server not installed"]
    listing = subprocess.run([str(thin_env), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True)
    installed = {line.split("==")[0].lower() for line in listing.stdout.splitlines()}
    assert {"pyro-client", "pyro-protocol", "serpent"} <= installed
    assert not installed & {"pyro-server", "pyro-naming"}
