"""TLS (config.SSL) against a genuine Pyro4 daemon, with certificates made by trustme."""

from __future__ import annotations

import socket
import threading

import pytest

from pyro_client import CommunicationError, config

trustme = pytest.importorskip("trustme")


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    authority = trustme.CA()
    server_cert = authority.issue_cert("127.0.0.1", "localhost")
    paths = {name: folder / f"{name}.pem" for name in ("ca", "server", "other_ca")}
    authority.cert_pem.write_to_path(str(paths["ca"]))
    server_cert.private_key_and_cert_chain_pem.write_to_path(str(paths["server"]))
    trustme.CA().cert_pem.write_to_path(str(paths["other_ca"]))
    return {name: str(path) for name, path in paths.items()}


@pytest.fixture
def tls_server(start_server, certificates):
    return start_server("--ssl", certificates["server"], certificates["server"])


def test_calls_over_tls(tls_server, certificates, proxies):
    config.SSL = True
    config.SSL_CACERTS = certificates["ca"]
    calc = proxies(tls_server.uri("calc"))
    assert calc.add(40, 2) == 42
    assert list(calc.generator(3)) == [0, 1, 2]
    assert type(calc._pyroConnection.sock).__name__ == "SSLSocket"


def test_validate_handshake_sees_the_connection_and_the_server_certificate(tls_server, certificates):
    """As Pyro4's ssl example does: check the server's certificate in _pyroValidateHandshake."""
    from pyro_client import Proxy

    seen = {}

    class CheckingProxy(Proxy):
        def _pyroValidateHandshake(self, response):
            seen.update(object_id=self._pyroConnection.objectId, cert=self._pyroConnection.getpeercert())
            raise CommunicationError("not the server we want")

    config.SSL = True
    config.SSL_CACERTS = certificates["ca"]
    with CheckingProxy(tls_server.uri("calc")) as calc:
        with pytest.raises(CommunicationError, match="not the server we want"):
            calc.add(1, 2)
        assert calc._pyroConnection is None  # refused: dropped again
    assert seen["object_id"] == "calc"
    assert ("DNS", "localhost") in seen["cert"]["subjectAltName"]


def test_untrusted_server_certificate_is_refused(tls_server, certificates, proxies):
    config.SSL = True
    config.SSL_CACERTS = certificates["other_ca"]
    calc = proxies(tls_server.uri("calc"))
    with pytest.raises(CommunicationError, match=f"127.0.0.1:{tls_server.port}"):
        calc.add(1, 2)
    assert calc._pyroConnection is None


def test_plain_client_to_a_tls_daemon_fails(tls_server, proxies):
    calc = proxies(tls_server.uri("calc"))
    calc._pyroTimeout = 3
    with pytest.raises(CommunicationError, match=r"it may require TLS \(config SSL\)"):
        calc.add(1, 2)


def test_tls_client_to_a_plain_daemon_is_told_it_does_not_speak_tls(pyro4_server, certificates, proxies):
    config.SSL = True
    config.SSL_CACERTS = certificates["ca"]
    calc = proxies(pyro4_server.uri("calc"))
    with pytest.raises(CommunicationError, match="the server does not speak TLS"):
        calc.add(1, 2)


@pytest.mark.parametrize(
    "answer",
    [
        bytes.fromhex("15030300020246"),  # a TLS alert (protocol_version), shorter than a Pyro header
        bytes.fromhex("160303003a020000360303") + bytes(53),  # a TLS handshake record, longer than one
    ],
)
def test_a_tls_record_in_answer_to_the_handshake_says_the_server_requires_tls(answer, proxies):
    """What a TLS server may send a plain client that greets it with a Pyro CONNECT, then hang up."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(10)

        def answer_once():
            conn, _ = listener.accept()
            with conn:
                conn.recv(4096)
                conn.sendall(answer)

        server = threading.Thread(target=answer_once)
        server.start()
        proxy = proxies(f"PYRO:thing@127.0.0.1:{listener.getsockname()[1]}")
        try:
            with pytest.raises(
                CommunicationError, match=r"answered with TLS data: it seems to require TLS \(config SSL\)"
            ):
                proxy._pyroBind()
        finally:
            server.join(timeout=10)
