"""Serializers: ids, round trips, the documented type losses, class dicts, Pyro4 interop."""

from __future__ import annotations

import array
import collections
import datetime
import decimal
import io
import math
import pickle
import sqlite3
import sys
import uuid
from typing import Any

import Pyro4.core
import Pyro4.errors
import Pyro4.futures
import Pyro4.util
import pytest
import serpent
from hypothesis import given, settings
from hypothesis import strategies as st

from pyro_protocol import URI, constants, serializers
from pyro_protocol.errors import (
    CommunicationError,
    DaemonError,
    ExceptionWrapper,
    NamingError,
    PyroError,
    SecurityError,
    SerializeError,
)

ALL = ["serpent", "json", "marshal", "msgpack", "pickle", "cloudpickle", "dill"]
DICT_BASED = ["serpent", "json", "marshal", "msgpack"]
PICKLES = ["pickle", "cloudpickle", "dill"]


def roundtrip(name: str, value: Any) -> Any:
    serializer = serializers.get_serializer(name)
    return serializer.loads(serializer.dumps(value))


def roundtrip_call(name: str, *call: Any) -> Any:
    serializer = serializers.get_serializer(name)
    return serializer.loadsCall(serializer.dumpsCall(*call))


# -- ids and lookup ------------------------------------------------------------------------


def test_pyro4_serializer_ids():
    assert serializers.SERIALIZER_IDS == {
        "serpent": 1,
        "json": 2,
        "marshal": 3,
        "pickle": 4,
        "dill": 5,
        "msgpack": 6,
        "cloudpickle": 7,
    }


@pytest.mark.parametrize("name", ALL)
def test_lookup_by_name_and_id(name):
    serializer = serializers.get_serializer(name)
    assert serializer.name == name
    assert serializer.serializer_id == serializers.SERIALIZER_IDS[name]
    assert serializers.get_serializer_by_id(serializer.serializer_id) is serializer
    assert serializers.serializer_name(serializer.serializer_id) == name
    assert repr(serializer) == f"<{type(serializer).__name__} id={serializer.serializer_id}>"


def test_unknown_serializers_are_serialize_errors():
    with pytest.raises(SerializeError, match="serializer 'yaml' is unknown or not available"):
        serializers.get_serializer("yaml")
    with pytest.raises(SerializeError, match="no serializer available for id 42"):
        serializers.get_serializer_by_id(42)
    assert serializers.serializer_name(99) == "unknown serializer 99"


@pytest.mark.parametrize("package", ["msgpack", "cloudpickle", "dill"])
def test_missing_optional_package_names_it(package, monkeypatch):
    monkeypatch.setitem(sys.modules, package, None)  # makes "import <package>" fail
    monkeypatch.setattr(serializers.base, "_instances", {})
    with pytest.raises(SerializeError, match=f"needs the '{package}' package: pip install {package}"):
        serializers.get_serializer(package)
    with pytest.raises(SerializeError, match=f"pip install {package}"):
        serializers.get_serializer_by_id(serializers.SERIALIZER_IDS[package])
    # the others keep working
    assert serializers.get_serializer("serpent").loads(serializers.get_serializer("serpent").dumps(1)) == 1


# -- plain values --------------------------------------------------------------------------

UNCHANGED = [
    0,
    -1,
    2**63 - 1,
    2**64,
    2**70,
    -(2**70),
    1.5,
    -0.0,
    float("inf"),
    float("-inf"),
    True,
    False,
    None,
    "",
    "plain",
    "nul\x00inside",
    "h\u00e9llo w\u00f6rld \u2603 \U0001f600",
    [],
    [1, "a", None],
    {"a": 1, "b": [2]},
    {"nested": {"deeper": [{"x": "y"}]}},
]


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("value", UNCHANGED, ids=repr)
def test_values_that_survive_every_serializer(name, value):
    result = roundtrip(name, value)
    assert result == value
    assert type(result) is type(value)


@pytest.mark.parametrize("name", ALL)
def test_nan_survives(name):
    assert math.isnan(roundtrip(name, float("nan")))
    assert math.isnan(roundtrip(name, [float("nan")])[0])


@pytest.mark.parametrize("name", ALL)
def test_big_ints_in_containers(name):
    assert list(roundtrip(name, [2**70, -(2**100), 2**64 - 1])) == [2**70, -(2**100), 2**64 - 1]


# table 3.6: what each serializer does to types it cannot carry
TUPLE = {"serpent": (1, 2), "json": [1, 2], "marshal": (1, 2), "msgpack": [1, 2]}
SET = {"serpent": {1, 2}, "json": [1, 2], "marshal": {1, 2}, "msgpack": [1, 2]}
EMPTY_SET = {"serpent": (), "json": [], "marshal": set(), "msgpack": []}
BYTES_AS_DICT = {"data": "AP8A", "encoding": "base64"}


@pytest.mark.parametrize("name", ALL)
def test_tuples(name):
    expected = TUPLE.get(name, (1, 2))
    result = roundtrip(name, (1, 2))
    assert result == expected and type(result) is type(expected)
    assert roundtrip(name, ()) == ([] if name in ("json", "msgpack") else ())
    assert roundtrip(name, {"t": (1, (2, 3))}) == (
        {"t": [1, [2, 3]]} if name in ("json", "msgpack") else {"t": (1, (2, 3))}
    )


@pytest.mark.parametrize("name", ALL)
def test_sets(name):
    result = roundtrip(name, {1, 2})
    expected = SET.get(name, {1, 2})
    assert type(result) is type(expected)
    assert sorted(result) == sorted(expected)
    empty = roundtrip(name, set())
    assert empty == EMPTY_SET.get(name, set()) and type(empty) is type(EMPTY_SET.get(name, set()))


@pytest.mark.parametrize("name", ALL)
def test_frozensets(name):
    result = roundtrip(name, frozenset({3}))
    expected = {"serpent": {3}, "json": [3], "msgpack": [3]}.get(name, frozenset({3}))
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize("name", ALL)
def test_bytes(name):
    data = b"\x00\xff\x00"
    if name == "json":
        with pytest.raises(SerializeError, match="json cannot serialize bytes"):
            serializers.get_serializer(name).dumps(data)
        with pytest.raises(SerializeError, match="json cannot serialize bytes"):
            serializers.get_serializer(name).dumpsCall("o", "m", (data,), {})
        return
    result = roundtrip(name, data)
    if name == "serpent":
        assert result == BYTES_AS_DICT  # left alone on receipt, as Pyro4 does
        assert serpent.tobytes(result) == data
    else:
        assert result == data and type(result) is bytes


@pytest.mark.parametrize("name", ALL)
def test_bytearray_and_memoryview(name):
    if name == "json":
        for value in (bytearray(b"xy"), memoryview(b"xy")):
            with pytest.raises(SerializeError, match="json cannot serialize bytes"):
                serializers.get_serializer(name).dumps(value)
        return
    result = roundtrip(name, bytearray(b"xy"))
    if name == "serpent":
        assert result == {"data": "eHk=", "encoding": "base64"}
    elif name in PICKLES:
        assert result == bytearray(b"xy") and type(result) is bytearray
    else:
        assert result == b"xy" and type(result) is bytes  # bytearray -> bytes
    if name not in PICKLES:  # memoryview cannot be pickled
        view = roundtrip(name, memoryview(b"xy"))
        assert view == ({"data": "eHk=", "encoding": "base64"} if name == "serpent" else b"xy")


@pytest.mark.parametrize("name", ALL)
def test_dict_keys(name):
    assert roundtrip(name, {1: "a", 2: "b"}) == ({"1": "a", "2": "b"} if name == "json" else {1: "a", 2: "b"})


@pytest.mark.parametrize("name", ALL)
def test_complex(name):
    if name == "json":
        with pytest.raises(SerializeError, match="complex"):
            serializers.get_serializer(name).dumps(1 + 2j)
    else:
        assert roundtrip(name, complex(1, 2)) == complex(1, 2)


DT = datetime.datetime(2020, 1, 2, 3, 4, 5, 6000)
DATE = datetime.date(2020, 1, 2)
DEC = decimal.Decimal("1.10")
UID = uuid.UUID("12345678-1234-5678-1234-567812345678")


@pytest.mark.parametrize("name", ALL)
def test_datetime_date_decimal_uuid(name, utc_timezone):
    if name in PICKLES:
        for value in (DT, DATE, DEC, UID):
            result = roundtrip(name, value)
            assert result == value and type(result) is type(value)
        return
    if name == "marshal":
        for value in (DT, DATE, DEC):
            with pytest.raises(SerializeError, match=f"marshal cannot serialize {type(value).__name__}"):
                serializers.get_serializer(name).dumps(value)
        assert roundtrip(name, UID) == str(UID)
        return
    if name == "msgpack":
        assert roundtrip(name, DT) == DT  # ext 0x32, local time
        assert roundtrip(name, DATE) == DATE  # ext 0x33
    else:
        assert roundtrip(name, DT) == "2020-01-02T03:04:05.006000"
        assert roundtrip(name, DATE) == "2020-01-02"
    assert roundtrip(name, DEC) == "1.10"
    assert roundtrip(name, UID) == "12345678-1234-5678-1234-567812345678"


def test_msgpack_refuses_aware_datetime():
    aware = datetime.datetime(2020, 1, 2, tzinfo=datetime.UTC)
    with pytest.raises(SerializeError, match="msgpack cannot serialize datetime with timezone info"):
        serializers.get_serializer("msgpack").dumps(aware)
    assert roundtrip("serpent", aware) == "2020-01-02T00:00:00+00:00"
    assert roundtrip("json", aware) == "2020-01-02T00:00:00+00:00"


def test_msgpack_ext_codes():
    msgpack = pytest.importorskip("msgpack")
    packed = serializers.get_serializer("msgpack").dumps([1 + 2j, 2**70, DATE])
    codes = []
    msgpack.unpackb(packed, ext_hook=lambda code, data: codes.append(code))
    assert codes == [0x30, 0x31, 0x33]
    with pytest.raises(SerializeError, match="invalid ext code for msgpack: 7"):
        serializers.get_serializer("msgpack").loads(msgpack.packb(msgpack.ExtType(7, b"x")))


@pytest.mark.parametrize("name", ["serpent", "json", "msgpack", "marshal"])
def test_time_timedelta(name):
    serializer = serializers.get_serializer(name)
    if name == "serpent":
        assert roundtrip(name, datetime.time(1, 2, 3)) == "01:02:03"
        assert roundtrip(name, datetime.timedelta(seconds=5)) == 5.0
        return
    for value in (datetime.time(1, 2, 3), datetime.timedelta(seconds=5)):
        with pytest.raises(SerializeError):
            serializer.dumps(value)


@pytest.mark.parametrize("name", DICT_BASED)
def test_arrays(name):
    assert roundtrip(name, array.array("i", [1, 2])) == [1, 2]
    assert roundtrip(name, array.array("u", "ab")) == "ab"
    call = roundtrip_call(name, "o", "m", (array.array("d", [1.5]),), {"k": array.array("u", "x")})
    assert (list(call[2]), call[3]) == ([[1.5]], {"k": "x"})


def test_ordered_dict():
    value = collections.OrderedDict(a=1)
    assert roundtrip("json", value) == {"a": 1}
    assert roundtrip("msgpack", value) == {"a": 1}
    assert roundtrip("pickle", value) == value
    with pytest.raises(SerializeError, match="unsupported serialized class: collections.OrderedDict"):
        roundtrip("serpent", value)
    with pytest.raises(SerializeError, match="collections.OrderedDict"):
        roundtrip("marshal", value)


@pytest.mark.parametrize("name", ALL)
def test_nested_structure(name):
    value = {"list": [1, [2, [3, {"k": "v"}]]], "num": 2**70, "text": "\u00e9\x00", "none": None}
    assert roundtrip(name, value) == value


# -- calls -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_call_round_trip(name):
    obj, method, args, kwargs = roundtrip_call(name, "example.calc", "add", (1, 2), {"x": "y"})
    assert (obj, method, list(args), kwargs) == ("example.calc", "add", [1, 2], {"x": "y"})
    expected_args_type = list if name in ("json", "marshal", "msgpack") else tuple
    assert type(args) is expected_args_type
    assert roundtrip_call(name, "o", "<batch>", [("m", (1,), {})], None)[3] is None


def test_call_wire_forms():
    assert serializers.get_serializer("serpent").dumpsCall("o", "m", (1, 2), {}) == (
        b"# serpent utf-8 python3.2\n('o','m',(1,2),{})"
    )
    assert serializers.get_serializer("json").dumpsCall("o", "m", (1, "\u00e9"), {}) == (
        '{"object": "o", "method": "m", "params": [1, "\u00e9"], "kwargs": {}}'.encode()
    )
    marshalled = serializers.get_serializer("marshal").dumpsCall("o", "m", (1, 2), {})
    import marshal

    assert marshal.loads(marshalled) == ("o", "m", [1, 2], {})


@pytest.mark.parametrize(
    "name, payload, match",
    [
        ("serpent", b"# serpent utf-8 python3.2\n(1,'m',(),{})", "object id and method name must be strings"),
        ("serpent", b"# serpent utf-8 python3.2\n('o','m',5,{})", "positional arguments must be a sequence"),
        ("serpent", b"# serpent utf-8 python3.2\n('o','m',(),5)", "keyword arguments must be a map"),
        ("serpent", b"# serpent utf-8 python3.2\n('o','m',())", "invalid call data"),
        ("serpent", b"('o','m',(),{})\x00", "NUL"),
        ("json", b"[1, 2]", "a call must be an object"),
        ("json", b'{"object": "o"}', "invalid call data"),
        ("json", b"\xff\xfe", "invalid call data"),
        ("marshal", b"garbage", "invalid call data"),
        ("msgpack", b"\xc1", "invalid call data"),
    ],
)
def test_malformed_calls(name, payload, match):
    with pytest.raises(SerializeError, match=match):
        serializers.get_serializer(name).loadsCall(payload)


@pytest.mark.parametrize("name", ["serpent", "json", "marshal", "msgpack"])
@pytest.mark.parametrize("payload", [b"", b"\x00\x01\x02", b"\xc1", b"\xff" * 10])
def test_garbage_is_a_serialize_error(name, payload):
    with pytest.raises(SerializeError, match=name):
        serializers.get_serializer(name).loads(payload)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["serpent", "json", "msgpack"]), st.binary(max_size=200))
def test_random_payloads_give_only_serialize_errors(name, payload):
    serializer = serializers.get_serializer(name)
    for load in (serializer.loads, serializer.loadsCall):
        try:
            load(payload)
        except (SerializeError, SecurityError):
            pass


texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    # (a "__class__" key makes a dict the wire form of an object: not a plain value)
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(texts.filter(lambda k: k != "__class__"), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(ALL), json_values)
def test_json_like_values_survive_everywhere(name, value):
    assert roundtrip(name, value) == value


# -- depth -----------------------------------------------------------------------------------

DEPTH = 10_000


def nested_list(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def nested_dict(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


DEEP_PAYLOADS = {
    "serpent": (b"[" * DEPTH + b"1" + b"]" * DEPTH, b"{'a':" * DEPTH + b"1" + b"}" * DEPTH),
    "json": (b"[" * DEPTH + b"1" + b"]" * DEPTH, b'{"a":' * DEPTH + b"1" + b"}" * DEPTH),
    "msgpack": (b"\x91" * DEPTH + b"\x01", b"\x81\xa1a" * DEPTH + b"\x01"),
    "marshal": (b"[\x01\x00\x00\x00" * DEPTH + b"N", b"{\xda\x01a" * DEPTH + b"N" + b"0" * DEPTH),
}


@pytest.mark.parametrize("name", ["serpent", "json", "msgpack", "marshal"])
@pytest.mark.parametrize("make", [nested_list, nested_dict])
def test_deep_nesting_on_dumps_is_a_serialize_error(name, make):
    serializer = serializers.get_serializer(name)
    deep = make(DEPTH)
    with pytest.raises(SerializeError, match="nest|recursion|deep"):
        serializer.dumps(deep)
    with pytest.raises(SerializeError, match="nest|recursion|deep"):
        serializer.dumpsCall("o", "m", (deep,), {})


@pytest.mark.parametrize("name", ["serpent", "json", "msgpack", "marshal"])
@pytest.mark.parametrize("kind", [0, 1], ids=["lists", "dicts"])
def test_deep_nesting_on_loads_is_a_serialize_error(name, kind):
    serializer = serializers.get_serializer(name)
    payload = DEEP_PAYLOADS[name][kind]
    with pytest.raises(SerializeError):
        serializer.loads(payload)
    with pytest.raises(SerializeError):
        serializer.loadsCall(payload)


@pytest.mark.parametrize("name", ["json", "msgpack", "marshal"])
def test_moderate_nesting_still_works(name):
    assert roundtrip(name, nested_list(200)) == nested_list(200)
    assert roundtrip(name, nested_dict(200)) == nested_dict(200)


# -- URIs, exceptions, wrappers --------------------------------------------------------------

URIS = [
    "PYRO:obj@localhost:9999",
    "PYRO:obj@./u:/tmp/pyro.sock",
    "PYRO:obj@[::1]:5555",
    "PYRONAME:some.name",
    "PYRONAME:some.name@nshost:1234",
    "PYROMETA:meta1,meta2",
    "PYROMETA:meta1@nshost:5678",
]


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("text", URIS)
def test_uris_round_trip(name, text):
    uri = URI(text)
    result = roundtrip(name, uri)
    assert type(result) is URI
    assert result == uri
    assert str(result) == str(uri)
    assert roundtrip(name, {"uris": [uri]})["uris"][0] == uri


@pytest.mark.parametrize("name", DICT_BASED)
def test_uri_class_dict_form(name):
    serializer = serializers.get_serializer(name)
    as_dict = serializers.class_to_dict(URI("PYRO:obj@h:1"))
    assert as_dict == {"__class__": "Pyro4.core.URI", "state": ("PYRO", "obj", None, "h", 1)}
    assert list(as_dict) == ["__class__", "state"]
    assert serializer.loads(serializer.dumps(as_dict)) == URI("PYRO:obj@h:1")
    if name == "serpent":
        assert serializer.dumps(URI("PYRO:obj@h:1")) == (
            b"# serpent utf-8 python3.2\n{'__class__':'Pyro4.core.URI','state':('PYRO','obj',None,'h',1)}"
        )


def with_traceback(exc: BaseException, **attributes: Any) -> BaseException:
    exc._pyroTraceback = ["Traceback (most recent call last):\n", "  remote line\n"]  # type: ignore[attr-defined]
    for key, value in attributes.items():
        setattr(exc, key, value)
    return exc


EXCEPTIONS = [
    lambda: with_traceback(ValueError("bad value", 3)),
    lambda: with_traceback(ZeroDivisionError("division by zero")),
    lambda: with_traceback(KeyError("k")),
    lambda: StopIteration(),
    lambda: with_traceback(NamingError("unknown name: x")),
    lambda: with_traceback(DaemonError("unknown object")),
    lambda: with_traceback(CommunicationError("lost"), extra="custom attribute"),
    lambda: with_traceback(PyroError()),
    lambda: with_traceback(SecurityError("nope")),
]


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("make", EXCEPTIONS, ids=lambda make: type(make()).__name__)
def test_exceptions_round_trip_with_traceback(name, make):
    exc = make()
    result = roundtrip(name, exc)
    assert type(result) is type(exc)
    assert result.args == exc.args
    assert vars(result) == vars(exc)
    assert getattr(result, "_pyroTraceback", None) == getattr(exc, "_pyroTraceback", None)


@pytest.mark.parametrize("name", DICT_BASED)
def test_exception_class_dict_form(name):
    exc = with_traceback(NamingError("x"))
    as_dict = serializers.class_to_dict(exc)
    assert list(as_dict) == ["__class__", "__exception__", "args", "attributes"]
    assert as_dict["__class__"] == "Pyro4.errors.NamingError"
    assert as_dict["__exception__"] is True
    assert serializers.class_to_dict(ValueError("v"))["__class__"] == "builtins.ValueError"


@pytest.mark.parametrize("name", ALL)
def test_exception_wrapper_round_trips(name):
    wrapper = ExceptionWrapper(with_traceback(ZeroDivisionError("division by zero")))
    result = roundtrip(name, [3, wrapper])
    assert result[0] == 3
    assert type(result[1]) is ExceptionWrapper
    with pytest.raises(ZeroDivisionError, match="division by zero") as caught:
        result[1].raiseIt()
    assert caught.value._pyroTraceback == wrapper.exception._pyroTraceback


@pytest.mark.parametrize("name", DICT_BASED)
def test_sqlite_errors_are_recreated(name):
    result = roundtrip(name, sqlite3.OperationalError("no such table"))
    assert type(result) is sqlite3.OperationalError


def class_payload(name: str, classname: str) -> bytes:
    return serializers.get_serializer(name).dumps({"__class__": classname, "state": [1]})


@pytest.mark.parametrize("name", DICT_BASED)
def test_unknown_class_is_refused_naming_it(name):
    with pytest.raises(SerializeError, match="unsupported serialized class: myapp.models.Thing"):
        serializers.get_serializer(name).loads(class_payload(name, "myapp.models.Thing"))
    call = serializers.get_serializer(name).dumpsCall("o", "m", ({"__class__": "myapp.Thing"},), {})
    with pytest.raises(SerializeError, match="myapp.Thing"):
        serializers.get_serializer(name).loadsCall(call)


@pytest.mark.parametrize("name", DICT_BASED)
@pytest.mark.parametrize("classname", ["__main__.Thing", "my__module.Thing", "builtins.__import__"])
def test_double_underscore_class_is_a_security_error(name, classname):
    with pytest.raises(SecurityError, match=f"double underscores in their name: {classname}"):
        serializers.get_serializer(name).loads(class_payload(name, classname))


def test_unknown_exception_class_is_refused():
    payload = serializers.get_serializer("json").dumps(
        {"__class__": "myapp.errors.QuotaError", "__exception__": True, "args": ["x"], "attributes": {}}
    )
    with pytest.raises(SerializeError, match="unsupported serialized class: myapp.errors.QuotaError"):
        serializers.get_serializer("json").loads(payload)


def test_serpent_payload_with_nul_is_refused():
    with pytest.raises(SerializeError, match="NUL"):
        serializers.get_serializer("serpent").loads(b"# serpent utf-8 python3.2\n'a\x00'")


# -- the registries --------------------------------------------------------------------------


class Point:
    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)


@pytest.fixture
def point_registered():
    serializers.register_class_to_dict(Point, lambda p: {"__class__": "test.Point", "xy": [p.x, p.y]})
    serializers.register_dict_to_class("test.Point", lambda name, d: Point(*d["xy"]))
    yield
    serializers.unregister_class_to_dict(Point)
    serializers.unregister_dict_to_class("test.Point")


@pytest.mark.parametrize("name", DICT_BASED)
def test_registered_converters_round_trip(name, point_registered):
    assert roundtrip(name, Point(1, 2)) == Point(1, 2)
    assert roundtrip(name, {"p": [Point(3, 4)]}) == {"p": [Point(3, 4)]}
    args = roundtrip_call(name, "o", "m", (Point(5, 6),), {"k": Point(7, 8)})
    assert (list(args[2]), args[3]) == ([Point(5, 6)], {"k": Point(7, 8)})


@pytest.mark.parametrize("name", DICT_BASED)
def test_unregistered_dict_to_class_is_refused_again(name, point_registered):
    payload = serializers.get_serializer(name).dumps(Point(1, 2))
    serializers.unregister_dict_to_class("test.Point")
    with pytest.raises(SerializeError, match="unsupported serialized class: test.Point"):
        serializers.get_serializer(name).loads(payload)


def test_registered_converter_beats_the_double_underscore_rule():
    serializers.register_dict_to_class("__main__.Thing", lambda name, d: ("converted", name))
    try:
        assert serializers.get_serializer("json").loads(b'{"__class__": "__main__.Thing"}') == (
            "converted",
            "__main__.Thing",
        )
    finally:
        serializers.unregister_dict_to_class("__main__.Thing")


class Replaced:
    pass


@pytest.mark.parametrize("name", DICT_BASED + ["pickle"])
def test_type_replacement(name):
    target = URI("PYRO:replaced@h:1")
    serializers.register_type_replacement(Replaced, lambda obj: target)
    try:
        assert roundtrip(name, [Replaced()]) == [target]
    finally:
        serializers.unregister_type_replacement(Replaced)


def test_plain_objects_become_class_dicts_and_are_refused_on_receipt():
    as_dict = serializers.class_to_dict(Point(1, 2))
    assert as_dict["x"] == 1 and as_dict["y"] == 2
    assert as_dict["__class__"].endswith(".Point")
    with pytest.raises((SerializeError, SecurityError), match="Point"):
        roundtrip("json", Point(1, 2))


def test_object_with_getstate_dict_is_sent_as_that_dict():
    class Stateful:
        def __getstate__(self) -> dict[str, Any]:
            return {"state": 1}

    assert roundtrip("json", Stateful()) == {"state": 1}


def test_unserializable_object_names_its_class():
    with pytest.raises(SerializeError, match="don't know how to serialize class"):
        serializers.get_serializer("json").dumps(object())


def test_pyro4_names_on_serializer_base():
    base = serializers.SerializerBase
    assert base.register_class_to_dict is serializers.register_class_to_dict
    assert base.register_dict_to_class is serializers.register_dict_to_class
    serializer = serializers.get_serializer("serpent")
    assert serializer.dumps_call("o", "m", (), {}) == serializer.dumpsCall("o", "m", (), {})


# -- pickle and Pyro4 ------------------------------------------------------------------------

Pyro4_core = Pyro4.core


def test_pickle_uses_pyro4_module_paths_even_with_dill_loaded():
    import dill  # noqa: F401 - dill changes the pure-Python pickler's dispatch on import

    data = serializers.get_serializer("pickle").dumps([URI("PYRO:x@h:1"), NamingError("n")])
    assert b"Pyro4.core" in data and b"Pyro4.errors" in data
    assert b"pyro_protocol" not in data


@pytest.mark.parametrize("name", PICKLES)
@pytest.mark.parametrize("text", URIS)
def test_our_pickled_uri_loads_in_pyro4(name, text):
    data = serializers.get_serializer(name).dumps(URI(text))
    assert b"pyro_protocol" not in data
    theirs = pickle.loads(data)
    assert type(theirs) is Pyro4_core.URI
    assert str(theirs) == str(URI(text)) or text.startswith("PYROMETA")
    ours = URI(text)
    assert (theirs.protocol, theirs.object, theirs.sockname, theirs.host, theirs.port) == (
        ours.protocol,
        set(ours.object) if ours.protocol == "PYROMETA" else ours.object,
        ours.sockname,
        ours.host,
        ours.port,
    )


@pytest.mark.parametrize("name", PICKLES)
def test_our_pickled_errors_load_in_pyro4(name):
    exc = with_traceback(NamingError("unknown name: x"))
    theirs = pickle.loads(serializers.get_serializer(name).dumps(exc))
    assert type(theirs) is Pyro4.errors.NamingError
    assert theirs.args == ("unknown name: x",)
    assert theirs._pyroTraceback == exc._pyroTraceback
    wrapped = pickle.loads(serializers.get_serializer(name).dumps(ExceptionWrapper(DaemonError("d"))))
    assert type(wrapped) is Pyro4.futures._ExceptionWrapper
    assert type(wrapped.exception) is Pyro4.errors.DaemonError


def test_pickling_the_classes_themselves_uses_pyro4_names():
    theirs = pickle.loads(serializers.get_serializer("pickle").dumps([URI, NamingError, ExceptionWrapper]))
    assert theirs == [Pyro4_core.URI, Pyro4.errors.NamingError, Pyro4.futures._ExceptionWrapper]


@pytest.mark.parametrize("name", PICKLES)
def test_pyro4_pickles_load_as_ours(name):
    exc = Pyro4.errors.NamingError("unknown")
    exc._pyroTraceback = ["tb\n"]
    value = [
        Pyro4_core.URI("PYRO:obj@host:1234"),
        exc,
        Pyro4.futures._ExceptionWrapper(Pyro4.errors.SerializeError("s")),
    ]
    data = Pyro4.util.get_serializer(name).serializeData(value)[0]
    uri, error, wrapper = serializers.get_serializer(name).loads(data)
    assert type(uri) is URI and uri == URI("PYRO:obj@host:1234")
    assert type(error) is NamingError and error.args == ("unknown",) and error._pyroTraceback == ["tb\n"]
    assert type(wrapper) is ExceptionWrapper and type(wrapper.exception) is SerializeError


def test_cloudpickle_still_pickles_functions_by_value_next_to_a_uri():
    function = lambda x: x + 1
    data = serializers.get_serializer("cloudpickle").dumps([function, URI("PYRO:x@h:1")])
    loaded_function, uri = pickle.loads(data)
    assert loaded_function(1) == 2
    assert type(uri) is Pyro4_core.URI
    ours_function, ours_uri = serializers.get_serializer("cloudpickle").loads(data)
    assert ours_function(2) == 3 and type(ours_uri) is URI


def test_pickle_protocol_follows_config(fresh_config):
    fresh_config.PICKLE_PROTOCOL_VERSION = 2
    assert serializers.get_serializer("pickle").dumps(1)[:2] == b"\x80\x02"
    assert serializers.get_serializer("pickle").dumps(URI("PYRO:x@h:1"))[:2] == b"\x80\x02"
    assert pickle.loads(serializers.get_serializer("pickle").dumps(URI("PYRO:x@h:1"))).host == "h"
    fresh_config.PICKLE_PROTOCOL_VERSION = 5
    assert serializers.get_serializer("pickle").dumps(1)[:2] == b"\x80\x05"


@pytest.mark.parametrize("name", DICT_BASED)
def test_our_class_dicts_load_in_pyro4(name):
    theirs = Pyro4.util.get_serializer(name)
    ours = serializers.get_serializer(name)
    uri = theirs.deserializeData(ours.dumps(URI("PYRONAME:x@h:5")))
    assert type(uri) is Pyro4_core.URI and str(uri) == "PYRONAME:x@h:5"
    error = theirs.deserializeData(ours.dumps(with_traceback(NamingError("n"))))
    assert type(error) is Pyro4.errors.NamingError and error._pyroTraceback[1] == "  remote line\n"
    result = theirs.deserializeData(ours.dumps([1, ExceptionWrapper(ValueError("v"))]))
    assert type(result[1]) is Pyro4.futures._ExceptionWrapper and type(result[1].exception) is ValueError


@pytest.mark.parametrize("name", DICT_BASED)
def test_pyro4_class_dicts_load_as_ours(name):
    theirs = Pyro4.util.get_serializer(name)
    exc = Pyro4.errors.DaemonError("d")
    exc._pyroTraceback = ["x"]
    values = [Pyro4_core.URI("PYRO:a@./u:/s"), exc, Pyro4.futures._ExceptionWrapper(exc)]
    ours = serializers.get_serializer(name)
    # Pyro4's marshal only converts the top-level value (nested objects make it fail)
    uri, error, wrapper = (ours.loads(theirs.serializeData(value)[0]) for value in values)
    assert uri == URI("PYRO:a@./u:/s")
    assert type(error) is DaemonError and error._pyroTraceback == ["x"]
    assert type(wrapper.exception) is DaemonError


@pytest.mark.parametrize("name", ALL)
def test_calls_interoperate_with_pyro4(name):
    theirs = Pyro4.util.get_serializer(name)
    ours = serializers.get_serializer(name)
    args, kwargs = (1, "\u00e9", [2, 3], 2**70), {"flag": True}
    obj, method, got_args, got_kwargs = theirs.deserializeCall(ours.dumpsCall("o", "m", args, kwargs))
    if name == "msgpack":
        # Pyro4 does not decode msgpack ext types in call arguments (spec 3.2)
        msgpack = pytest.importorskip("msgpack")
        assert got_args[3] == msgpack.ExtType(0x31, b"1180591620717411303424")
        got_args = [*got_args[:3], 2**70]
    assert (obj, method, list(got_args), got_kwargs) == ("o", "m", list(args), kwargs)
    obj, method, got_args, got_kwargs = ours.loadsCall(theirs.serializeCall("o", "m", args, kwargs)[0])
    assert (obj, method, list(got_args), got_kwargs) == ("o", "m", list(args), kwargs)


@pytest.mark.parametrize("name", ["serpent", "json", "msgpack", "pickle"])
def test_call_bytes_equal_pyro4s(name, utc_timezone):
    theirs = Pyro4.util.get_serializer(name)
    ours = serializers.get_serializer(name)
    for args in [(1, 2), ("h\u00e9llo", None, True), ((1, 2), {3}, [4.5]), (DT, DEC, UID, 2**70)]:
        assert ours.dumpsCall("obj", "meth", args, {"k": 1}) == theirs.serializeCall("obj", "meth", args, {"k": 1})[0]


def test_unpickler_still_loads_ordinary_classes():
    data = pickle.dumps(collections.Counter("aab"))
    assert serializers.get_serializer("pickle").loads(data) == collections.Counter("aab")
    assert serializers.get_serializer("pickle").loads(pickle.dumps(io.StringIO)) is io.StringIO


def test_unregister_pickle_name_removes_both_directions():
    class Temp:
        pass

    serializers.register_pickle_name(Temp, "Pyro4.core", "Temporary")
    assert serializers._pickle_classes[("Pyro4.core", "Temporary")] is Temp
    serializers.unregister_pickle_name(Temp)
    assert Temp not in serializers._pickle_names
    assert ("Pyro4.core", "Temporary") not in serializers._pickle_classes
    serializers.unregister_pickle_name(Temp)  # twice is harmless


def test_wire_class_names():
    assert constants.WIRE_CLASS_URI == "Pyro4.core.URI"
    assert constants.WIRE_CLASS_EXCEPTION_WRAPPER == "Pyro4.futures._ExceptionWrapper"


@pytest.mark.parametrize("name", DICT_BASED)
@pytest.mark.parametrize(
    "classname, expected",
    [
        ("ValueError", ValueError),
        ("builtins.KeyError", KeyError),
        ("exceptions.TypeError", TypeError),
        ("NamingError", NamingError),
        ("Pyro4.errors.SecurityError", SecurityError),
    ],
)
def test_exception_class_names_pyro4_accepts(name, classname, expected):
    serializer = serializers.get_serializer(name)
    payload = serializer.dumps({"__class__": classname, "__exception__": True, "args": ["why"], "attributes": {}})
    result = serializer.loads(payload)
    assert type(result) is expected and result.args == ("why",)


@pytest.mark.parametrize("name", DICT_BASED)
@pytest.mark.parametrize(
    "data, match",
    [
        ({"__class__": "Pyro4.core.URI", "state": 5}, "invalid state for Pyro4.core.URI"),
        ({"__class__": "Pyro4.core.URI", "state": ["PYRO", "x"]}, "invalid state for Pyro4.core.URI"),
        ({"__class__": "Pyro4.core.URI"}, "invalid state for Pyro4.core.URI"),
        ({"__class__": "Pyro4.errors.Bogus", "__exception__": True, "args": []}, "unsupported serialized class"),
        ({"__class__": "builtins.print", "__exception__": True, "args": []}, "unsupported serialized class"),
        ({"__class__": "Pyro4.futures._ExceptionWrapper", "exception": 5}, "no exception dict"),
        ({"__class__": 5}, "unsupported serialized class: 5"),
    ],
)
def test_malformed_class_dicts_are_serialize_errors(name, data, match):
    serializer = serializers.get_serializer(name)
    with pytest.raises(SerializeError, match=match):
        serializer.loads(serializer.dumps(data))


def test_serpent_nan_class_dict():
    loaded = serializers.get_serializer("serpent").loads(b"{'__class__':'float','value':'nan'}")
    assert math.isnan(loaded)


@pytest.mark.parametrize("name", ["marshal", "msgpack", "serpent", "json", "pickle"])
def test_bytes_prefix_is_what_dumps_writes_before_the_bytes(name: str) -> None:
    serializer = serializers.get_serializer(name)
    for size in (70000, 1 << 20):
        value = bytes(range(256)) * (size // 256)
        prefix = serializer.bytes_prefix(value)
        if prefix is not None:
            assert serializer.dumps(value) == prefix + value
        parts = serializer.bytes_parts(value)
        if parts is not None:
            assert serializer.dumps(value) == parts[0] + value + parts[1]
    assert name not in ("marshal", "msgpack", "pickle") or serializer.bytes_parts(value) is not None


PLAIN_VALUES = [0, -1, 10**40, 2.5, float("inf"), 1 + 2j, "", "text é", b"", b"\x00bytes", None, True, False]


@pytest.mark.parametrize("protocol", range(2, pickle.HIGHEST_PROTOCOL + 1))
def test_pickle_of_plain_values_and_calls_is_what_the_full_pickler_writes(protocol, fresh_config):
    """The shortcut for plain results and plain-argument calls writes the very bytes of the general path."""
    fresh_config.PICKLE_PROTOCOL_VERSION = protocol
    ser = serializers.get_serializer("pickle")

    def full(value):
        stream = io.BytesIO()
        serializers._FastPickler(stream, protocol).dump(value)
        return stream.getvalue()

    for value in PLAIN_VALUES:
        assert ser.dumps(value) == full(value)
        assert ser.loads(ser.dumps(value)) == value or value != value
    for call in [("obj", "m", tuple(PLAIN_VALUES), {}), ("obj", "m", (), None), ("obj", "m", (1, 2), {})]:
        assert ser.dumpsCall(*call) == full(call)
        assert Pyro4.util.get_serializer("pickle").loadsCall(ser.dumpsCall(*call))[:3] == call[:3]


def test_pickle_calls_with_other_arguments_still_use_pyro4_names():
    ser = serializers.get_serializer("pickle")
    uri = URI("PYRO:obj@localhost:1234")
    data = ser.dumpsCall("obj", "m", (uri,), {})
    assert b"Pyro4.core" in data
    assert ser.dumpsCall("obj", "m", (1,), {"where": uri}) != pickle.dumps(("obj", "m", (1,), {"where": uri}))
    vargs = Pyro4.util.get_serializer("pickle").loadsCall(data)[2]
    assert isinstance(vargs[0], Pyro4.core.URI)
