"""The compatibility distribution: Pyro4's module names, bound to the pyro-* packages' objects."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

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


def _public_names(source: str) -> set[str]:
    """Top-level functions, classes and constants a Pyro4 module defines itself (not what it imports)."""
    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(target.id for target in node.targets if isinstance(target, ast.Name))
    return {name for name in names if not name.startswith("_") and name != "log"}


#: Names of Pyro4 4.82 that are left out on purpose, and why.
LEFT_OUT = {
    "Pyro4.core": {"serialize_core_object_to_dict", "pyro_class_serpent_serializer"},  # serializer internals
    "Pyro4.util": {"all_exceptions", "getAttribute", "fixIronPythonExceptionForPickle"},  # internals, IronPython
    "Pyro4.utils.flame": {"fixExecSourceNewlines"},  # a Python 2 workaround
    "Pyro4.utils.httpgateway": set(),
}


@pytest.mark.parametrize("name", [module for module in MODULES if module != "Pyro4.utils.httpgateway"])
def test_every_public_name_of_pyro4_is_here(name, pyro4_sdist):
    source = (pyro4_sdist / "src" / Path(*name.split("."))).with_suffix(".py").read_text()
    module = importlib.import_module(name)
    missing = _public_names(source) - LEFT_OUT.get(name, set()) - set(dir(module))
    assert not missing, f"{name} lacks {sorted(missing)}"
