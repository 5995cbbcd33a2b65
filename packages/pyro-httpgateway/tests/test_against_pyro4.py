"""The same requests to genuine Pyro4 4.82's gateway (``python -m Pyro4.utils.httpgateway``,
in a child process) and to ours, both in front of the same name server and objects: the
answers agree, except where we differ on purpose (the package README's table)."""

from __future__ import annotations

import uuid

import pytest

RUNNING = r"^Pyro HTTP gateway running on (http://127\.0\.0\.1:\d+)/pyro/$"
FORM = "application/x-www-form-urlencoded"
MULTIPART_BODY = (
    b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n'
    b'--b\r\nContent-Disposition: form-data; name="b"\r\n\r\ny\r\n--b--\r\n'
)


@pytest.fixture(scope="module")
def pyro4_gateway(pyro_side, module_spawn):
    """Genuine Pyro4 4.82's gateway (it still runs on this Python, which has cgi); its base URL."""
    process = module_spawn(
        "-W",
        "ignore::DeprecationWarning",  # its "import cgi"
        *("-m", "Pyro4.utils.httpgateway", "-H", "127.0.0.1", "-p", "0"),
        PYRO_NS_HOST=pyro_side.ns_host,
        PYRO_NS_PORT=str(pyro_side.ns_port),
    )
    return process.wait_for(RUNNING).group(1)


@pytest.fixture()
def both(pyro4_gateway, gateway, http_request):
    """``both(path, **request)`` -> (Pyro4's reply, our reply)."""

    def ask(path, method="GET", body=None, headers=None):
        return tuple(http_request(base + path, method, body, headers) for base in (pyro4_gateway, gateway.url))

    return ask


REQUESTS = [
    ("/pyro/http.echo/echo?message=hi%20there", "GET", None, None),
    ("/pyro/http.echo/arguments?a=1&b=x&b=y&blank=", "GET", None, None),
    ("/pyro/http.echo/add?b=two", "POST", b"a=one", {"Content-Type": FORM}),
    ("/pyro/http.echo/value", "GET", None, None),
    ("/pyro/http.echo/thing", "GET", None, None),
    ("/pyro/http.echo/fail?message=broken", "GET", None, None),
    ("/pyro/http.echo/add?a=1", "GET", None, None),
]


@pytest.mark.parametrize(("path", "method", "body", "headers"), REQUESTS)
def test_same_status_type_and_json(both, path, method, body, headers):
    theirs, ours = both(path, method, body, headers)
    assert (ours.status, ours.headers["content-type"]) == (theirs.status, theirs.headers["content-type"])
    assert ours.json() == theirs.json()


def test_same_oneway_answer(both):
    theirs, ours = both("/pyro/http.echo/slow?seconds=0.3", headers={"X-Pyro-Options": "oneway"})
    assert (ours.status, ours.body) == (theirs.status, theirs.body) == (200, b"")


def test_same_correlation_id_handling(both):
    mine = str(uuid.uuid4())
    theirs, ours = both("/pyro/http.echo/correlation", headers={"X-Pyro-Correlation-Id": mine})
    assert theirs.headers["x-pyro-correlation-id"] == ours.headers["x-pyro-correlation-id"] == mine
    assert theirs.json() == ours.json() == mine


def test_same_metadata(both):
    theirs, ours = both("/pyro/http.echo/$meta")
    assert theirs.status == ours.status == 200
    mine = ours.json()
    assert set(mine["methods"]) == set(theirs.json()["methods"])
    assert set(mine["attributes"]) == set(theirs.json()["attributes"])
    assert set(mine) == set(theirs.json()) | {"oneway"}  # ours also tells the oneway methods


def test_same_refusal_of_an_unexposed_name(both):
    theirs, ours = both("/pyro/test.hidden/echo?message=x")
    assert theirs.status == ours.status == 403


@pytest.mark.parametrize(
    ("path", "pyro4_status", "our_status"),
    [
        ("/pyro/http.nothere/echo", 500, 404),  # Pyro4 answers a NamingError as 500 (its docs say 404)
        ("/pyro/http.echo/nosuch", 500, 404),
        ("/pyro/http.dead/echo?message=x", 500, 502),
    ],
)
def test_differences_on_purpose(both, path, pyro4_status, our_status):
    theirs, ours = both(path)
    assert (theirs.status, ours.status) == (pyro4_status, our_status)
    assert theirs.json()["__exception__"] is ours.json()["__exception__"] is True


def test_non_ascii_query_values_pyro4_reads_as_latin1(both):
    theirs, ours = both("/pyro/http.echo/echo?message=gr%C3%BC%C3%9Fe")
    assert theirs.json() == "grüße".encode().decode("latin-1")  # cgi.parse decodes the bytes as Latin-1
    assert ours.json() == "grüße"


def test_multipart_form_posts_pyro4_cannot_read(both):
    theirs, ours = both(
        "/pyro/http.echo/add", "POST", MULTIPART_BODY, {"Content-Type": "multipart/form-data; boundary=b"}
    )
    assert theirs.status == 500  # cgi.parse fails on Python 3 (the boundary is a str, not bytes)
    assert (ours.status, ours.json()) == (200, "xy")
