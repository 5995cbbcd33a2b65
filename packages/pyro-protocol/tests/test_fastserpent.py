"""The serpent fast path must write serpent's exact bytes and read what serpent reads."""

from __future__ import annotations

import math
from typing import Any

import pytest
import serpent
from hypothesis import given, settings
from hypothesis import strategies as st

from pyro_protocol import fastserpent
from pyro_protocol.errors import SerializeError
from pyro_protocol.serializers import get_serializer


def same(a: Any, b: Any) -> bool:
    """Equal values of equal types, all the way down (True is not 1; nan equals nan)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**60), max_value=10**60)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
    | st.binary(max_size=64)
)
keys = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.lists(inner, max_size=5).map(tuple)
        | st.dictionaries(keys, inner, max_size=5)
        | st.sets(keys, max_size=5)
        | st.frozensets(st.integers() | st.text(max_size=4), max_size=4)
    ),
    max_leaves=20,
)


def serpent_dumps(value: Any) -> Any:
    try:
        return serpent.dumps(value, module_in_classname=True)
    except Exception as exc:  # noqa: BLE001 - serpent's own refusal is the expected answer
        return type(exc)


@settings(max_examples=400, deadline=None)
@given(values)
def test_dumps_is_byte_identical_to_serpent(value: Any) -> None:
    expected = serpent_dumps(value)
    try:
        mine = fastserpent.dumps(value)
    except fastserpent.Unsupported:
        return  # serpent itself is used for these
    assert mine == expected


@settings(max_examples=400, deadline=None)
@given(values)
def test_loads_reads_what_serpent_reads(value: Any) -> None:
    data = serpent_dumps(value)
    if not isinstance(data, bytes):
        return
    try:
        expected = serpent.loads(data)
    except Exception:  # noqa: BLE001 - serpent refuses it: nothing to compare
        return
    try:
        mine = fastserpent.loads(data)
    except fastserpent.Unsupported:
        return
    assert same(mine, expected)


@pytest.mark.parametrize(
    "value",
    [
        ("obj_1", "add", (1, 2), {}),
        ("obj", "m", ("a",), {"k": [1.5, None, True]}),
        (),
        (1,),
        [],
        {},
        set(),
        frozenset(),
        {1, 2},
        {"a": {"b": (1, [2, {3}])}},
        b"\x00\x01binary",
        bytearray(b"xyz"),
        float("nan"),
        float("inf"),
        -float("inf"),
        -0.0,
        1e300,
        "quote ' and \" both",
        "tab\tnewline\nbackslash\\ unicode \u20ac \U0001f600 \ud800",
        2**70,
        -(2**70),
        {(1, 2): "tuple key", 1.5: "float key", True: "bool key"},
    ],
)
def test_common_values(value: Any) -> None:
    expected = serpent_dumps(value)
    try:
        mine: Any = fastserpent.dumps(value)
    except fastserpent.Unsupported:
        mine = expected
    assert mine == expected
    if isinstance(expected, bytes):
        try:
            read = fastserpent.loads(expected)
        except fastserpent.Unsupported:
            read = serpent.loads(expected)
        assert same(read, serpent.loads(expected))


@pytest.mark.parametrize(
    "value",
    [
        complex(1, 2),
        {None: 1},
        [b"a"] * 1,
        memoryview(b"abc"),
        {1: 2}.keys(),
        type("X", (), {})(),
    ],
)
def test_other_types_are_left_to_serpent(value: Any) -> None:
    try:
        fastserpent.dumps(value)
    except fastserpent.Unsupported:
        pass
    else:
        assert fastserpent.dumps(value) == serpent.dumps(value, module_in_classname=True)
    try:
        expected: Any = serpent.dumps(value, module_in_classname=True)
    except Exception:  # noqa: BLE001 - serpent refuses it
        expected = None
    if expected is None:
        with pytest.raises(SerializeError):
            get_serializer("serpent").dumps(value)
    else:
        assert get_serializer("serpent").dumps(value) == expected


def test_deep_and_circular_data_go_to_serpent() -> None:
    deep: Any = []
    for _ in range(fastserpent.MAX_DEPTH + 10):
        deep = [deep]
    with pytest.raises(fastserpent.Unsupported):
        fastserpent.dumps(deep)
    assert get_serializer("serpent").dumps(deep) == serpent.dumps(deep, module_in_classname=True)
    circular: list[Any] = []
    circular.append(circular)
    with pytest.raises(fastserpent.Unsupported):
        fastserpent.dumps(circular)


H = fastserpent.HEADER


@pytest.mark.parametrize(
    "text",
    [
        "1",
        "-1",
        "-0",
        "0",
        "00",
        "01",
        "1_000",
        "0x10",
        "1.",
        ".5",
        "-.5",
        "1e5",
        "1E+05",
        "1.5e-3",
        "1e30000",
        "-1e30000",
        "1j",
        "1+2j",
        "(1+2j)",
        "+1",
        "- 1",
        "--1",
        "None",
        "True",
        "False",
        "none",
        "Nonex",
        "set()",
        "'a'",
        '"a"',
        "'a' 'b'",
        "'a\\nb'",
        "'\\x41'",
        "'\\u20ac'",
        "'it''s'",
        "b'x'",
        "r'x'",
        "'\u20ac'",
        "()",
        "(1)",
        "(1,)",
        "(1,2)",
        "(1,2,)",
        "(,)",
        "(1,,2)",
        "[]",
        "[1]",
        "[1,]",
        "[,]",
        "{}",
        "{1}",
        "{1,}",
        "{1:2}",
        "{1:2,}",
        "{1:2,3}",
        "{1,2:3}",
        "{[1]:2}",
        "{[1]}",
        "{(1,2):3}",
        "[1,[2,[3,{4:(5,)}]]]",
        "{'data': 'QUJD', 'encoding': 'base64'}",
        "[1] ",
        "[1]\n",
        " [1]",
        "\n[1]",
        "[\n1,\n2\n]",
        "[1]x",
        "[1]]",
        "[1",
        "",
        " ",
        "# comment\n1",
        "1 # comment",
        "{'a':1,'a':2}",
        "(((((1)))))",
        "[1.5.3]",
        "1" * 4500,
        "'\\\n'",
        "'a\rb'",
        "'a\fb'",
        "[1\f,2]",
        "\t1",
    ],
)
def test_loads_agrees_with_serpent_or_refuses(text: str) -> None:
    _agrees_with_serpent_or_refuses(fastserpent.loads, text)


def _agrees_with_serpent_or_refuses(read: Any, text: str) -> None:
    data = (H + text).encode("utf-8")
    try:
        expected: Any = serpent.loads(data)
    except Exception as exc:  # noqa: BLE001 - serpent's own refusal is the expected answer
        expected = type(exc)
    try:
        mine: Any = read(data)
    except fastserpent.Unsupported:
        return
    assert not isinstance(expected, type), f"fast path accepted what serpent refuses: {text!r} -> {mine!r}"
    assert same(mine, expected)


def test_loads_needs_the_header() -> None:
    with pytest.raises(fastserpent.Unsupported):
        fastserpent.loads(b"(1,2)")
    assert get_serializer("serpent").loads(b"(1,2)") == (1, 2)


def test_registered_classes_are_written_as_serpent_writes_them() -> None:
    from pyro_protocol.errors import CommunicationError, ExceptionWrapper, NamingError
    from pyro_protocol.uri import URI

    error = NamingError("no such name")
    error.extra = {"k": (1, 2)}
    values = [
        URI("PYRO:obj@localhost:1234"),
        URI("PYRONAME:some.name@localhost:9090"),
        URI("PYROMETA:meta1,meta2@localhost:9090"),
        error,
        CommunicationError("lost"),
        ExceptionWrapper(NamingError("wrapped")),
        {"uri": URI("PYRO:x@127.0.0.1:1"), "list": [URI("PYRO:y@./u:/tmp/sock")]},
        (URI("PYRO:obj@[::1]:5"), ["meta"]),
    ]
    for value in values:
        assert get_serializer("serpent").dumps(value) == serpent.dumps(value, module_in_classname=True)
        assert fastserpent.dumps(value) == serpent.dumps(value, module_in_classname=True)


def test_a_users_class_registration_is_honoured() -> None:
    from pyro_protocol import serializers

    class Thing:
        def __init__(self, size: int) -> None:
            self.size = size

    class SubThing(Thing):
        pass

    serializers.register_class_to_dict(Thing, lambda obj: {"__class__": "Thing", "size": obj.size})
    try:
        for value in (Thing(3), [SubThing(4)], {"t": Thing(5)}):
            assert fastserpent.dumps(value) == serpent.dumps(value, module_in_classname=True)
    finally:
        serializers.unregister_class_to_dict(Thing)
    with pytest.raises(fastserpent.Unsupported):
        fastserpent.dumps(Thing(1))


@pytest.mark.parametrize(
    "text",
    [
        "('obj','add',(1,2),{})",
        "('obj','m',(),{})",
        "('obj','m',(1,),{})",
        "('obj','m',(1),{})",
        "('obj','m',('a','b c',None,True,False,-1.5,1e30000,-0,0),{})",
        "('o','m',(1,,2),{})",
        "('o','m',(1, 2),{})",
        "('o','m',(1,2),{'k':1})",
        "('o','m',(1,2),None)",
        "('o','m',([1],),{})",
        "('o','m',('it''s',),{})",
        "('o','m',('a\\'b',),{})",
        "('o','m',(1.5.3,),{})",
        "('o','m',(01,),{})",
        "('o','m',(1_0,),{})",
        "('o','m',(x,),{})",
        "('o','m',(1,2),{}) ",
        "('o','m',(1,2),{})x",
        "('o','m',('" + "9" * 5000 + "',),{})",
        "('o','m',(" + "9" * 5000 + ",),{})",
        "('o','m',(1,2,),{})",
    ],
)
def test_loads_call_agrees_with_serpent_or_refuses(text: str) -> None:
    _agrees_with_serpent_or_refuses(fastserpent.loads_call, text)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(scalars, max_size=6).map(tuple),
    st.dictionaries(st.text(max_size=5), scalars, max_size=2),
)
def test_loads_call_reads_serpent_calls(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    data = serpent_dumps(("obj_1", "method", args, kwargs))
    if not isinstance(data, bytes):
        return
    try:
        mine = fastserpent.loads_call(data)
    except fastserpent.Unsupported:
        return
    assert same(mine, serpent.loads(data))


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=8),
    st.text(max_size=8),
    st.lists(scalars, max_size=5).map(tuple) | st.lists(scalars, max_size=3),
    st.none() | st.dictionaries(st.text(max_size=4), scalars, max_size=2),
)
def test_dumps_call_is_byte_identical_to_serpent(obj: str, method: str, vargs: Any, kwargs: Any) -> None:
    expected = serpent_dumps((obj, method, vargs, kwargs))
    try:
        mine = fastserpent.dumps_call(obj, method, vargs, kwargs)
    except fastserpent.Unsupported:
        return
    assert mine == expected
    assert get_serializer("serpent").dumpsCall(obj, method, vargs, kwargs) == expected


@pytest.mark.parametrize(
    "arguments",
    ["1,2", "0,0", "7,", "1,2,", "123456789,987654321", "0,10,200", "1,2,3,4,5,6,7,8,9,10"],
)
def test_calls_with_whole_numbers_read_as_serpent_reads_them(arguments: str) -> None:
    data = (H + f"('o','m',({arguments}),{{}})").encode("utf-8")
    call = fastserpent.scalar_call(data)
    assert call is not None
    assert same(call, serpent.loads(data))
    assert all(type(value) is int for value in call[2])


@pytest.mark.parametrize(
    "arguments",
    ["1", "01,2", "1,,2", "-1,2", "1,2.5", "1_0,2", "\u0661,2", ",", "1,2,,", "00", "1,01", "9" * 4001 + ","],
)
def test_numbers_the_shortcut_does_not_take_are_read_as_serpent_reads_them_or_refused(arguments: str) -> None:
    _agrees_with_serpent_or_refuses(fastserpent.loads_call, f"('o','m',({arguments}),{{}})")
    data = (H + f"('o','m',({arguments}),{{}})").encode("utf-8")
    try:
        call = fastserpent.scalar_call(data)
    except fastserpent.Unsupported:
        return
    assert call is None or same(call, serpent.loads(data))


@pytest.mark.parametrize(
    "text", ["'a\x00b'", "['a\x00']", "{'k\x00':1}", "('o\x00','m',(1,2),{})", "('o','m',('\x00',),{})"]
)
def test_nul_bytes_are_never_read_by_the_fast_path(text: str) -> None:
    data = (H + text).encode("utf-8")
    with pytest.raises(fastserpent.Unsupported):
        fastserpent.loads(data)
    assert fastserpent.scalar_call(data) is None
    with pytest.raises(SerializeError, match="NUL"):
        get_serializer("serpent").loads(data)
    with pytest.raises(SerializeError, match="NUL"):
        get_serializer("serpent").loadsCall(data)
