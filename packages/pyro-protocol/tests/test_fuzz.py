"""Fuzzing the decoder and every deserializer with hypothesis.

Bounded in the normal test run; set PYRO_FUZZ_EXAMPLES (e.g. 200000) to fuzz longer:
    PYRO_FUZZ_EXAMPLES=200000 hatch test packages/pyro-protocol/tests/test_fuzz.py
Whatever the bytes, the only errors allowed are the protocol's own.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyro_protocol import serializers
from pyro_protocol.decoder import MessageDecoder
from pyro_protocol.errors import ProtocolError, SecurityError, SerializeError

EXAMPLES = int(os.environ.get("PYRO_FUZZ_EXAMPLES", "300"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
NAMES = ["serpent", "json", "marshal", "msgpack"]

#: inputs that look a bit like real payloads find more than pure noise
_prefixes = st.sampled_from([b"", b"# serpent utf-8 python3.2\n", b"{", b"[", b"(", b"\x94", b"\x93", b"\xa4", b")"])


@pytest.mark.parametrize("name", NAMES)
@FUZZ
@given(prefix=_prefixes, data=st.binary(max_size=400))
def test_deserializers_only_raise_their_own_errors(name, prefix, data):
    serializer = serializers.get_serializer(name)
    for load in (serializer.loads, serializer.loadsCall):
        try:
            load(prefix + data)
        except (SerializeError, SecurityError):
            pass


@pytest.mark.parametrize("name", NAMES)
@FUZZ
@given(
    value=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.floats(allow_nan=False),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
        max_leaves=20,
    ),
    position=st.integers(min_value=0, max_value=10_000),
    byte=st.integers(min_value=0, max_value=255),
)
def test_mutated_payloads(name, value, position, byte):
    serializer = serializers.get_serializer(name)
    data = bytearray(serializer.dumpsCall("obj", "method", (value,), {"k": value}))
    data[position % len(data)] = byte
    try:
        serializer.loadsCall(bytes(data))
    except (SerializeError, SecurityError):
        pass


@FUZZ
@given(chunks=st.lists(st.binary(min_size=1, max_size=64), max_size=20))
def test_decoder_only_raises_protocol_errors(chunks):
    decoder = MessageDecoder(max_message_size=4096)
    try:
        for chunk in chunks:
            decoder.feed(b"PYRO\x00\x30" + chunk if len(chunk) % 3 == 0 else chunk)
    except (ProtocolError, SecurityError):
        pass


@pytest.mark.parametrize(
    "bomb",
    [b"(\x8cBw1\xef", b"[\xff\xff\xff\x7f", b"<\x00\x00\x00\x40N", b"l\xff\xff\xff\x7f", b"u\xff\xff\xff\x7f"],
    ids=["tuple", "list", "set", "long", "str"],
)
def test_marshal_count_bombs_are_refused_before_allocating(bomb):
    import tracemalloc

    tracemalloc.start()
    try:
        with pytest.raises(SerializeError, match="does not fit"):
            serializers.get_serializer("marshal").loads(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024


def test_marshal_code_objects_are_refused():
    import marshal

    code = marshal.dumps(compile("1 + 1", "<x>", "eval"))
    with pytest.raises(SerializeError, match="not accepted"):
        serializers.get_serializer("marshal").loads(code)


#: A tuple (flagged for the reference table) holding a dict whose key is a reference to that very
#: tuple, while it is half built: marshal.loads hashes a tuple with empty slots and crashes.
_HALF_BUILT_KEY = b"\xa9\x02{r\x00\x00\x00\x00N0N"


def test_marshal_data_that_crashes_the_interpreter_is_refused():
    import subprocess
    import sys

    crashed = subprocess.run([sys.executable, "-c", f"import marshal; marshal.loads({_HALF_BUILT_KEY!r})"], check=False)
    assert crashed.returncode < 0  # (a signal: what a daemon would suffer without the check)
    marshal_serializer = serializers.get_serializer("marshal")
    for load in (marshal_serializer.loads, marshal_serializer.loadsCall):
        with pytest.raises(SerializeError, match="not .yet. complete"):
            load(_HALF_BUILT_KEY)
    # a None flagged for the table takes no index: the reference still points at the tuple
    with pytest.raises(SerializeError, match="not .yet. complete"):
        marshal_serializer.loads(b"\xa9\x03\xce{r\x00\x00\x00\x00N0N")


def test_marshal_shared_references_to_complete_objects_are_accepted():
    import marshal

    shared = "a string held twice"
    data = marshal.dumps(([shared, shared], {"key": shared}))
    assert b"r" in data  # (the second use is a reference)
    assert serializers.get_serializer("marshal").loads(data) == ([shared, shared], {"key": shared})
