"""SerializerBase.call_parts: a call with one large bytes argument as (prefix, that object, suffix),
byte-identical to dumpsCall once joined, and read back by our serializers and by Pyro4's."""

from __future__ import annotations

import array
import datetime
import pickle
from typing import Any

import msgpack
import Pyro4.core
import Pyro4.util
import pytest

from pyro_protocol import URI, serializers

MIN = serializers.CALL_PARTS_MIN
SPLITTING = ["marshal", "pickle", "msgpack"]


def big_bytes(size: int) -> bytes:
    return (bytes(range(256)) * (size // 256 + 1))[:size]


BIG = big_bytes(MIN + 12345)
STAND_IN = serializers._CALL_MARKER_HEAD + serializers._CALL_MARKER_FILL

#: (positional arguments, keyword arguments): BIG stands for the large object
CALLS: list[tuple[tuple[Any, ...], Any]] = [
    ((BIG,), {}),
    ((BIG,), None),
    ((BIG, 1, "two"), {}),
    ((1, BIG, "two"), {"key": 3.5}),
    (("first", [1, 2, (3, 4)], BIG), {"a": b"small", "b": None}),
    ((None, True, 2**70, 1.5, 2j, BIG, {"k": [1, {2, 3}]}, frozenset({"x"}), b"x" * 70000), {"z": (1, "z")}),
    ((BIG, "same string", "same string", b"y" * 300), {"s": "same string"}),
    ((array.array("i", [1, 2, 3]), BIG, bytearray(b"ab")), {"arr": array.array("d", [0.5])}),
    ((URI("PYRO:obj@localhost:4444"), BIG), {"uri": URI("PYRO:other@localhost:5555")}),
]


def split(name: str, vargs: Any, kwargs: Any) -> Any:
    return serializers.get_serializer(name).call_parts("obj.id", "method", vargs, kwargs)


@pytest.mark.parametrize("name", SPLITTING)
@pytest.mark.parametrize("vargs, kwargs", CALLS)
def test_joined_parts_are_dumpscall_byte_for_byte(name, vargs, kwargs):
    serializer = serializers.get_serializer(name)
    parts = split(name, vargs, kwargs)
    assert parts is not None
    prefix, big, suffix = parts
    assert big is BIG
    assert type(prefix) is bytes and type(suffix) is bytes
    assert prefix + big + suffix == serializer.dumpsCall("obj.id", "method", vargs, kwargs)
    # positional arguments given as a list are split too
    parts = split(name, list(vargs), kwargs)
    assert parts is not None and parts[1] is BIG
    assert b"".join(parts) == serializer.dumpsCall("obj.id", "method", list(vargs), kwargs)


@pytest.mark.parametrize("name", SPLITTING)
@pytest.mark.parametrize("vargs, kwargs", CALLS)
def test_joined_parts_load_as_the_same_call(name, vargs, kwargs):
    serializer = serializers.get_serializer(name)
    data = b"".join(split(name, vargs, kwargs))
    assert serializer.loadsCall(data) == serializer.loadsCall(serializer.dumpsCall("obj.id", "method", vargs, kwargs))
    obj, method, loaded_vargs, loaded_kwargs = serializer.loadsCall(data)
    assert (obj, method) == ("obj.id", "method")
    assert loaded_vargs[list(vargs).index(BIG)] == BIG
    assert len(loaded_vargs) == len(vargs)
    assert (loaded_kwargs is None) == (kwargs is None)


@pytest.mark.parametrize("name", SPLITTING)
@pytest.mark.parametrize("vargs, kwargs", CALLS)
def test_pyro4_reads_the_joined_parts(name, vargs, kwargs):
    ours = serializers.get_serializer(name)
    data = b"".join(split(name, vargs, kwargs))
    obj, method, loaded_vargs, loaded_kwargs = Pyro4.util.get_serializer(name).loadsCall(data)
    assert (obj, method) == ("obj.id", "method")
    assert len(loaded_vargs) == len(vargs)
    for sent, received in zip(vargs, loaded_vargs):
        if name == "msgpack" and (type(sent) is complex or (type(sent) is int and sent >= 2**64)):
            assert isinstance(received, msgpack.ExtType)  # (Pyro4's msgpack loadsCall has no ext_hook)
        # (msgpack has no sets: they arrive as lists, from Pyro4 as from us)
        elif name == "msgpack" and type(sent) in (dict, frozenset):
            assert received == ours.loads(ours.dumps(sent))
        elif type(sent) in (bytes, int, float, complex, str, dict, frozenset, type(None), bool):
            assert received == sent
        elif isinstance(sent, URI):
            assert isinstance(received, Pyro4.core.URI) and str(received) == str(sent)
    if kwargs is not None and "uri" in kwargs:
        assert str(loaded_kwargs["uri"]) == str(kwargs["uri"])
    elif kwargs is not None and "arr" not in kwargs:
        assert loaded_kwargs == (ours.loads(ours.dumps(kwargs)) if name == "msgpack" else kwargs)


@pytest.mark.parametrize("name", SPLITTING)
@pytest.mark.parametrize("size", [MIN, MIN + 1, MIN + 255, 1024 * 1024 + 3])
def test_sizes_from_the_threshold_up(name, size):
    serializer = serializers.get_serializer(name)
    value = big_bytes(size)
    vargs = ("a", value, 7)
    parts = split(name, vargs, {"k": 1})
    assert parts is not None and parts[1] is value
    assert b"".join(parts) == serializer.dumpsCall("obj.id", "method", vargs, {"k": 1})
    assert Pyro4.util.get_serializer(name).loadsCall(b"".join(parts))[2][1] == value


@pytest.mark.parametrize("name", SPLITTING)
def test_below_the_threshold_there_are_no_parts(name):
    assert split(name, (big_bytes(MIN - 1),), {}) is None


@pytest.mark.parametrize("protocol", [3, 4, 5])
@pytest.mark.parametrize("vargs, kwargs", CALLS)
def test_pickle_protocols(fresh_config, protocol, vargs, kwargs):
    fresh_config.PICKLE_PROTOCOL_VERSION = protocol
    serializer = serializers.get_serializer("pickle")
    data = b"".join(split("pickle", vargs, kwargs))
    assert data == serializer.dumpsCall("obj.id", "method", vargs, kwargs)
    assert data[:2] == bytes([pickle.PROTO[0], protocol])
    assert Pyro4.util.get_serializer("pickle").loadsCall(data)[2][list(vargs).index(BIG)] == BIG


@pytest.mark.parametrize("protocol", [0, 1, 2])
def test_pickle_protocols_without_binbytes_are_not_split(fresh_config, protocol):
    fresh_config.PICKLE_PROTOCOL_VERSION = protocol
    assert split("pickle", (BIG,), {}) is None


@pytest.mark.parametrize("name", SPLITTING)
@pytest.mark.parametrize(
    "vargs, kwargs",
    [
        ((), {}),
        ((1, "small", b"small"), {}),
        ((b"x" * 1000, b"y" * 70000), None),
        ((BIG, big_bytes(MIN)), {}),  # two large ones
        ((BIG, BIG), {}),  # the same one twice
        ((bytearray(BIG),), {}),
        ((memoryview(BIG),), {}),
        ((type("Sub", (bytes,), {})(BIG),), {}),
        (([BIG],), {}),  # nested
        ((1,), {"data": BIG}),  # a keyword argument
        ((STAND_IN, BIG), {}),  # something just like the stand-in
        ((BIG,), {"k": serializers._CALL_MARKER_HEAD}),
    ],
)
def test_no_parts_when_it_does_not_apply(name, vargs, kwargs):
    assert split(name, vargs, kwargs) is None
    assert split(name, iter(vargs), kwargs) is None


@pytest.mark.parametrize("name", ["serpent", "json", "cloudpickle", "dill"])
def test_other_serializers_have_no_parts(name):
    serializer = serializers.get_serializer(name)
    assert serializer.call_parts_min == 0
    assert serializer.call_parts("obj.id", "method", (BIG,), {}) is None


def test_subclasses_have_no_parts():
    class MyMarshal(serializers.MarshalSerializer):
        pass

    class MyPickle(serializers.PickleSerializer):
        pass

    class MyMsgpack(serializers.MsgpackSerializer):
        pass

    for cls in (MyMarshal, MyPickle, MyMsgpack):
        assert cls().call_parts("obj.id", "method", (BIG,), {}) is None


@pytest.mark.parametrize("name", SPLITTING)
def test_the_large_object_also_elsewhere_still_loads_the_same(name):
    # (written in full a second time instead of referenced: not dumpsCall's bytes, the same call)
    serializer = serializers.get_serializer(name)
    vargs = (BIG, 1)
    kwargs = {"again": BIG, "nested": [BIG]}
    parts = split(name, vargs, kwargs)
    assert parts is not None
    assert serializer.loadsCall(b"".join(parts)) == serializer.loadsCall(
        serializer.dumpsCall("obj.id", "method", vargs, kwargs)
    )


@pytest.mark.parametrize("name", SPLITTING)
def test_unserializable_arguments_raise_as_dumpscall_does(name):
    serializer = serializers.get_serializer(name)
    vargs = (BIG, lambda: None) if name == "pickle" else (BIG, datetime.time(1, 2))
    with pytest.raises(serializers.SerializeError) as expected:
        serializer.dumpsCall("obj.id", "method", vargs, {})
    with pytest.raises(serializers.SerializeError) as raised:
        serializer.call_parts("obj.id", "method", vargs, {})
    assert str(raised.value) == str(expected.value)


def test_the_stand_in_is_written_in_the_large_forms():
    assert len(STAND_IN) == serializers._CALL_MARKER_SIZE > serializers._PICKLE_FRAME_SIZE  # outside pickle's frames
    assert serializers.get_serializer("msgpack").dumps(STAND_IN)[:1] == b"\xc6"  # msgpack's bin 32
    assert STAND_IN.count(serializers._CALL_MARKER_HEAD) == 1
