"""The compatibility distribution: Pyro4's module names, bound to the pyro-* packages' objects."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import pyro_client
import pyro_naming
import pyro_protocol
import pyro_server


def test_import_pyro4_is_ours():
    import Pyro4

    assert Pyro4.Proxy is pyro_client.Proxy
    assert Pyro4.Daemon is pyro_server.Daemon
    assert Pyro4.config is pyro_protocol.config
    assert Pyro4.errors.CommunicationError is pyro_protocol.errors.CommunicationError
    assert Pyro4.__version__ == "4.82"


def test_pyro4_defaults_where_ours_differ():
    code = "import Pyro4; print(Pyro4.config.REQUIRE_EXPOSE, sorted(Pyro4.config.SERIALIZERS_ACCEPTED))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True ['json', 'marshal', 'serpent']"
    # the environment still wins, and reset() keeps Pyro4's defaults
    code = "import Pyro4; Pyro4.config.reset(); print(Pyro4.config.REQUIRE_EXPOSE)"
    env = {"PYRO_REQUIRE_EXPOSE": "false", "PATH": ""}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.strip() == "False"
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import Pyro4; Pyro4.config.REQUIRE_EXPOSE = False; Pyro4.config.reset(); "
            "print(Pyro4.config.REQUIRE_EXPOSE)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == "True"


MODULES = [
    "Pyro4.core",
    "Pyro4.naming",
    "Pyro4.nsc",
    "Pyro4.naming_storage",
    "Pyro4.util",
    "Pyro4.errors",
    "Pyro4.constants",
    "Pyro4.message",
    "Pyro4.futures",
    "Pyro4.socketutil",
    "Pyro4.configuration",
    "Pyro4.test.echoserver",
    "Pyro4.utils.flame",
    "Pyro4.utils.flameserver",
    "Pyro4.utils.httpgateway",
]


@pytest.mark.parametrize("name", MODULES)
def test_every_module_imports_and_exports_what_it_lists(name):
    module = importlib.import_module(name)
    for exported in module.__all__:
        assert hasattr(module, exported), f"{name}.{exported}"


def test_aliases_are_the_packages_objects():
    import Pyro4.core
    import Pyro4.naming
    import Pyro4.util

    assert Pyro4.core.Daemon is pyro_server.Daemon
    assert Pyro4.naming.NameServer is pyro_naming.NameServer
    assert Pyro4.util.SerializerBase is pyro_protocol.serializers.SerializerBase
    assert Pyro4.locateNS is pyro_client.locateNS
