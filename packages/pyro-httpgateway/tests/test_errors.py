"""Every error status of the gateway, with its JSON body and headers, and concurrency."""

from __future__ import annotations

import threading
import time

import pytest

from pyro_naming import NameServerDaemon
from pyro_server import Daemon

JSON_TYPE = "application/json; charset=utf-8"


def error_of(reply, status, classname, correlated=True):
    """The reply's JSON exception object, after checking its status and class."""
    assert reply.status == status, (reply.status, reply.body)
    assert reply.headers["content-type"] == JSON_TYPE
    error = reply.json()
    assert error["__class__"] == classname, error
    assert error["__exception__"] is True
    assert ("x-pyro-correlation-id" in reply.headers) == correlated
    return error


def test_root_and_pyro_redirect_to_the_page(gateway):
    for path in ("/", "/pyro"):
        reply = gateway.get(path)
        assert reply.status == 302
        assert reply.headers["location"] == "/pyro/"


def test_unexposed_name_is_403(gateway):
    error = error_of(gateway.get("/pyro/test.hidden/echo?message=x"), 403, "Pyro4.errors.SecurityError")
    assert "test.hidden" in error["args"][0]


def test_expose_pattern_can_be_widened_or_emptied(serve_gateway):
    assert serve_gateway(ns_regex=r"http\.|test\.").get("/pyro/test.hidden/echo?message=x").json() == "x"
    assert serve_gateway(ns_regex="").get("/pyro/Pyro.NameServer/ping").status == 200


def test_unknown_name_is_404(gateway):
    error = error_of(gateway.get("/pyro/http.nothere/echo"), 404, "Pyro4.errors.NamingError")
    assert "http.nothere" in error["args"][0]


def test_unknown_or_private_member_is_404(gateway):
    error_of(gateway.get("/pyro/http.echo/nosuch"), 404, "builtins.AttributeError")
    error_of(gateway.get("/pyro/http.echo/_value"), 404, "builtins.AttributeError")
    error_of(gateway.get("/pyro/http.echo/__init__"), 404, "builtins.AttributeError")


def test_paths_that_are_no_call_are_404(gateway):
    error_of(gateway.get("/pyro/http.echo"), 404, "Pyro4.errors.NamingError")
    error_of(gateway.get("/pyro/http.echo/"), 404, "Pyro4.errors.NamingError")
    error_of(gateway.get("/elsewhere"), 404, "Pyro4.errors.NamingError")


def test_other_http_methods_are_405_with_allow(gateway):
    for method in ("PUT", "DELETE", "HEAD"):
        reply = gateway.get("/pyro/http.echo/echo", method=method)
        assert reply.status == 405
        assert reply.headers["allow"] == "GET, POST"
    error_of(gateway.get("/pyro/http.echo/echo", method="PUT"), 405, "Pyro4.errors.ProtocolError")


@pytest.mark.parametrize(
    ("path", "body", "content_type", "headers", "words"),
    [
        ("/pyro/http.echo/add", b"{not json", "application/json", {}, "malformed JSON body"),
        ("/pyro/http.echo/add", b"[1, 2]", "application/json", {}, "must be an object"),
        ("/pyro/http.echo/echo?message=%ff", None, None, {}, "malformed query string"),
        ("/pyro/http.echo/echo", b"message=%ff", "application/x-www-form-urlencoded", {}, "malformed form body"),
        ("/pyro/http.echo/echo", b"--b\r\n\r\nx\r\n--b--\r\n", "multipart/form-data; boundary=b", {}, "without a name"),
        ("/pyro/http.echo/echo", None, None, {"X-Pyro-Correlation-Id": "not-a-uuid"}, "not a UUID"),
        ("/pyro/http.echo/value?x=1", None, None, {}, "takes no arguments"),
    ],
)
def test_malformed_requests_are_400(gateway, path, body, content_type, headers, words):
    if body is None:
        reply = gateway.get(path, headers=headers)
    else:
        reply = gateway.post(path, body, content_type, headers=headers)
    error = error_of(reply, 400, "Pyro4.errors.ProtocolError", correlated="X-Pyro-Correlation-Id" not in headers)
    assert words in error["args"][0]


def test_invalid_content_length_is_400(gateway):
    reply = gateway.post(
        "/pyro/http.echo/echo", b"", "application/x-www-form-urlencoded", headers={"Content-Length": "-5"}
    )
    error_of(reply, 400, "Pyro4.errors.ProtocolError")


def test_unknown_body_type_is_415(gateway):
    error = error_of(gateway.post("/pyro/http.echo/echo", b"hello", "text/plain"), 415, "Pyro4.errors.ProtocolError")
    assert "text/plain" in error["args"][0]


def test_oversize_body_is_413(serve_gateway):
    served = serve_gateway(max_body_size=100)
    fits = b"message=" + b"x" * 92
    assert served.post("/pyro/http.echo/echo", fits, "application/x-www-form-urlencoded").json() == "x" * 92
    error = error_of(
        served.post("/pyro/http.echo/echo", fits + b"x", "application/x-www-form-urlencoded"),
        413,
        "Pyro4.errors.MessageTooLargeError",
    )
    assert "101 bytes exceeds the limit of 100" in error["args"][0]


def test_a_much_larger_body_is_refused_too(serve_gateway):
    served = serve_gateway(max_body_size=1000)
    big = b"message=" + b"x" * (2 * 1024 * 1024)
    error_of(
        served.post("/pyro/http.echo/echo", big, "application/x-www-form-urlencoded"),
        413,
        "Pyro4.errors.MessageTooLargeError",
    )


class TestGatewayKey:
    KEY = "s3cret-key"

    @pytest.fixture()
    def keyed(self, serve_gateway):
        return serve_gateway(gateway_key=self.KEY)

    def test_missing_or_wrong_key_is_401(self, keyed):
        for headers in ({}, {"X-Pyro-Gateway-Key": "wrong"}):
            reply = keyed.get("/pyro/http.echo/echo?message=x", headers=headers)
            error = error_of(reply, 401, "Pyro4.errors.SecurityError")
            assert "gateway key" in error["args"][0]
            assert reply.headers["www-authenticate"] == "X-Pyro-Gateway-Key"
        error_of(keyed.get("/pyro/http.echo/echo?message=x&$key=wrong"), 401, "Pyro4.errors.SecurityError")

    def test_the_key_checks_before_the_expose_pattern(self, keyed):
        error_of(keyed.get("/pyro/test.hidden/echo"), 401, "Pyro4.errors.SecurityError")

    def test_key_in_header_query_or_form(self, keyed):
        reply = keyed.get("/pyro/http.echo/arguments?a=1", headers={"X-Pyro-Gateway-Key": self.KEY})
        assert reply.status == 200 and reply.json() == {"a": "1"}
        reply = keyed.get(f"/pyro/http.echo/arguments?a=1&$key={self.KEY}")
        assert reply.status == 200 and reply.json() == {"a": "1"}  # $key is not passed to the method
        reply = keyed.post(
            "/pyro/http.echo/arguments", f"a=2&$key={self.KEY}".encode(), "application/x-www-form-urlencoded"
        )
        assert reply.status == 200 and reply.json() == {"a": "2"}

    def test_the_page_needs_the_key_too(self, keyed):
        error_of(keyed.get("/pyro/"), 401, "Pyro4.errors.SecurityError")
        reply = keyed.get(f"/pyro/?$key={self.KEY}")
        assert reply.status == 200 and b"http.echo" in reply.body

    def test_key_from_the_environment(self, serve_gateway, monkeypatch):
        monkeypatch.setenv("PYRO_HTTPGATEWAY_KEY", "from-env")
        served = serve_gateway(gateway_key=None)
        assert served.get("/pyro/http.echo/echo?message=x").status == 401
        assert served.get("/pyro/http.echo/echo?message=x", headers={"X-Pyro-Gateway-Key": "from-env"}).status == 200


def test_dead_object_is_502(gateway):
    error = error_of(gateway.get("/pyro/http.dead/echo?message=x"), 502, "Pyro4.errors.CommunicationError")
    assert "connect" in error["args"][0]


def test_dead_name_server_is_502_for_calls_and_the_page(serve_gateway, run):
    with run(NameServerDaemon(host="127.0.0.1", port=0)) as ns_daemon:
        ns_uri = ns_daemon.uriFor(ns_daemon.nameserver)
    served = serve_gateway(ns_host=ns_uri.host, ns_port=ns_uri.port)
    error = error_of(served.get("/pyro/http.echo/echo?message=x"), 502, "Pyro4.errors.CommunicationError")
    assert "name server" in error["args"][0]
    page = served.get("/pyro/")
    assert page.status == 502
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert b"Cannot use the name server" in page.body


def test_a_name_server_that_went_away_is_found_again(serve_gateway, pyro_side, run):
    with run(NameServerDaemon(host="127.0.0.1", port=0)) as first:
        port = first.locationStr.rsplit(":", 1)[1]
        first.nameserver.register("http.echo", pyro_side.ns_uri)  # any URI will do for a lookup
        served = serve_gateway(ns_host="127.0.0.1", ns_port=int(port), ns_regex="")
        assert served.get("/pyro/Pyro.NameServer/count").json() == 2
    with run(NameServerDaemon(host="127.0.0.1", port=int(port))):
        # the pooled connection to the first one is dead: not reused, a new one is made
        assert served.get("/pyro/Pyro.NameServer/count").json() == 1


def test_slow_object_is_504(serve_gateway):
    served = serve_gateway(comm_timeout=0.3)
    started = time.monotonic()
    error = error_of(served.get("/pyro/http.echo/slow?seconds=1.5"), 504, "Pyro4.errors.TimeoutError")
    assert time.monotonic() - started < 1.4
    assert "timeout" in error["args"][0]
    assert served.get("/pyro/http.echo/echo?message=next").json() == "next"


def test_a_name_that_moved_to_another_daemon_is_looked_up_again(gateway, pyro_side, run, echo_class):
    with run(Daemon(host="127.0.0.1")) as first:
        pyro_side.register("http.moving", str(first.register(echo_class())))
        assert gateway.get("/pyro/http.moving/echo?message=one").json() == "one"
    with run(Daemon(host="127.0.0.1")) as second:
        pyro_side.register("http.moving", str(second.register(echo_class())))
        # within the lookup's lifetime: the cached URI fails to connect, so it is looked up anew
        assert gateway.get("/pyro/http.moving/echo?message=two").json() == "two"


def test_a_slow_call_does_not_block_others(gateway):
    slow_reply = []
    slow = threading.Thread(target=lambda: slow_reply.append(gateway.get("/pyro/http.echo/slow?seconds=1.5")))
    started = time.monotonic()
    slow.start()
    time.sleep(0.1)
    for index in range(5):
        assert gateway.get(f"/pyro/http.echo/echo?message={index}").json() == str(index)
    assert gateway.get("/pyro/").status == 200
    fast_done = time.monotonic() - started
    slow.join(timeout=10)
    assert fast_done < 1.2, fast_done
    assert slow_reply[0].status == 200 and slow_reply[0].json() == "slept"


def test_many_concurrent_requests(gateway, http_request):
    results: list[tuple[int, object]] = []
    lock = threading.Lock()

    def client(number: int) -> None:
        for call in range(5):
            reply = http_request(f"{gateway.url}/pyro/http.echo/add?a={number}&b={call}")
            with lock:
                results.append((reply.status, reply.json()))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 80
    assert {status for status, _ in results} == {200}
    assert sorted(value for _, value in results) == sorted(f"{n}{c}" for n in range(16) for c in range(5))
    assert gateway.app.links().idle_count() <= 4 + 4  # at most 4 for the name server and 4 for http.echo
