"""Autoclean: pinging daemons with the raw protocol helper, and removing the unreachable ones."""

import socket
import threading
import time

import pytest

from pyro_naming import AutoCleaner, NameServer, NameServerDaemon
from pyro_naming.autoclean import ping_daemon
from pyro_protocol import constants
from pyro_protocol.config import config
from pyro_server import Daemon

NS_URI = "PYRO:Pyro.NameServer@127.0.0.1:9090"


class Thing:
    def hello(self):
        return "hi"


@pytest.fixture()
def ns():
    server = NameServer()
    server.register(constants.NAMESERVER_NAME, NS_URI)
    return server


@pytest.fixture()
def live_daemon(run):
    """A running daemon with one object; yields (daemon, uri of the object)."""
    daemon = Daemon(host="127.0.0.1")
    uri = daemon.register(Thing(), "thing")
    with run(daemon):
        yield daemon, str(uri)


@pytest.fixture()
def dead_location():
    """host:port where nothing listens any more (a daemon that has gone away)."""
    with Daemon(host="127.0.0.1") as daemon:
        location = daemon.locationStr
    return location


@pytest.fixture()
def silent_server():
    """Accepts connections but never says a word: a hung process."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)
        host, port = listener.getsockname()
        yield f"{host}:{port}"


def test_ping_a_live_daemon(live_daemon):
    daemon, _ = live_daemon
    assert ping_daemon(daemon.locationStr, timeout=5)


def test_ping_nothing_there(dead_location):
    assert not ping_daemon(dead_location, timeout=2)


def test_ping_a_silent_server_times_out(silent_server):
    started = time.monotonic()
    assert not ping_daemon(silent_server, timeout=0.3)
    assert time.monotonic() - started < 3


def test_ping_a_server_speaking_garbage(run):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)

        def answer_garbage():
            conn, _ = listener.accept()
            with conn:
                conn.recv(1000)
                conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n" + b"x" * 30)

        thread = threading.Thread(target=answer_garbage)
        thread.start()
        host, port = listener.getsockname()
        assert not ping_daemon(f"{host}:{port}", timeout=5)
        thread.join(timeout=5)


def test_a_daemon_that_refuses_our_handshake_is_still_alive(run):
    class Refusing(Daemon):
        def validateHandshake(self, conn, data):
            raise ValueError("go away")

    daemon = Refusing(host="127.0.0.1")
    with run(daemon):
        assert ping_daemon(daemon.locationStr, timeout=5)


def test_a_daemon_with_another_hmac_key_is_still_alive(run):
    daemon = Daemon(host="127.0.0.1")
    daemon._pyroHmacKey = b"theirs"
    with run(daemon):
        assert ping_daemon(daemon.locationStr, timeout=5)
        assert ping_daemon(daemon.locationStr, timeout=5, hmac_key=b"theirs")


def test_ping_over_a_unix_socket(tmp_path, run):
    daemon = Daemon(unixsocket=str(tmp_path / "d.sock"))
    with run(daemon):
        assert ping_daemon(daemon.locationStr, timeout=5)
    assert not ping_daemon(daemon.locationStr, timeout=1)


@pytest.mark.filterwarnings("ignore:isSet:DeprecationWarning")  # Pyro4 4.82's request loop
def test_ping_a_genuine_pyro4_daemon(pyro4):
    daemon = pyro4.Daemon(host="127.0.0.1")
    loop = threading.Thread(target=daemon.requestLoop)
    loop.start()
    try:
        assert ping_daemon(daemon.locationStr, timeout=5)
    finally:
        daemon.shutdown()
        loop.join(timeout=10)
        daemon.close()


def test_sweep_removes_only_after_the_grace_period(ns, live_daemon, dead_location):
    _, live_uri = live_daemon
    ns.register("alive", live_uri)
    ns.register("dead", f"PYRO:obj@{dead_location}")
    ns.register("dead.too", f"PYRO:other@{dead_location}", metadata={"x"})
    ns.register("indirect", "PYRONAME:somewhere.else")
    cleaner = AutoCleaner(ns, interval=60, grace=0.3, ping_timeout=2)
    assert cleaner.sweep() == []
    assert set(cleaner.unreachable) == {"dead", "dead.too"}
    time.sleep(0.35)
    assert sorted(cleaner.sweep()) == ["dead", "dead.too"]
    assert set(ns.list()) == {constants.NAMESERVER_NAME, "alive", "indirect"}
    assert cleaner.unreachable == {}


def test_a_daemon_that_comes_back_is_forgiven(ns, run):
    daemon = Daemon(host="127.0.0.1")
    location = daemon.locationStr
    port = int(location.rsplit(":", 1)[1])
    daemon.close()
    ns.register("flaky", f"PYRO:thing@{location}")
    cleaner = AutoCleaner(ns, interval=60, grace=0.5, ping_timeout=2)
    cleaner.sweep()
    assert "flaky" in cleaner.unreachable
    back = Daemon(host="127.0.0.1", port=port)
    with run(back):
        cleaner.sweep()
    assert cleaner.unreachable == {} and "flaky" in ns.list()


def test_a_re_registered_name_is_not_removed(ns, dead_location, live_daemon):
    _, live_uri = live_daemon
    ns.register("moving", f"PYRO:obj@{dead_location}")
    cleaner = AutoCleaner(ns, interval=60, grace=0.0, ping_timeout=2)
    original_list = ns.list

    def list_then_reregister(*args, **kwargs):
        result = original_list(*args, **kwargs)
        ns.register("moving", live_uri)  # the service restarted elsewhere meanwhile
        return result

    ns.list = list_then_reregister
    assert cleaner.sweep() == []
    assert str(ns.lookup("moving")) == live_uri


def test_the_name_server_entry_is_never_pinged_or_removed(ns):
    cleaner = AutoCleaner(ns, interval=60, grace=0.0, ping_timeout=1)
    assert cleaner.sweep() == [] and cleaner.unreachable == {}
    assert ns.count() == 1


def test_the_thread_removes_a_gone_daemon(ns, live_daemon, dead_location, eventually):
    _, live_uri = live_daemon
    ns.register("alive", live_uri)
    ns.register("gone", f"PYRO:obj@{dead_location}")
    cleaner = AutoCleaner(ns, interval=0.1, grace=0.2, ping_timeout=2)
    cleaner.start()
    try:
        assert eventually(lambda: "gone" not in ns.list(), timeout=5)
    finally:
        cleaner.stop()
    assert set(ns.list()) == {constants.NAMESERVER_NAME, "alive"}


def test_a_failing_sweep_does_not_kill_the_thread(ns, eventually, caplog):
    calls = []
    cleaner = AutoCleaner(ns, interval=0.05, grace=0.0)

    def broken_sweep():
        calls.append(1)
        raise RuntimeError("storage on fire")

    cleaner.sweep = broken_sweep
    cleaner.start()
    try:
        assert eventually(lambda: len(calls) >= 3, timeout=5)
    finally:
        cleaner.stop()
    assert "autoclean sweep failed" in caplog.text


@pytest.mark.parametrize("interval", [0.5, 2.9, -1])
def test_autoclean_below_three_seconds_is_refused(interval):
    with pytest.raises(ValueError, match="NS_AUTOCLEAN must be 0 \\(off\\) or at least 3 seconds"):
        NameServerDaemon(host="127.0.0.1", port=0, autoclean=interval)
    config.NS_AUTOCLEAN = interval
    with pytest.raises(ValueError, match="NS_AUTOCLEAN"):
        NameServerDaemon(host="127.0.0.1", port=0)


def test_name_server_daemon_runs_the_cleaner_when_asked(name_server):
    assert name_server().cleaner is None
    config.NS_AUTOCLEAN = 3.0
    daemon = name_server(autoclean_grace=1.0)
    cleaner = daemon.cleaner
    assert cleaner is not None and cleaner.interval == 3.0 and cleaner.grace == 1.0
    assert cleaner._thread.is_alive()
    thread = cleaner._thread
    daemon.close()
    assert daemon.cleaner is None and not thread.is_alive()


def test_the_daemons_autoclean_removes_a_gone_registration(name_server, dead_location, eventually):
    """End to end through NameServerDaemon: the shortest allowed interval (3 s) and a short grace."""
    daemon = name_server(autoclean=3, autoclean_grace=0)
    daemon.nameserver.register("gone", f"PYRO:obj@{dead_location}")
    assert eventually(lambda: "gone" not in daemon.nameserver.list(), timeout=8)
