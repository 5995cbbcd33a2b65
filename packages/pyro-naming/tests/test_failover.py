"""A client with several name servers (NS_HOST list) against ours: a name server that takes
the connection and the handshake but hangs in the lookup passes the lookup to the next."""

import time

import pytest

from pyro_client import URI, resolve
from pyro_client import naming as client_naming
from pyro_protocol import constants
from pyro_protocol.config import config
from pyro_protocol.errors import NamingError
from pyro_protocol.errors import TimeoutError as PyroTimeoutError
from pyro_server import Daemon

#: How long the stalled name server's lookups take, against the client's COMMTIMEOUT.
STALL, TIMEOUT = 1.5, 0.3


class StalledNameServer:
    """Answers pings at once and lookups only after STALL seconds."""

    def ping(self):
        return None

    def lookup(self, name, return_metadata=False):
        time.sleep(STALL)
        raise NamingError(f"unknown name: {name}")


@pytest.fixture()
def stalled(run):
    daemon = Daemon(host="127.0.0.1", port=0)
    daemon.register(StalledNameServer(), constants.NAMESERVER_NAME)
    with run(daemon):
        yield daemon.locationStr


@pytest.fixture()
def good(name_server):
    daemon = name_server()
    daemon.nameserver.register("failover.thing", "PYRO:thing@127.0.0.1:1234")
    return daemon.locationStr


@pytest.fixture(autouse=True)
def fresh_failover_memory_and_a_local_broadcast(monkeypatch, free_port):
    monkeypatch.setattr(client_naming, "_last_good", {})
    monkeypatch.setattr(client_naming, "BROADCAST_TIMEOUT", 0.05)
    config.BROADCAST_ADDRS, config.NS_BCPORT = "127.0.0.1", free_port(udp=True)  # asks nobody


def test_a_lookup_that_hangs_goes_on_to_the_next_name_server(stalled, good):
    config.COMMTIMEOUT = TIMEOUT
    config.NS_HOST = f"{stalled}, {good}"
    start = time.monotonic()
    assert resolve("PYRONAME:failover.thing") == URI("PYRO:thing@127.0.0.1:1234")
    assert TIMEOUT <= time.monotonic() - start < STALL


def test_when_the_last_one_hangs_too_the_error_says_so(stalled, good):
    config.COMMTIMEOUT = TIMEOUT
    config.NS_HOST = f"{good}, {stalled}"
    with pytest.raises(NamingError, match="unknown name: no.such.name"):
        resolve("PYRONAME:no.such.name")  # the first one's answer is final
    config.NS_HOST = f"{stalled}, {stalled}"
    with pytest.raises(NamingError) as caught:
        resolve("PYRONAME:failover.thing")
    assert str(caught.value) == (
        f"Failed to locate the nameserver; tried {stalled} (lookup failed: receiving: timeout); "
        f"{stalled} (lookup failed: receiving: timeout); "
        f"broadcast to 127.0.0.1 port {config.NS_BCPORT} (no answer in 3 rounds of 0.05 s)"
    )


def test_one_name_server_keeps_pyro4s_errors(stalled):
    config.COMMTIMEOUT = TIMEOUT
    with pytest.raises(PyroTimeoutError):
        resolve(f"PYRONAME:failover.thing@{stalled}")
