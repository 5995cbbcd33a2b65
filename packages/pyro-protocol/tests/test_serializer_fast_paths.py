"""The formats' own dumps/loads/dumpsCall/loadsCall/call_payload take shortcuts for common values; they must give
exactly what the general methods (SerializerBase's, through the formats' hooks) give: the same
bytes, the same values, the same errors with the same messages, for any input."""

from __future__ import annotations

import marshal
import re
import tracemalloc
from typing import Any, Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyro_protocol import URI, serializers
from pyro_protocol.serializers import SerializerBase

FAST = ["serpent", "marshal", "msgpack"]
OBJECT_ID = "obj_" + "0123456789abcdef" * 2


def shown(value: Any) -> str:
    """The value as repr shows it, which tells types apart all the way down (1, 1.0, True; a list and
    a tuple; -0.0 and 0.0), with object addresses left out."""
    return re.sub(r" at 0x[0-9a-f]+", "", repr(value))


def outcome(operation: Callable[..., Any], *args: Any) -> Any:
    try:
        return ("value", operation(*args))
    except Exception as exc:  # noqa: BLE001 - the error is the outcome compared
        return ("error", type(exc), re.sub(r" at 0x[0-9a-f]+", "", str(exc)))  # (ast's messages hold addresses)


def assert_same_outcome(fast: Any, general: Any) -> None:
    assert fast[0] == general[0], (fast, general)
    if fast[0] == "value":
        assert shown(fast[1]) == shown(general[1]), (fast, general)
    else:
        assert fast == general


def check_dumps(name: str, value: Any) -> None:
    serializer = serializers.get_serializer(name)
    assert_same_outcome(outcome(serializer.dumps, value), outcome(SerializerBase.dumps, serializer, value))


def check_loads(name: str, data: bytes) -> None:
    serializer = serializers.get_serializer(name)
    assert_same_outcome(outcome(serializer.loads, data), outcome(SerializerBase.loads, serializer, data))
    assert_same_outcome(outcome(serializer.loadsCall, data), outcome(SerializerBase.loadsCall, serializer, data))


def joined_payload(serializer: Any, *call: Any) -> bytes:
    payload = serializer.call_payload(*call)
    return payload if type(payload) is bytes else b"".join(payload)


def check_call(name: str, obj: str, method: str, vargs: Any, kwargs: Any) -> None:
    serializer = serializers.get_serializer(name)
    fast = outcome(serializer.dumpsCall, obj, method, vargs, kwargs)
    general = outcome(SerializerBase.dumpsCall, serializer, obj, method, vargs, kwargs)
    assert_same_outcome(fast, general)
    # the client's call path: the INVOKE payload, with its own shortcut
    assert_same_outcome(outcome(joined_payload, serializer, obj, method, vargs, kwargs), general)
    if fast[0] == "value":
        check_loads(name, fast[1])


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.binary(max_size=40)
    | st.complex_numbers(allow_nan=False, max_magnitude=1e6)
)
values = st.recursive(
    scalars | st.just(URI("PYRO:obj@localhost:4444")),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(st.text(max_size=6) | st.integers(), inner, max_size=4)
        | st.sets(st.integers() | st.text(max_size=4), max_size=4)
    ),
    max_leaves=12,
)
names = st.text(max_size=12) | st.just(OBJECT_ID) | st.sampled_from(["add", "echo", "Pyro.NameServer", "ping"])
kwargs_values = st.none() | st.just({}) | st.dictionaries(st.text(max_size=5), values, max_size=3)


@pytest.mark.parametrize("name", FAST)
@settings(max_examples=300, deadline=None)
@given(value=values)
def test_dumps_and_loads_agree_with_the_general_path(name, value):
    check_dumps(name, value)
    written = outcome(serializers.get_serializer(name).dumps, value)
    if written[0] == "value":
        check_loads(name, written[1])


@pytest.mark.parametrize("name", FAST)
@settings(max_examples=300, deadline=None)
@given(obj=names, method=names, vargs=st.lists(values, max_size=5), as_list=st.booleans(), kwargs=kwargs_values)
def test_calls_agree_with_the_general_path(name, obj, method, vargs, as_list, kwargs):
    check_call(name, obj, method, vargs if as_list else tuple(vargs), kwargs)


@pytest.mark.parametrize("name", FAST)
@settings(max_examples=300, deadline=None)
@given(vargs=st.lists(scalars, max_size=5), kwargs=st.none() | st.just({}), data=st.data())
def test_damaged_calls_agree_with_the_general_path(name, vargs, kwargs, data):
    payload = bytearray(serializers.get_serializer(name).dumpsCall(OBJECT_ID, "add", tuple(vargs), kwargs))
    for _ in range(data.draw(st.integers(1, 3))):
        position = data.draw(st.integers(0, len(payload)))
        action = data.draw(st.sampled_from(["set", "cut", "insert"]))
        if action == "cut":
            del payload[position:]
        elif action == "insert":
            payload[position:position] = data.draw(st.binary(min_size=1, max_size=5))
        elif position < len(payload):
            payload[position] = data.draw(st.integers(0, 255))
    check_loads(name, bytes(payload))


@pytest.mark.parametrize("name", FAST)
@settings(max_examples=300, deadline=None)
@given(payload=st.binary(max_size=80))
def test_random_bytes_agree_with_the_general_path(name, payload):
    check_loads(name, payload)


def test_buffers_agree_with_the_general_path():
    for name in FAST:
        serializer = serializers.get_serializer(name)
        for data in (serializer.dumps([1, "two", 3.0]), serializer.dumpsCall(OBJECT_ID, "add", (1, 2), {})):
            check_loads(name, memoryview(data))


# -- marshal: the quick check in front of marshal.loads --------------------------------------


def marshal_call(*elements: bytes, kwargs: bytes = b"{0") -> bytes:
    """A call written by hand: a small tuple of four, the object id, the method, the list of elements."""
    head = b")\x04" + marshal.dumps(OBJECT_ID) + marshal.dumps("add")
    return head + b"[" + len(elements).to_bytes(4, "little") + b"".join(elements) + kwargs


CRAFTED = {
    "plain": marshal_call(b"i\x01\x00\x00\x00", b"i\x02\x00\x00\x00"),
    "kwargs None": marshal_call(b"N", kwargs=b"N"),
    "kwargs with an entry": marshal_call(kwargs=b"{z\x01ai\x01\x00\x00\x00" + b"0"),
    "reference to the call": b"\xa9\x04"
    + marshal.dumps(OBJECT_ID)
    + marshal.dumps("add")
    + b"[\x01\x00\x00\x00r\x00\x00\x00\x00{0",
    "reference to a string": marshal_call(b"r\x01\x00\x00\x00"),
    "bad reference": marshal_call(b"r\x09\x00\x00\x00"),
    "code object": marshal_call(marshal.dumps(compile("1", "<x>", "eval"))),
    "ellipsis": marshal_call(b"."),
    "stop iteration": marshal_call(b"S"),
    "list bomb": marshal_call(b"[\xff\xff\xff\x7f"),
    # the arguments' own list: its count's low byte says 1, and one element follows
    "argument list bomb": marshal_call(b"N").replace(b"[\x01\x00\x00\x00", b"[\x01\x00\x00\x40"),
    "tuple bomb": marshal_call(b"(\xff\xff\xff\x0f"),
    "long bomb": marshal_call(b"l\xff\xff\xff\x7f"),
    "bytes bomb": marshal_call(b"s\xff\xff\xff\x7f"),
    "string bomb": marshal_call(b"u\xff\xff\xff\x7f"),
    "too many elements announced": marshal_call(b"i\x01\x00\x00\x00")[:-2].replace(b"[\x01", b"[\x09") + b"{0",
    "a short string running off the end": marshal_call(b"z\xff"),
    "a long string": marshal_call(marshal.dumps("x" * 300)),
    "bytes": marshal_call(marshal.dumps(b"abc")),
    "nested list": marshal_call(marshal.dumps([1, 2])),
    "300 arguments": marshal_call(*[b"N"] * 300),
    "not a call": marshal.dumps([OBJECT_ID, "add", [1], {}]),
    "a method that is no string": b")\x04" + marshal.dumps(OBJECT_ID) + b"i\x01\x00\x00\x00[\x00\x00\x00\x00{0",
    "cut in the list header": marshal_call(b"N")[:47],
    "trailing bytes": marshal_call(b"N") + b"garbage",
    "empty": b"",
}


@pytest.mark.parametrize("data", CRAFTED.values(), ids=CRAFTED.keys())
def test_crafted_marshal_calls_agree_with_the_general_path(data):
    check_loads("marshal", data)


@pytest.mark.parametrize(
    "name", ["list bomb", "argument list bomb", "tuple bomb", "long bomb", "bytes bomb", "string bomb"]
)
def test_marshal_bombs_in_call_arguments_are_refused_before_allocating(name):
    tracemalloc.start()
    try:
        outcome(serializers.get_serializer("marshal").loadsCall, CRAFTED[name])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024
    with pytest.raises(serializers.SerializeError, match="does not fit|too short"):
        serializers.get_serializer("marshal").loadsCall(CRAFTED[name])


def test_marshal_code_objects_in_call_arguments_are_refused():
    with pytest.raises(serializers.SerializeError, match="not accepted"):
        serializers.get_serializer("marshal").loadsCall(CRAFTED["code object"])


# -- subclasses: they change the hooks, so they get the general methods -------------------------


def test_a_subclass_that_changes_a_hook_is_served_by_it():
    class Shouting(serializers.MarshalSerializer):
        def _dumps(self, data: Any) -> bytes:
            return super()._dumps(data.upper() if isinstance(data, str) else data)

    assert marshal.loads(Shouting().dumps("abc")) == "ABC"
    assert Shouting.dumps is SerializerBase.dumps
    assert Shouting.loads_call is Shouting.loadsCall is SerializerBase.loadsCall
    assert serializers.MarshalSerializer.dumps is not SerializerBase.dumps
