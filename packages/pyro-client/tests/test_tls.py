"""TLS (config.SSL) against a genuine Pyro4 daemon, with certificates made by trustme."""

from __future__ import annotations

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
    assert type(calc._pyroConnection).__name__ == "SSLSocket"


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
    with pytest.raises(CommunicationError):
        calc.add(1, 2)
