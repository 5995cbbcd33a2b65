"""The JSON_MODULE config item: the json serializer uses the module it names (a small stand-in
for simplejson, written into a tmp dir), and says clearly when that module is unusable."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from pyro_protocol import URI, serializers
from pyro_protocol.errors import SerializeError
from pyro_protocol.serializers import JsonSerializer

#: A json-like module whose output is compact (no spaces: unlike the standard json's) and that
#: records each call, so a test sees which module did the work.
COMPACT_JSON = """
import json

calls = []


def dumps(obj, **options):
    calls.append("dumps")
    return json.dumps(obj, separators=(",", ":"), **options)


def loads(text):
    calls.append("loads")
    return json.loads(text)
"""


@pytest.fixture
def compactjson(tmp_path, monkeypatch, fresh_config):
    """The stand-in module importable as ``compactjson`` and named by JSON_MODULE."""
    (tmp_path / "compactjson.py").write_text(COMPACT_JSON)
    monkeypatch.syspath_prepend(str(tmp_path))
    fresh_config.JSON_MODULE = "compactjson"
    import compactjson

    yield compactjson
    sys.modules.pop("compactjson", None)


def test_the_default_is_the_standard_json(fresh_config):
    assert fresh_config.JSON_MODULE == "json"
    assert JsonSerializer().dumps({"a": [1, 2]}) == b'{"a": [1, 2]}'
    assert serializers.get_serializer("json").dumps({"a": [1, 2]}) == b'{"a": [1, 2]}'


def test_the_configured_module_does_the_work(compactjson):
    ser = JsonSerializer()
    assert ser.dumps({"a": [1, 2], "text": "é"}) == '{"a":[1,2],"text":"é"}'.encode()  # ensure_ascii=False
    assert ser.loads(b'{"a": [1, 2]}') == {"a": [1, 2]}
    assert compactjson.calls == ["dumps", "loads"]


def test_classes_and_calls_go_through_it_too(compactjson):
    ser = JsonSerializer()
    uri = URI("PYRO:thing@127.0.0.1:5000")
    data = ser.dumps([uri, {1, 2}])  # the default hook turns the URI into a class dict, the set into a list
    assert data.startswith(b'[{"__class__":"Pyro4.core.URI"')
    assert ser.loads(data) == [uri, [1, 2]]
    call = ser.dumpsCall("obj", "method", (1, "two"), {"k": None})
    assert call == b'{"object":"obj","method":"method","params":[1,"two"],"kwargs":{"k":null}}'
    assert ser.loadsCall(call) == ("obj", "method", [1, "two"], {"k": None})
    assert compactjson.calls == ["dumps", "loads", "dumps", "loads"]


def test_a_module_that_cannot_be_imported(fresh_config):
    fresh_config.JSON_MODULE = "no_such_json_module_here"
    with pytest.raises(SerializeError) as caught:
        JsonSerializer()
    message = str(caught.value)
    assert "JSON_MODULE names 'no_such_json_module_here', which cannot be imported" in message
    assert "No module named 'no_such_json_module_here'" in message
    assert "PYRO_JSON_MODULE" in message


def test_a_module_without_dumps_and_loads(tmp_path, monkeypatch, fresh_config):
    (tmp_path / "jsonless.py").write_text("dumps = 'not a function'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    fresh_config.JSON_MODULE = "jsonless"
    try:
        with pytest.raises(SerializeError, match="JSON_MODULE 'jsonless' has no dumps and loads functions"):
            JsonSerializer()
    finally:
        sys.modules.pop("jsonless", None)


def test_pyro_json_module_in_the_environment(tmp_path):
    (tmp_path / "compactjson.py").write_text(COMPACT_JSON)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYRO_")}
    env.update(PYRO_JSON_MODULE="compactjson", PYTHONPATH=str(tmp_path))
    script = textwrap.dedent(
        """
        from pyro_protocol import serializers
        import compactjson
        print(serializers.get_serializer("json").dumps([1, {"b": 2}]).decode(), compactjson.calls)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout == """[1,{"b":2}] ['dumps']\n"""
