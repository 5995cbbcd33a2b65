"""Pyro4 4.82's ``Pyro4.utils.httpgateway`` names, for code (and the Pyro4 compatibility
package) that uses them: present, and doing what they did there."""

from __future__ import annotations

import inspect
import io
import warnings

import pytest

import pyro_httpgateway


def genuine_module():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # its "import cgi"
        from Pyro4.utils import httpgateway
    return httpgateway


def test_every_public_name_of_pyro4s_module_is_here():
    genuine = genuine_module()
    own = {
        name
        for name, value in vars(genuine).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == genuine.__name__
    }
    assert {"pyro_app", "main", "process_pyro_request", "singlyfy_parameters"} <= own  # (9 names in all)
    missing = {name for name in own if not hasattr(pyro_httpgateway, name)}
    assert not missing
    assert set(genuine.__all__) <= set(pyro_httpgateway.__all__)
    for name in own - {"pyro_app"}:
        theirs = list(inspect.signature(getattr(genuine, name)).parameters)
        ours = list(inspect.signature(getattr(pyro_httpgateway, name)).parameters)
        assert ours == theirs, name


def test_pyro_app_settings_have_pyro4s_names_and_defaults():
    genuine = genuine_module().pyro_app
    for setting in ("ns_regex", "hmac_key", "gateway_key", "comm_timeout"):
        assert hasattr(pyro_httpgateway.pyro_app, setting)
    assert pyro_httpgateway.pyro_app.ns_regex == genuine.ns_regex == pyro_httpgateway.DEFAULT_EXPOSE == r"http\."
    assert pyro_httpgateway.pyro_app.comm_timeout == genuine.comm_timeout == 0.0


def start_response_recorder():
    answers = []
    return answers, lambda status, headers: answers.append((status, dict(headers)))


def test_helpers_answer_like_pyro4s():
    answers, start_response = start_response_recorder()
    assert pyro_httpgateway.redirect(start_response, "/pyro/") == [b""]
    assert pyro_httpgateway.not_found(start_response)
    assert pyro_httpgateway.invalid_request(start_response)
    assert [status for status, _ in answers] == ["302 Found", "404 Not Found", "405 Method Not Allowed"]
    assert answers[0][1]["Location"] == "/pyro/"
    assert pyro_httpgateway.singlyfy_parameters({"a": ["1"], "b": ["1", "2"], "c": "x"}) == {
        "a": "1",
        "b": ["1", "2"],
        "c": "x",
    }


@pytest.fixture()
def configured_pyro_app(pyro_side):
    app = pyro_httpgateway.pyro_app
    saved = dict(vars(app))
    app.ns_host, app.ns_port, app.gateway_key = pyro_side.ns_host, pyro_side.ns_port, None
    yield app
    app.close()
    vars(app).update(saved)


def test_process_pyro_request_and_return_homepage(configured_pyro_app):
    environ = {"REQUEST_METHOD": "GET", "wsgi.input": io.BytesIO(), "wsgi.errors": io.StringIO()}
    answers, start_response = start_response_recorder()
    body = pyro_httpgateway.process_pyro_request(environ, "http.echo/add", {"a": "4", "b": "2"}, start_response)
    assert b"".join(body) == b'"42"'
    assert answers[-1][0] == "200 OK"
    page = b"".join(pyro_httpgateway.return_homepage(environ, start_response))
    assert answers[-1][0] == "200 OK" and b"http.echo" in page
    with pyro_httpgateway.get_nameserver() as nameserver:
        assert "http.echo" in nameserver.list()
