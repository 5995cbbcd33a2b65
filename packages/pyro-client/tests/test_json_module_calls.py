"""JSON_MODULE on a real call: a client process whose json serializer is a module of the test's
own calls the genuine Pyro4 daemon; and the error a client gets when the module is missing."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

#: Valid JSON of another shape than the standard module's (indented), and a note on stderr per use.
INDENTED_JSON = """
import json
import sys


def dumps(obj, **options):
    print("indentedjson.dumps", file=sys.stderr)
    return json.dumps(obj, indent=1, **options)


def loads(text):
    print("indentedjson.loads", file=sys.stderr)
    return json.loads(text)
"""


def run_client(script, tmp_path, **settings):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYRO_")}
    env.update(PYTHONPATH=str(tmp_path), PYRO_SERIALIZER="json", **settings)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], env=env, capture_output=True, text=True, timeout=30
    )


def test_a_call_through_the_configured_module(pyro4_server, tmp_path):
    (tmp_path / "indentedjson.py").write_text(INDENTED_JSON)
    script = f"""
        import pyro_client
        with pyro_client.Proxy({pyro4_server.uri("calc")!r}) as calc:
            print(calc.add(2, 3), calc.echo({{"nested": ["é", 1.5]}}))
        """
    done = run_client(script, tmp_path, PYRO_JSON_MODULE="indentedjson", PYRO_METADATA="false")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "5 {'nested': ['é', 1.5]}\n"
    # the handshake and two calls, each sent and its answer read
    assert done.stderr.split() == ["indentedjson.dumps", "indentedjson.loads"] * 3


def test_a_missing_module_fails_when_the_proxy_is_made(tmp_path):
    script = """
        import pyro_client
        try:
            pyro_client.Proxy("PYRO:thing@127.0.0.1:1")
        except pyro_client.SerializeError as exc:
            print(exc)
        """
    done = run_client(script, tmp_path, PYRO_JSON_MODULE="json_that_is_not_installed")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(
        "config item JSON_MODULE names 'json_that_is_not_installed', which cannot be imported"
    )
