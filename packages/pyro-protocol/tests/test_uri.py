"""URIs: every form of protocol section 4, the errors of section 4.2, equality, hashing, copies."""

from __future__ import annotations

import copy
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyro_protocol import URI, PyroError


@pytest.mark.parametrize(
    "text, protocol, obj, sockname, host, port",
    [
        ("PYRO:objectid@localhost:9999", "PYRO", "objectid", None, "localhost", 9999),
        ("PYRO:obj@10.0.0.1:5", "PYRO", "obj", None, "10.0.0.1", 5),
        ("PYRO:Pyro.NameServer@127.0.0.1:9090", "PYRO", "Pyro.NameServer", None, "127.0.0.1", 9090),
        ("PYRO:obj@[::1]:5555", "PYRO", "obj", None, "::1", 5555),
        ("PYRO:obj@[fe80::1:2%3]:1", "PYRO", "obj", None, "fe80::1:2%3", 1),
        ("PYRO:obj@./u:/tmp/pyro.sock", "PYRO", "obj", "/tmp/pyro.sock", None, None),
        ("PYRO:obj@./u:relative.sock", "PYRO", "obj", "relative.sock", None, None),
        ("PYRO:obj@./u:/tmp/with space", "PYRO", "obj", "/tmp/with space", None, None),
        ("PYRONAME:some.name", "PYRONAME", "some.name", None, None, None),
        ("PYRONAME:some.name@nshost:1234", "PYRONAME", "some.name", None, "nshost", 1234),
        ("PYRONAME:some.name@[::1]:1234", "PYRONAME", "some.name", None, "::1", 1234),
        ("PYRO:a@b@c:1", "PYRO", "a", None, "b@c", 1),
        ("PYRO:obj@host:0", "PYRO", "obj", None, "host", 0),
        ("PYRO:obj@host:65535", "PYRO", "obj", None, "host", 65535),
    ],
)
def test_valid_forms(text, protocol, obj, sockname, host, port):
    uri = URI(text)
    assert (uri.protocol, uri.object, uri.sockname, uri.host, uri.port) == (protocol, obj, sockname, host, port)
    assert str(uri) == text
    assert uri.asString() == text
    assert URI(str(uri)) == uri


@pytest.mark.parametrize("text", ["pyro:obj@host:1", "Pyro:obj@host:1", "pYrO:obj@host:1"])
def test_protocol_is_case_insensitive(text):
    uri = URI(text)
    assert uri.protocol == "PYRO"
    assert str(uri) == "PYRO:obj@host:1"
    assert URI("pyroname:x").protocol == "PYRONAME"
    assert URI("PyroMeta:x").protocol == "PYROMETA"


def test_object_part_keeps_its_case():
    assert URI("PYRO:MyObject@Host:1").object == "MyObject"
    assert URI("PYRO:MyObject@Host:1").host == "Host"


def test_pyroname_host_without_port_gets_ns_port(fresh_config):
    uri = URI("PYRONAME:some.name@nshost")
    assert (uri.host, uri.port) == ("nshost", 9090)
    assert str(uri) == "PYRONAME:some.name@nshost:9090"
    assert str(URI("PYRONAME:x@[::1]")) == "PYRONAME:x@[::1]:9090"
    fresh_config.NS_PORT = 1111
    assert URI("PYRONAME:some.name@nshost").port == 1111


def test_pyrometa():
    uri = URI("PYROMETA:meta2,meta1")
    assert uri.object == frozenset({"meta1", "meta2"})
    assert (uri.host, uri.port) == (None, None)
    assert str(uri) == "PYROMETA:meta1,meta2"
    located = URI("pyrometa:a.b,c@nshost")
    assert located.object == {"a.b", "c"}
    assert (located.host, located.port) == ("nshost", 9090)
    assert str(located) == "PYROMETA:a.b,c@nshost:9090"
    assert URI("PYROMETA:x,y@host:5") == URI("PYROMETA:y,x@host:5")
    assert URI("PYROMETA:x,,y").object == {"x", "y"}


def test_location_property():
    assert URI("PYRO:x@h:1").location == "h:1"
    assert URI("PYRO:x@[::1]:1").location == "[::1]:1"
    assert URI("PYRO:x@./u:/s").location == "./u:/s"
    assert URI("PYRONAME:x").location is None
    assert URI.isUnixsockLocation("./u:/tmp/s")
    assert not URI.isUnixsockLocation("localhost:9090")


def test_port_with_spaces_is_accepted_like_pyro4():
    assert URI("PYRO:obj@host: 12").port == 12
    assert URI("PYRO:obj@host:12 ").port == 12


@pytest.mark.parametrize(
    "text, message",
    [
        ("no colon here", r"no ':' after the protocol"),
        ("", r"no ':' after the protocol"),
        ("PYRO:", "the object part is empty"),
        ("PYRO:@host:1", "the object part is empty"),
        ("PYRO:my obj@host:1", "the object part 'my obj' contains whitespace"),
        ("PYROMETA:a, b", "contains whitespace"),
        ("PYROMETA:,", "no metadata items given"),
        (" PYRO:obj@host:1", "the protocol ' PYRO' is not PYRO, PYRONAME or PYROMETA"),
        ("HTTP:obj@host:1", "the protocol 'HTTP' is not PYRO"),
        ("PYROX:obj@host:1", r"invalid uri \(protocol\).*unknown protocol 'PYROX'"),
        ("PYRO:obj", "a PYRO uri needs a location"),
        ("PYRO:obj@", "the location after '@' is empty"),
        ("PYRO:obj@./u:", r"invalid uri \(location\).*unix socket path must be non-empty"),
        ("PYRO:obj@./u:/tmp/a:b", r"invalid uri \(location\)"),
        ("PYRONAME:obj@./u:/tmp/s", "a unix socket location is only allowed in a PYRO uri"),
        ("PYRO:obj@[[::1]]:5", "invalid ipv6 address: enclosed in too many brackets"),
        ("PYRO:obj@[localhost]:5", "invalid ipv6 address: the part between brackets must be a numeric ipv6"),
        ("PYRO:obj@[fe80::1%eth0]:5", "the part between brackets must be a numeric ipv6 address"),
        ("PYRO:obj@[::1:5", "the part between brackets must be a numeric ipv6 address"),
        ("PYRO:obj@[::1]x", r"unexpected 'x' after the ipv6 address"),
        ("PYRO:obj@host", r"invalid port in uri, port=None"),
        ("PYRO:obj@[::1]", r"invalid port in uri, port=None"),
        ("PYRO:obj@host:abc", r"invalid port in uri, port=abc"),
        ("PYRO:obj@host:", r"invalid port in uri, port="),
        ("PYRO:obj@host:-5", r"invalid port in uri, port=-5"),
        ("PYRO:obj@host:12abc", r"invalid port in uri, port=12abc"),
        ("PYRO:obj@[::1]:55abc", r"invalid port in uri, port=55abc"),
        ("PYRO:obj@host:70000", r"invalid port in uri, port=70000.*above 65535"),
        ("PYRO:obj@:5", "the host part is empty"),
        ("PYRO:obj@::1:5555", "the host part is empty"),
    ],
)
def test_malformed_uris_name_the_bad_part(text, message):
    with pytest.raises(PyroError, match=message) as caught:
        URI(text)
    assert type(caught.value) is PyroError


@pytest.mark.parametrize("value", [None, 42, b"PYRO:obj@host:1", ["PYRO:obj@host:1"]])
def test_non_string_is_a_type_error(value):
    with pytest.raises(TypeError, match="uri parameter object is of wrong type"):
        URI(value)


def test_repr():
    uri = URI("PYRO:obj@host:1")
    assert repr(uri) == f"<pyro_protocol.uri.URI at 0x{id(uri):x}; PYRO:obj@host:1>"


def test_equality():
    assert URI("PYRO:obj@host:1") == URI("pyro:obj@host:1")
    assert URI("PYRO:obj@host:1") != URI("PYRO:obj@host:2")
    assert URI("PYRO:obj@host:1") != URI("PYRO:obj@HOST:1")
    assert URI("PYRO:obj@host:1") != URI("PYRO:Obj@host:1")
    assert URI("PYRONAME:obj@host:1") != URI("PYRO:obj@host:1")
    assert URI("PYRO:obj@./u:/a") != URI("PYRO:obj@./u:/b")
    assert URI("PYRO:obj@host:1") != "PYRO:obj@host:1"
    assert (URI("PYRO:obj@host:1") == "PYRO:obj@host:1") is False
    assert URI("PYRO:obj@host:1").__eq__("x") is NotImplemented
    assert (URI("PYRO:obj@host:1") != URI("PYRO:obj@host:1")) is False


def test_hashing():
    assert hash(URI("PYRO:obj@host:1")) == hash(URI("pyro:obj@host:1"))
    assert hash(URI("PYROMETA:a,b")) == hash(URI("PYROMETA:b,a"))
    table = {URI("PYRO:obj@host:1"): "value"}
    assert table[URI("PYRO:obj@host:1")] == "value"
    assert len({URI("PYRO:obj@host:1"), URI("pyro:obj@host:1"), URI("PYRO:obj@host:2")}) == 2


@pytest.mark.parametrize("text", ["PYRO:obj@host:1", "PYRO:obj@./u:/s", "PYROMETA:a,b@h:5", "PYRONAME:x"])
@pytest.mark.parametrize("duplicate", [copy.copy, copy.deepcopy, URI, lambda u: pickle.loads(pickle.dumps(u))])
def test_copies_are_equal_and_separate(text, duplicate):
    uri = URI(text)
    clone = duplicate(uri)
    assert clone == uri
    assert clone is not uri
    assert type(clone) is URI
    assert str(clone) == str(uri)
    assert clone.__getstate__() == uri.__getstate__()


def test_state_tuple():
    assert URI("PYRO:obj@host:1").__getstate__() == ("PYRO", "obj", None, "host", 1)
    assert URI("PYRO:obj@./u:/s").__getstate__() == ("PYRO", "obj", "/s", None, None)
    restored = URI.__new__(URI)
    restored.__setstate__(("PYROMETA", ["a", "b"], None, None, None))  # lists from json/msgpack
    assert restored.object == frozenset({"a", "b"})


object_ids = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters="@"), min_size=1)
hosts = st.from_regex(r"\A[a-zA-Z0-9][a-zA-Z0-9.\-]{0,30}\Z")


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["PYRO", "PYRONAME"]), object_ids, hosts, st.integers(0, 65535))
def test_generated_uris_round_trip(protocol, obj, host, port):
    text = f"{protocol}:{obj}@{host}:{port}"
    uri = URI(text)
    assert (uri.protocol, uri.object, uri.host, uri.port) == (protocol, obj, host, port)
    assert str(uri) == text
    assert URI(str(uri)) == uri
