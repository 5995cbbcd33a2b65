"""Calls through the gateway with a real HTTP client: results, arguments, oneway,
attributes, metadata, the correlation id and the exceptions of the objects."""

from __future__ import annotations

import json
import time
import uuid
from urllib.parse import quote

JSON_TYPE = "application/json; charset=utf-8"


def test_get_with_query_string_returns_the_json_result(gateway):
    reply = gateway.get("/pyro/http.echo/echo?message=hello%20gateway")
    assert reply.status == 200
    assert reply.headers["content-type"] == JSON_TYPE
    assert reply.json() == "hello gateway"
    assert reply.headers["content-length"] == str(len(reply.body))


def test_query_values_are_strings_and_repeated_names_lists(gateway):
    reply = gateway.get("/pyro/http.echo/arguments?a=1&b=x&b=y&blank=")
    assert reply.status == 200
    assert reply.json() == {"a": "1", "b": ["x", "y"]}  # blank values are left out, as Pyro4's cgi did


def test_form_post_arguments_and_the_query_string_together(gateway):
    reply = gateway.post("/pyro/http.echo/add?b=two", b"a=one", "application/x-www-form-urlencoded")
    assert reply.status == 200
    assert reply.json() == "onetwo"


def test_multipart_form_post(gateway):
    body = (
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="a"\r\n\r\n'
        b"spam\r\n"
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="b"\r\n\r\n'
        b"eggs \xc3\xa9\r\n"
        b"--XyZ--\r\n"
    )
    reply = gateway.post("/pyro/http.echo/add", body, "multipart/form-data; boundary=XyZ")
    assert reply.status == 200, reply.body
    assert reply.json() == "spameggs é"


def test_json_body_gives_arguments_with_json_types(gateway):
    reply = gateway.post("/pyro/http.echo/add", b'{"a": 40, "b": 2}', "application/json")
    assert reply.status == 200
    assert reply.json() == 42
    reply = gateway.post("/pyro/http.echo/arguments", json.dumps({"x": [1, {"y": None}]}).encode(), "application/json")
    assert reply.json() == {"x": [1, {"y": None}]}


def test_unicode_arguments_and_results(gateway):
    reply = gateway.get("/pyro/http.echo/echo?message=" + quote("grüße ✓"))
    assert reply.status == 200
    assert reply.json() == "grüße ✓"
    assert "grüße ✓".encode() in reply.body  # UTF-8 on the wire, not \\u escapes only


def test_an_attribute_is_read_with_get(gateway):
    reply = gateway.get("/pyro/http.echo/value")
    assert reply.status == 200
    assert reply.json() == 42


def test_meta_lists_methods_attributes_and_oneway_methods(gateway):
    reply = gateway.get("/pyro/http.echo/$meta")
    assert reply.status == 200
    assert reply.headers["content-type"] == JSON_TYPE
    meta = reply.json()
    assert {"echo", "add", "fail", "slow", "log"} <= set(meta["methods"])
    assert meta["attributes"] == ["value"]
    assert meta["oneway"] == ["log"]


def test_result_of_a_class_the_gateway_cannot_rebuild_passes_through(gateway):
    reply = gateway.get("/pyro/http.echo/thing")
    assert reply.status == 200
    data = reply.json()
    assert data["__class__"].endswith(".Thing") and data["size"] == 3


def test_remote_exception_is_500_with_the_json_exception_object(gateway):
    reply = gateway.get("/pyro/http.echo/fail?message=bad%20thing")
    assert reply.status == 500
    assert reply.headers["content-type"] == JSON_TYPE
    error = reply.json()
    assert error["__class__"] == "builtins.ValueError"
    assert error["__exception__"] is True
    assert error["args"] == ["bad thing"]
    assert "ValueError: bad thing" in "".join(error["attributes"]["_pyroTraceback"])
    # the gateway goes on serving after an exception
    assert gateway.get("/pyro/http.echo/echo?message=after").json() == "after"


def test_wrong_arguments_are_the_remote_type_error(gateway):
    reply = gateway.get("/pyro/http.echo/add?a=1&c=2")
    assert reply.status == 500
    assert reply.json()["__class__"] == "builtins.TypeError"


def test_oneway_header_answers_at_once_with_an_empty_body(gateway):
    started = time.monotonic()
    reply = gateway.get("/pyro/http.echo/slow?seconds=1.5", headers={"X-Pyro-Options": "oneway"})
    elapsed = time.monotonic() - started
    assert reply.status == 200
    assert reply.body == b""
    assert reply.headers["content-type"] == JSON_TYPE
    assert "x-pyro-correlation-id" in reply.headers
    assert elapsed < 1.0, elapsed


def test_a_oneway_method_answers_empty_and_runs(gateway, pyro_side):
    reply = gateway.get("/pyro/http.echo/log?message=noted")
    assert reply.status == 200 and reply.body == b""
    deadline = time.monotonic() + 5.0
    while "noted" not in pyro_side.echo.logged and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "noted" in pyro_side.echo.logged
    assert "noted" in gateway.get("/pyro/http.echo/messages").json()


def test_correlation_id_from_the_request_reaches_the_object_and_comes_back(gateway):
    mine = uuid.uuid4()
    reply = gateway.get("/pyro/http.echo/correlation", headers={"X-Pyro-Correlation-Id": str(mine)})
    assert reply.status == 200
    assert reply.headers["x-pyro-correlation-id"] == str(mine)
    assert reply.json() == str(mine)


def test_a_new_correlation_id_per_request_without_the_header(gateway):
    first = gateway.get("/pyro/http.echo/correlation")
    second = gateway.get("/pyro/http.echo/correlation")
    ids = {first.headers["x-pyro-correlation-id"], second.headers["x-pyro-correlation-id"]}
    assert len(ids) == 2
    assert first.json() == first.headers["x-pyro-correlation-id"]
    assert uuid.UUID(second.json()).version == 4


def test_an_iterator_result_is_refused_clearly(gateway):
    reply = gateway.get("/pyro/http.echo/numbers")
    assert reply.status == 500
    error = reply.json()
    assert error["__class__"] == "Pyro4.errors.PyroError"
    assert "returned an iterator" in error["args"][0]
    assert gateway.get("/pyro/http.echo/echo?message=still%20fine").json() == "still fine"


def test_connections_are_reused_between_requests(gateway):
    for _ in range(5):
        assert gateway.get("/pyro/http.echo/echo?message=x").status == 200
    links = gateway.app.links()
    assert links.idle_count() == 2  # one to the name server, one to http.echo


def test_calls_work_with_metadata_off(serve_gateway):
    from pyro_protocol.config import config

    config.METADATA = False  # the handshake then brings no metadata; the gateway asks for it
    served = serve_gateway()
    assert served.get("/pyro/http.echo/echo?message=no%20meta").json() == "no meta"
    assert served.get("/pyro/http.echo/value").json() == 42
