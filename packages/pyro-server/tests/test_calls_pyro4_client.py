"""Our daemon called by the genuine Pyro4 4.82 client: every request kind, both server types."""

import logging
import threading
import time

import pytest

from pyro_protocol.config import config
from pyro_protocol.context import current_context
from pyro_server import Daemon, behavior, callback, expose, oneway

SERIALIZERS = ["serpent", "json", "marshal", "msgpack"]
SERVERTYPES = ["thread", "multiplex", "asyncio"]


class Calc:
    def __init__(self):
        self.fired = threading.Event()
        self.fired_with = None
        self._value = 1

    def add(self, a, b):
        return a + b

    def kw(self, a, b=2, *, c=3):
        return [a, b, c]

    def divide(self, a, b):
        return a / b

    @oneway
    def fire(self, x):
        self.fired_with = x
        self.fired.set()

    def gen(self, n):
        yield from range(n)

    def annotated(self):
        current_context.response_annotations["XTRA"] = b"hi"
        return bytes(current_context.annotations.get("USER", b"")).decode()

    def correlation(self):
        return str(current_context.correlation_id)

    @property
    def value(self):
        return self._value

    @value.setter
    def value(self, v):
        self._value = v

    def __len__(self):
        return 7


@pytest.fixture(params=SERVERTYPES)
def calc_uri(request, run):
    config.SERVERTYPE = request.param
    daemon = Daemon(host="127.0.0.1")
    calc = Calc()
    uri = daemon.register(calc, "calc")
    with run(daemon):
        yield str(uri), calc


@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_plain_calls_kwargs_exceptions(pyro4, calc_uri, serializer):
    uri, _ = calc_uri
    pyro4.config.SERIALIZER = serializer
    with pyro4.Proxy(uri) as proxy:
        assert proxy.add(1, 2) == 3
        assert proxy.add("a", "b") == "ab"
        assert proxy.kw(1, c=9) == [1, 2, 9]
        assert proxy.__len__() == 7
        with pytest.raises(ZeroDivisionError) as caught:
            proxy.divide(1, 0)
        remote_tb = "".join(caught.value._pyroTraceback)
        assert "ZeroDivisionError" in remote_tb and "in divide" in remote_tb
        assert proxy._pyroMethods >= {"add", "divide", "fire", "gen", "__len__"}
        assert proxy._pyroOneway == {"fire"}
        assert proxy._pyroAttrs == {"value"}
        assert proxy.add(2, 3) == 5  # the connection survived the exception


@pytest.mark.parametrize("serializer", ["serpent", "json", "msgpack"])
def test_attributes_batch_streams(pyro4, calc_uri, serializer):
    uri, _ = calc_uri
    pyro4.config.SERIALIZER = serializer
    with pyro4.Proxy(uri) as proxy:
        assert proxy.value == 1
        proxy.value = 5
        assert proxy.value == 5
        with pytest.raises(AttributeError):
            proxy.nonexisting()
        assert list(proxy.gen(4)) == [0, 1, 2, 3]
        batch = pyro4.batch(proxy)
        batch.add(1, 2)
        batch.divide(1, 0)
        batch.add(3, 4)
        results = batch()
        assert next(results) == 3
        with pytest.raises(ZeroDivisionError):
            next(results)


def test_oneway_returns_at_once(pyro4, calc_uri):
    uri, calc = calc_uri
    with pyro4.Proxy(uri) as proxy:
        assert proxy.fire(11) is None
        assert calc.fired.wait(5)
        assert calc.fired_with == 11


def test_annotations_and_correlation(pyro4, calc_uri):
    uri, _ = calc_uri
    seen = []

    class AnnotatingProxy(pyro4.Proxy):
        def _pyroAnnotations(self):
            return {"USER": b"me"}

        def _pyroResponseAnnotations(self, annotations, msgtype):
            seen.append(annotations)

    with AnnotatingProxy(uri) as proxy:
        assert proxy.annotated() == "me"
        assert seen[-1]["XTRA"] == b"hi" and len(seen[-1]["CORR"]) == 16
        import uuid

        corr = uuid.uuid4()
        pyro4.current_context.correlation_id = corr
        try:
            assert proxy.correlation() == str(corr)
        finally:
            pyro4.current_context.correlation_id = None


def test_unknown_object_and_private_method(pyro4, calc_uri):
    uri, _ = calc_uri
    with pyro4.Proxy(uri.replace("calc@", "nothing@")) as proxy:
        with pytest.raises(pyro4.errors.CommunicationError, match="unknown object 'nothing'"):
            proxy._pyroBind()
    with pyro4.Proxy(uri) as proxy:
        proxy._pyroGetMetadata()
        with pytest.raises(AttributeError, match="private"):
            proxy._pyroInvoke("_private", (), {})
        with pytest.raises(pyro4.errors.DaemonError, match="unknown object 'nothing'"):
            proxy._pyroInvoke("add", (1, 2), {}, objectId="nothing")
        assert proxy.add(1, 1) == 2


def test_daemon_object(pyro4, calc_uri):
    uri, _ = calc_uri
    with pyro4.Proxy(uri.replace("calc@", "Pyro.Daemon@")) as daemon_proxy:
        assert daemon_proxy.ping() is None
        assert sorted(daemon_proxy.registered()) == ["Pyro.Daemon", "calc"]
        meta = daemon_proxy.get_metadata("calc")
        assert set(meta["oneway"]) == {"fire"}
        assert "bound on" in daemon_proxy.info()


def test_refused_serializer_gets_clear_error(pyro4, calc_uri):
    uri, _ = calc_uri
    pyro4.config.SERIALIZER = "pickle"
    accepted = "this daemon accepts json, marshal, msgpack, serpent"
    with pyro4.Proxy(uri) as proxy:  # refused in the handshake (CONNECTFAIL)
        with pytest.raises(pyro4.errors.CommunicationError) as refused:
            proxy.add(1, 2)
    assert "message used serializer that is not accepted: 4 (pickle);" in str(refused.value)
    assert accepted in str(refused.value)
    pyro4.config.SERIALIZER = "serpent"
    with pyro4.Proxy(uri) as proxy:  # refused in a request (exception reply)
        assert proxy.add(1, 2) == 3
        proxy._pyroSerializer = "pickle"
        with pytest.raises(pyro4.errors.SerializeError) as refused:
            proxy.add(1, 2)
    assert str(refused.value).startswith("message used serializer that is not accepted: 4 (pickle);")
    assert accepted in str(refused.value)


def test_pickle_when_accepted(pyro4, calc_uri):
    config.SERIALIZERS_ACCEPTED.add("pickle")
    uri, _ = calc_uri
    pyro4.config.SERIALIZER = "pickle"
    with pyro4.Proxy(uri) as proxy:
        assert proxy.add(1, 2) == 3
        with pytest.raises(ZeroDivisionError):
            proxy.divide(1, 0)


def test_handshake_validation(pyro4, run):
    class Guarded(Daemon):
        def validateHandshake(self, conn, data):
            if data != "secret":
                raise ValueError("wrong handshake data")
            return {"welcome": conn.addr[0]}

    daemon = Guarded(host="127.0.0.1")
    uri = str(daemon.register(Calc(), "calc"))
    with run(daemon):
        with pyro4.Proxy(uri) as proxy:
            with pytest.raises(pyro4.errors.CommunicationError, match="wrong handshake data"):
                proxy.add(1, 2)
        responses = []

        class Checking(pyro4.Proxy):
            def _pyroValidateHandshake(self, response):
                responses.append(response)

        with Checking(uri) as proxy:
            proxy._pyroHandshake = "secret"
            assert proxy.add(1, 2) == 3
        assert responses == [{"welcome": "127.0.0.1"}]


@pytest.mark.parametrize("servertype", SERVERTYPES)
def test_instance_modes(pyro4, run, servertype):
    config.SERVERTYPE = servertype
    created = []

    @behavior(instance_mode="session")
    class Session:
        def __init__(self):
            created.append("session")

        def me(self):
            return id(self)

    @expose(instance_mode="single")
    class Single:
        def __init__(self):
            created.append("single")

        def me(self):
            return id(self)

    @expose(instance_mode="percall", instance_creator=lambda cls: cls("made"))
    class PerCall:
        def __init__(self, how):
            created.append(how)

        def me(self):
            return id(self)

    daemon = Daemon(host="127.0.0.1")
    uris = {
        name: str(daemon.register(cls, name))
        for name, cls in [("session", Session), ("single", Single), ("percall", PerCall)]
    }
    assert created == []  # lazy
    with run(daemon):
        with pyro4.Proxy(uris["session"]) as a, pyro4.Proxy(uris["session"]) as b:
            assert a.me() == a.me()
            assert a.me() != b.me()
        with pyro4.Proxy(uris["single"]) as a, pyro4.Proxy(uris["single"]) as b:
            assert a.me() == b.me()
        with pyro4.Proxy(uris["percall"]) as a:
            a.me()
            a.me()
    assert created.count("session") == 2 and created.count("single") == 1 and created.count("made") == 2


def test_instance_creator_wrong_type(pyro4, run):
    @expose(instance_mode="percall", instance_creator=lambda cls: "not it")
    class Bad:
        def me(self):
            return 1

    daemon = Daemon(host="127.0.0.1")
    uri = str(daemon.register(Bad, "bad"))
    with run(daemon), pyro4.Proxy(uri) as proxy:
        with pytest.raises(TypeError, match="instance creator returned object of different type"):
            proxy.me()


def test_callback_exception_closes_connection_and_is_logged_with_its_traceback(pyro4, run, caplog):
    class Listener:
        @callback
        def notify(self):
            raise RuntimeError("callback failed")

    daemon = Daemon(host="127.0.0.1")
    uri = str(daemon.register(Listener(), "l"))
    with caplog.at_level(logging.WARNING, logger="pyro.server"):
        with run(daemon), pyro4.Proxy(uri) as proxy:
            with pytest.raises(RuntimeError, match="callback failed"):
                proxy.notify()
            deadline = time.monotonic() + 5
            while daemon.transportServer.connections and time.monotonic() < deadline:
                time.sleep(0.02)
            assert not daemon.transportServer.connections
    [record] = [r for r in caplog.records if r.levelno == logging.WARNING and "callback" in r.getMessage()]
    text = record.getMessage()
    assert "Traceback (most recent call last" in text
    assert "in notify" in text and "RuntimeError: callback failed" in text


def test_shutdown_from_inside_a_remote_call(pyro4):
    daemon = Daemon(host="127.0.0.1")

    class Stopper:
        def stop(self):
            daemon.shutdown()
            return "stopping"

    uri = str(daemon.register(Stopper(), "s"))
    thread = threading.Thread(target=daemon.requestLoop)
    thread.start()
    with pyro4.Proxy(uri) as proxy:
        assert proxy.stop() == "stopping"
    thread.join(timeout=5)
    assert not thread.is_alive()
    daemon.close()


class Factory:
    def __init__(self, daemon):
        self.daemon = daemon

    def make(self, name):
        thing = Thing(name)
        self.daemon.register(thing)
        return thing  # registered: it travels as a proxy (AUTOPROXY)


class Thing:
    def __init__(self, name):
        self.name = name

    def get_name(self):
        return self.name


@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_autoproxy_reaches_a_genuine_client_as_a_live_proxy(pyro4, run, serializer):
    """Also with marshal, where a genuine Pyro4 daemon sends no proxy (a documented difference)."""
    daemon = Daemon(host="127.0.0.1")
    uri = daemon.register(Factory(daemon))
    pyro4.config.SERIALIZER = serializer
    with run(daemon), pyro4.Proxy(str(uri)) as factory:
        thing = factory.make("first")
        assert isinstance(thing, pyro4.Proxy)
        assert thing.get_name() == "first"
        thing._pyroRelease()
