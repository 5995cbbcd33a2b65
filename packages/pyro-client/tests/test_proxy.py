"""Proxy life cycle, copying, pickling, threads, timeouts, hooks and context,
against a genuine Pyro4 4.82 daemon."""

from __future__ import annotations

import copy
import pickle
import socket
import threading
import uuid

import pytest

from pyro_client import (
    URI,
    CommunicationError,
    ConnectionClosedError,
    ProtocolError,
    Proxy,
    PyroError,
    TimeoutError,
    config,
    current_context,
)
from pyro_protocol import serializers


def test_uri_forms(pyro4_server, proxies):
    text = pyro4_server.uri("calc")
    assert proxies(text)._pyroUri == URI(text)
    uri = URI(text)
    assert proxies(uri)._pyroUri is uri
    with pytest.raises(TypeError):
        Proxy(42)
    with pytest.raises(PyroError):
        Proxy("not a uri")


def test_bind_release_and_reconnect(pyro4_server, proxies):
    calc = proxies(pyro4_server.uri("calc"))
    assert calc._pyroBind() is True
    first = calc._pyroConnection
    assert calc._pyroBind() is False
    assert calc._pyroConnection is first
    calc._pyroRelease()
    assert calc._pyroConnection is None
    assert first.fileno() == -1  # closed
    assert calc.add(1, 2) == 3  # using a released proxy simply reconnects
    assert calc._pyroConnection is not None
    calc._pyroReconnect()
    assert calc.add(2, 2) == 4


def test_context_manager_releases(pyro4_server):
    with Proxy(pyro4_server.uri("calc")) as calc:
        assert calc.add(1, 2) == 3
        assert calc._pyroConnection is not None
    assert calc._pyroConnection is None


def test_dropped_proxy_closes_its_connection_at_once(pyro4_server):
    calc = Proxy(pyro4_server.uri("calc"))
    calc.add(1, 2)
    calc.add(1, 2)  # the cached method must not keep the proxy alive
    sock = calc._pyroConnection.sock
    del calc
    assert sock.fileno() == -1


def test_one_shot_call_on_a_temporary_proxy(pyro4_server):
    assert Proxy(pyro4_server.uri("calc")).add(20, 22) == 42


def test_method_of_a_collected_proxy_fails_clearly(pyro4_server):
    calc = Proxy(pyro4_server.uri("calc"))
    calc.add(1, 1)
    cached = calc.add  # the second lookup gives the cached method
    del calc
    with pytest.raises(PyroError, match="no longer exists"):
        cached(1, 2)


def test_copy_is_independent_and_unconnected(pyro4_server, proxies):
    calc = proxies(pyro4_server.uri("calc"), "json")
    calc._pyroTimeout = 7.5
    calc._pyroHandshake = "howdy"
    calc.add(1, 2)
    clone = copy.copy(calc)
    try:
        assert clone is not calc and clone == calc and hash(clone) == hash(calc)
        assert clone._pyroConnection is None
        assert clone._pyroMethods == calc._pyroMethods and clone._pyroMethods is not calc._pyroMethods
        assert (clone._pyroSerializer, clone._pyroTimeout, clone._pyroHandshake) == (
            "json",
            7.5,
            "howdy",
        )
        assert clone.add(3, 4) == 7
        assert clone._pyroConnection is not calc._pyroConnection
    finally:
        clone._pyroRelease()


def test_pickle_round_trip_gives_an_unconnected_proxy(pyro4_server, proxies):
    calc = proxies(pyro4_server.uri("calc"))
    calc.add(1, 2)
    data = serializers.get_serializer("pickle").dumps(calc)
    assert b"Pyro4.core" in data and b"Proxy" in data
    restored = serializers.get_serializer("pickle").loads(data)
    try:
        assert isinstance(restored, Proxy)
        assert restored._pyroConnection is None
        assert restored._pyroUri == calc._pyroUri and restored._pyroOneway == {"fire"}
        assert restored.add(5, 5) == 10
    finally:
        restored._pyroRelease()


def test_genuine_pyro4_unpickles_our_proxy_and_we_unpickle_its(pyro4_server):
    import Pyro4

    ours = Proxy(pyro4_server.uri("calc"))
    theirs = pickle.loads(serializers.get_serializer("pickle").dumps(ours))
    assert isinstance(theirs, Pyro4.core.Proxy)
    assert str(theirs._pyroUri) == pyro4_server.uri("calc")
    back = serializers.get_serializer("pickle").loads(pickle.dumps(theirs))
    assert isinstance(back, Proxy) and back._pyroUri == ours._pyroUri


@pytest.mark.parametrize("name", ["serpent", "json", "msgpack"])
def test_proxy_in_dict_serializers(name):
    proxy = Proxy("PYRO:thing@127.0.0.1:4567")
    proxy._pyroMethods = {"get_name"}
    proxy._pyroHmacKey = b"key"
    serializer = serializers.get_serializer(name)
    data = serializer.dumps(proxy)
    assert b"Pyro4.core.Proxy" in data
    restored = serializer.loads(data)
    assert isinstance(restored, Proxy) and restored is not proxy
    assert restored._pyroUri == proxy._pyroUri
    assert restored._pyroMethods == {"get_name"}
    assert restored._pyroHmacKey == b"key"
    assert restored._pyroHandshake == "hello"


def test_proxy_state_with_bad_hmac_is_refused():
    state = [
        "PYRO:thing@127.0.0.1:4567",
        [],
        ["x"],
        [],
        0.0,
        "no-b64-prefix",
        "hello",
        0,
        None,
    ]
    with pytest.raises(ProtocolError, match="hmac encoding error"):
        serializers.dict_to_class({"__class__": "Pyro4.core.Proxy", "state": state})
    restored = serializers.dict_to_class({"__class__": "Pyro4.core.Proxy", "state": state[:5] + [None, "hi", 0]})
    assert restored._pyroHandshake == "hi" and restored._pyroSerializer is None


@pytest.mark.parametrize("name", ["serpent", "json", "marshal", "msgpack", "pickle"])
def test_proxy_travels_through_a_pyro4_daemon(pyro4_server, proxies, name):
    calc = proxies(pyro4_server.uri("calc"), name)
    passenger = Proxy(pyro4_server.uri("container"))
    passenger._pyroMethods = {"__len__"}
    echoed = calc.echo(passenger)
    try:
        assert isinstance(echoed, Proxy)
        assert echoed._pyroUri == passenger._pyroUri and echoed._pyroMethods == {"__len__"}
    finally:
        echoed._pyroRelease()


def test_shared_by_threads(pyro4_server, proxies):
    calc = proxies(pyro4_server.uri("calc"))
    errors: list[BaseException] = []
    results: dict[int, list[int]] = {}

    def work(number: int) -> None:
        try:
            results[number] = [calc.add(number, step) for step in range(40)]
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(number * 1000,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert results == {number * 1000: [number * 1000 + step for step in range(40)] for number in range(8)}


def test_timeout_raises_and_releases_the_connection(pyro4_server, proxies):
    calc = proxies(pyro4_server.uri("calc"))
    calc._pyroTimeout = 0.3
    with pytest.raises(TimeoutError):
        calc.sleep(1.5)
    assert calc._pyroConnection is None  # the late reply must not answer the next call
    calc._pyroTimeout = None
    assert calc.add(1, 2) == 3


def test_timeout_from_config(pyro4_server, proxies):
    config.COMMTIMEOUT = 0.25
    calc = proxies(pyro4_server.uri("calc"))
    assert calc._pyroTimeout == 0.25
    with pytest.raises(TimeoutError):
        calc.sleep(1)


def test_connection_refused_names_the_address(unused_port, proxies):
    calc = proxies(f"PYRO:calc@127.0.0.1:{unused_port}")
    with pytest.raises(CommunicationError, match=f"127.0.0.1:{unused_port}"):
        calc.add(1, 2)
    with pytest.raises(ConnectionClosedError, match="failed to reconnect"):
        calc._pyroReconnect(tries=1)


def test_correlation_id_and_annotations(pyro4_server, proxies):
    calc = proxies(pyro4_server.uri("calc"))
    correlation = uuid.uuid4()
    current_context.correlation_id = correlation
    current_context.annotations = {"XUSR": b"user"}
    info = calc.context_info()
    assert info["correlation_id"] == str(correlation)
    assert info["annotations"]["XUSR"] == "user"
    assert info["annotations"]["CORR"] == correlation.bytes.decode("latin-1")
    assert current_context.response_annotations["CORR"] == correlation.bytes
    assert current_context.response_annotations["XTRA"] == b"extra"
    assert current_context.annotations == {}  # user annotations go with one call only
    current_context.correlation_id = None
    info = calc.context_info()
    assert "XUSR" not in info["annotations"] and "CORR" not in info["annotations"]
    # the daemon made one up
    assert len(current_context.response_annotations["CORR"]) == 16


class HookedProxy(Proxy):
    def __init__(self, uri):
        super().__init__(uri)
        self._seen = []
        self._handshakes = []

    def _pyroAnnotations(self):
        return {"HOOK": b"from-hook"}

    def _pyroResponseAnnotations(self, annotations, msgtype):
        self._seen.append((sorted(annotations), msgtype))

    def _pyroValidateHandshake(self, response):
        self._handshakes.append(response)


def test_subclass_hooks(pyro4_server, proxies):
    calc = proxies(pyro4_server.uri("calc"), cls=HookedProxy)
    info = calc.context_info()
    assert info["annotations"]["HOOK"] == "from-hook"
    assert calc._handshakes == ["hello"]
    assert calc._seen == [(["CORR"], 2), (["CORR", "XTRA"], 5)]


class RefusingProxy(Proxy):
    def _pyroValidateHandshake(self, response):
        raise PyroError(f"did not like {response!r}")


def test_handshake_validation_can_refuse(pyro4_server, proxies):
    calc = proxies(pyro4_server.uri("calc"), cls=RefusingProxy)
    with pytest.raises(PyroError, match="did not like 'hello'"):
        calc.add(1, 2)
    assert calc._pyroConnection is None


def test_retries_after_a_lost_connection(pyro4_server, proxies):
    calc = proxies(pyro4_server.uri("calc"))
    calc.add(1, 2)
    calc._pyroConnection.close()  # looks connected, but the next send fails
    with pytest.raises(ConnectionClosedError):
        calc.add(1, 2)
    assert calc.add(1, 2) == 3  # reconnected
    calc._pyroMaxRetries = 2
    calc._pyroConnection.close()
    assert calc.add(2, 3) == 5  # retried transparently


def test_hmac_key(start_server, proxies):
    server = start_server("--hmac", "sesame")
    good = proxies(server.uri("calc"))
    good._pyroHmacKey = "sesame"
    assert good._pyroHmacKey == b"sesame"
    assert good.add(1, 2) == 3
    missing = proxies(server.uri("calc"))
    with pytest.raises(CommunicationError, match="hmac"):
        missing.add(1, 2)
    wrong = proxies(server.uri("calc"))
    wrong._pyroHmacKey = b"wrong"
    with pytest.raises(CommunicationError):
        wrong.add(1, 2)


def test_connected_socket_mode(start_server):
    ours, theirs = socket.socketpair()
    try:
        start_server("--connected-fd", str(theirs.fileno()), pass_fds=(theirs.fileno(),))
        theirs.close()
        proxy = Proxy("calc", connected_socket=ours)
        # fetched with get_metadata: there is no handshake
        assert "add" in proxy._pyroMethods
        assert proxy.add(1, 2) == 3
        assert list(proxy.generator(3)) == [0, 1, 2]
        proxy._pyroRelease()
        assert proxy._pyroConnection.sock is ours  # the caller owns the socket
        assert ours.fileno() != -1
    finally:
        ours.close()
        theirs.close()


def test_repr_dir_and_equality(pyro4_server, proxies):
    calc = proxies(pyro4_server.uri("calc"))
    assert "not connected" in repr(calc) and pyro4_server.uri("calc") in repr(calc)
    calc.add(1, 2)
    assert "connected IPv4" in repr(calc)
    assert {"add", "value"} <= set(dir(calc))
    assert calc == Proxy(pyro4_server.uri("calc"))
    assert calc != Proxy(pyro4_server.uri("container"))
    assert calc != "something else"


def test_dunder_probes_never_connect(pyro4_server, proxies):
    calc = proxies(pyro4_server.uri("calc"))
    assert not hasattr(calc, "__wrapped__")
    assert not hasattr(calc, "_pyroSomethingInternal")
    assert copy.deepcopy(calc)._pyroUri == calc._pyroUri
    assert calc._pyroConnection is None


def test_private_names_are_refused_without_connecting_with_pyro4s_message(pyro4_server, proxies):
    calc = proxies(pyro4_server.uri("calc"))
    for name in ("_value", "__value"):
        with pytest.raises(
            AttributeError, match=f"remote object '.*calc.*' has no exposed attribute or method '{name}'"
        ):
            getattr(calc, name)
    assert calc._pyroConnection is None
    config.METADATA = False  # as Pyro4: then every name is a remote method, which the daemon may refuse
    blind = proxies(pyro4_server.uri("calc"))
    with pytest.raises(AttributeError, match="private"):
        blind._value()


def test_fresh_proxy_fetches_metadata_for_an_exposed_dunder(pyro4_server, proxies):
    proxies(pyro4_server.uri("container")).reset()  # (other tests change the items)
    container = proxies(pyro4_server.uri("container"))
    method = container.__sizeof_items__  # as Pyro4: no metadata yet, so it asks the daemon
    assert container._pyroConnection is not None
    assert method() == 3
    fresh = proxies(pyro4_server.uri("container"))
    with pytest.raises(AttributeError, match="no exposed method '__nonexistent__'"):
        _ = fresh.__nonexistent__


def test_asynchronous_mode_switch(pyro4_server, proxies):
    calc = proxies(pyro4_server.uri("calc"))
    assert calc.add(1, 1) == 2
    calc._pyroAsync()
    result = calc.add(2, 2)
    assert result.wait(5) and result.value == 4
    calc._pyroAsync(False)
    assert calc.add(3, 3) == 6


def test_remote_exception_does_not_keep_the_proxy_alive(pyro4_server):
    calc = Proxy(pyro4_server.uri("calc"))
    try:
        calc.divide(1, 0)
    except ZeroDivisionError:
        pass
    sock = calc._pyroConnection.sock
    del calc
    assert sock.fileno() == -1
