"""TLS: server-only and two-way, with certificates made by trustme, called by genuine Pyro4."""

import ssl

import pytest

from pyro_client import CommunicationError, Proxy
from pyro_protocol.config import config
from pyro_server import Daemon

trustme = pytest.importorskip("trustme")


class Thing:
    def method(self, arg):
        return arg * 2


@pytest.fixture()
def pki(tmp_path):
    ca = trustme.CA()
    server_cert = ca.issue_cert("localhost", "127.0.0.1")
    client_cert = ca.issue_cert("client.example")
    files = {
        "ca": tmp_path / "ca.pem",
        "server_cert": tmp_path / "server.pem",
        "server_key": tmp_path / "server.key",
        "client_cert": tmp_path / "client.pem",
        "client_key": tmp_path / "client.key",
    }
    ca.cert_pem.write_to_path(str(files["ca"]))
    server_cert.cert_chain_pems[0].write_to_path(str(files["server_cert"]))
    server_cert.private_key_pem.write_to_path(str(files["server_key"]))
    client_cert.cert_chain_pems[0].write_to_path(str(files["client_cert"]))
    client_cert.private_key_pem.write_to_path(str(files["client_key"]))
    return {name: str(path) for name, path in files.items()}


def _server_tls(pki, require_client_cert=False):
    config.SSL = True
    config.SSL_SERVERCERT = pki["server_cert"]
    config.SSL_SERVERKEY = pki["server_key"]
    config.SSL_CACERTS = pki["ca"]
    config.SSL_REQUIRECLIENTCERT = require_client_cert


def _client_tls(pyro4, pki, with_cert=False):
    # Pyro4 caches its client TLS context in a module global; start afresh
    vars(pyro4.socketutil)["__ssl_client_context"] = None
    pyro4.config.SSL = True
    pyro4.config.SSL_CACERTS = pki["ca"]
    if with_cert:
        pyro4.config.SSL_CLIENTCERT = pki["client_cert"]
        pyro4.config.SSL_CLIENTKEY = pki["client_key"]


@pytest.mark.parametrize("servertype", ["thread", "multiplex", "asyncio"])
def test_server_only_tls(pyro4, run, pki, servertype):
    config.SERVERTYPE = servertype
    _server_tls(pki)
    daemon = Daemon(host="localhost")
    uri = str(daemon.register(Thing(), "t"))
    _client_tls(pyro4, pki)
    with run(daemon), pyro4.Proxy(uri) as proxy:
        assert proxy.method(21) == 42
        assert isinstance(proxy._pyroConnection.sock, ssl.SSLSocket)


@pytest.mark.parametrize("servertype", ["thread", "asyncio"])
def test_two_way_tls_peer_certificate_reaches_validate_handshake(pyro4, run, pki, servertype):
    config.SERVERTYPE = servertype
    _server_tls(pki, require_client_cert=True)
    seen = []

    class CertDaemon(Daemon):
        def validateHandshake(self, conn, data):
            cert = conn.getpeercert()
            seen.append(cert["subjectAltName"])
            return "hello"

    daemon = CertDaemon(host="localhost")
    uri = str(daemon.register(Thing(), "t"))
    with run(daemon):
        _client_tls(pyro4, pki, with_cert=True)
        with pyro4.Proxy(uri) as proxy:
            assert proxy.method(1) == 2
        assert seen == [(("DNS", "client.example"),)]
        pyro4.config.SSL_CLIENTCERT = ""
        pyro4.config.SSL_CLIENTKEY = ""
        _client_tls(pyro4, pki, with_cert=False)
        with pyro4.Proxy(uri) as proxy:
            with pytest.raises(pyro4.errors.CommunicationError):
                proxy.method(1)
        _client_tls(pyro4, pki, with_cert=True)
        with pyro4.Proxy(uri) as proxy:
            assert proxy.method(2) == 4


def test_plain_client_cannot_talk_to_tls_daemon(pyro4, run, pki):
    _server_tls(pki)
    daemon = Daemon(host="localhost")
    uri = str(daemon.register(Thing(), "t"))
    pyro4.config.COMMTIMEOUT = 5
    with run(daemon), pyro4.Proxy(uri) as proxy:
        with pytest.raises(pyro4.errors.CommunicationError):
            proxy.method(1)


@pytest.mark.parametrize("servertype", ["thread", "multiplex", "asyncio"])
def test_our_plain_client_is_told_the_daemon_requires_tls(run, pki, servertype):
    config.SERVERTYPE = servertype
    _server_tls(pki)
    daemon = Daemon(host="localhost")  # (the daemon reads config.SSL now; the proxy on its first call)
    uri = daemon.register(Thing(), "t")
    config.SSL = False
    config.COMMTIMEOUT = 5
    with run(daemon), Proxy(uri) as proxy:
        with pytest.raises(CommunicationError, match=r"it may require TLS \(config SSL\)"):
            proxy.method(1)


@pytest.mark.parametrize("servertype", ["thread", "multiplex", "asyncio"])
def test_our_tls_client_is_told_the_daemon_does_not_speak_tls(run, pki, servertype):
    config.SERVERTYPE = servertype
    daemon = Daemon(host="localhost")
    uri = daemon.register(Thing(), "t")
    config.SSL = True
    config.SSL_CACERTS = pki["ca"]
    config.COMMTIMEOUT = 5
    with run(daemon), Proxy(uri) as proxy:
        with pytest.raises(CommunicationError, match="the server does not speak TLS"):
            proxy.method(1)
