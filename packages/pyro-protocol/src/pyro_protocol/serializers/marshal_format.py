"""marshal (id 3): CPython's marshal, with a check of received data before marshal reads it."""

from __future__ import annotations

import array
import datetime
import decimal
import marshal
import re
import struct
import uuid
from typing import Any, Optional, Union

from ..errors import SerializeError
from .base import CALL_PARTS_MIN, CallTuple, SerializerBase
from .classes import class_to_dict, recreate_classes

__all__ = ["MarshalSerializer", "check_marshal"]

#: marshal's type code for a bytes object that is referenced elsewhere too (as any call's result is)
_MARSHAL_PROBE = b"a bytes object referenced twice"
_MARSHAL_BYTES_TYPE = marshal.dumps(_MARSHAL_PROBE)[:1]
_MARSHAL_BYTES_CODES = bytes((ord("s"), ord("s") | 0x80))
_MARSHAL_ATOMS = (type(None), bool, int, float, complex, str, bytes, bytearray)
_MARSHAL_NATIVE = frozenset(_MARSHAL_ATOMS + (list, tuple, dict, set, frozenset))


def _marshallable(value: Any) -> Any:
    """Convert what marshal cannot carry (at any depth) into its Pyro dict form."""
    kind = type(value)
    if kind in _MARSHAL_ATOMS:
        return value
    if kind is list:
        return [_marshallable(item) for item in value]
    if kind is tuple:
        return tuple(_marshallable(item) for item in value)
    if kind is dict:
        return {key: _marshallable(item) for key, item in value.items()}
    if kind in (set, frozenset):
        return kind(_marshallable(item) for item in value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, array.array):
        return value.tounicode() if value.typecode == "u" else value.tolist()
    if kind is memoryview:
        return value.tobytes()
    if kind in (datetime.datetime, datetime.date, datetime.time, datetime.timedelta, decimal.Decimal):
        raise SerializeError(f"marshal cannot serialize {kind.__name__}")
    return _marshallable(class_to_dict(value))


# What check_marshal does after each type code (flag bit 0x80 masked off): a number >= 0 is a
# fixed size to skip; the negative ones are the kinds below; anything else is refused. (A
# reference, "r" and a 4-byte index, is of fixed size too; check_marshal looks at its index.)
_M_LEN4, _M_COUNT4, _M_LONG, _M_LEN1, _M_SMALL_TUPLE, _M_DICT, _M_COMPLEX, _M_NULL, _M_REFUSED = range(-1, -10, -1)
_M_SIZED = frozenset({_M_LEN4, _M_COUNT4, _M_LONG})  # a 4-byte size follows the type code
_M_ACTION = [_M_REFUSED] * 128
for _code, _action in {
    **{code: size for code, size in zip(b"NFTirIgy", (0, 0, 0, 4, 4, 8, 8, 16))},
    **dict.fromkeys(b"stuaA", _M_LEN4),  # 4-byte length, then that many bytes
    **dict.fromkeys(b"([<>", _M_COUNT4),  # 4-byte element count, then the elements
    **dict.fromkeys(b"zZf", _M_LEN1),  # 1-byte length, then that many bytes
    ord("l"): _M_LONG,  # a 4-byte digit count (signed), then 2 bytes a digit
    ord(")"): _M_SMALL_TUPLE,  # 1-byte element count
    ord("{"): _M_DICT,  # key, value pairs until a NULL
    ord("x"): _M_COMPLEX,  # two short float strings
    ord("0"): _M_NULL,
}.items():
    _M_ACTION[_code] = _action
del _code, _action


def check_marshal(data: bytes) -> None:
    """Refuse marshal data that would make ``marshal.loads`` allocate far more than it holds,
    or crash.

    marshal trusts the element counts of tuples, lists and sets (and digit counts of
    ints) and allocates them before reading the elements: 5 bytes could ask for 16 GB.
    Every element needs at least one byte, so a count larger than the bytes left is a
    lie. A reference (``r``) may only name an object that is complete: one to a container
    still being read hands out a half-built object (a tuple with empty slots), and hashing
    that as a dict key or set element crashes the interpreter. Code objects and other
    exotic types are refused: Pyro never sends them.
    """
    size = len(data)
    pos = 0
    left = 1  # objects still to read in the innermost open container; -1: a dict, until its NULL
    outer: list[int] = []  # the same for the containers around it
    refs: list[bool] = []  # marshal's reference table: whether each object is complete
    open_refs: list[int] = []  # the reference index of each open container (-1: none)
    actions = _M_ACTION
    while True:
        if not left:
            if not outer:
                return
            left = outer.pop()
            _close(refs, open_refs)
            continue
        if pos >= size:
            raise SerializeError("marshal: data too short")
        flagged = data[pos] & 0x80
        code = data[pos] & 0x7F
        action = actions[code]
        pos += 1
        if code == _M_REF:
            index = int.from_bytes(data[pos : pos + 4], "little")
            if index >= len(refs) or not refs[index]:
                raise SerializeError("marshal: a reference to an object that is not (yet) complete")
        if action >= 0:
            pos += action
            if left > 0:
                left -= 1
            if code not in _M_NO_REF:  # (None, False, True and a reference never take an index)
                _complete(refs, flagged)
            continue
        if action == _M_NULL:  # ends a dict
            if left != -1:
                raise SerializeError("marshal: unexpected NULL in data")
            left = outer.pop()  # (a dict's '{' put its parent's count there)
            _close(refs, open_refs)
            continue
        if left > 0:
            left -= 1
        if action in _M_SIZED:
            count = int.from_bytes(data[pos : pos + 4], "little", signed=True)
            pos += 4
            if action == _M_LONG:
                count = abs(count) * 2
            if count < 0 or count > size - pos:
                raise SerializeError(f"marshal: a size of {count} does not fit in {size - pos} remaining bytes")
            if action == _M_COUNT4:
                left = _open(outer, left, refs, open_refs, flagged, count)
            else:
                pos += count
                _complete(refs, flagged)
        elif action == _M_LEN1:
            pos += 1 + (data[pos] if pos < size else 0)
            _complete(refs, flagged)
        elif action == _M_SMALL_TUPLE:
            left = _open(outer, left, refs, open_refs, flagged, data[pos] if pos < size else 0)
            pos += 1
        elif action == _M_DICT:
            left = _open(outer, left, refs, open_refs, flagged, -1)
        elif action == _M_COMPLEX:
            for _ in range(2):
                pos += 1 + (data[pos] if pos < size else 0)
            _complete(refs, flagged)
        else:
            raise SerializeError(f"marshal: type code {chr(code)!r} is not accepted")


_M_REF = ord("r")
_M_NO_REF = frozenset(b"NFTr")


def _complete(refs: list[bool], flagged: int) -> None:
    """A scalar was read: with the flag, it takes the next reference index, complete."""
    if flagged:
        refs.append(True)


def _open(outer: list[int], left: int, refs: list[bool], open_refs: list[int], flagged: int, count: int) -> int:
    """A container starts (its reference index is taken now, as marshal does): its element count."""
    outer.append(left)
    open_refs.append(len(refs) if flagged else -1)
    if flagged:
        refs.append(False)
    return count


def _close(refs: list[bool], open_refs: list[int]) -> None:
    """The innermost open container is complete."""
    index = open_refs.pop()
    if index >= 0:
        refs[index] = True


# -- the quick check: the common call, recognised by one regular expression -----------------------


def _scalar_call_pattern() -> re.Pattern[bytes]:
    """The marshal form of a call whose object id and method name are short strings, whose positional
    arguments (fewer than 256) are fixed-size scalars or short strings and whose keyword arguments
    are None or an empty dict. Such data holds every byte its sizes announce, so marshal.loads
    allocates nothing it has not read, and it holds no reference and no type check_marshal refuses:
    the full check would pass it. (One expression, matched in C: this runs for every call.)"""

    def flagged(codes: bytes) -> bytes:  # a type code byte, with or without marshal's reference flag
        return b"[" + re.escape(bytes(c | flag for c in codes for flag in (0, 0x80))) + b"]"

    # a short string: its type code, a 1-byte length and that many bytes
    short_text = flagged(b"zZ") + b"(?:" + b"|".join(re.escape(bytes([n])) + b".{%d}" % n for n in range(256)) + b")"
    scalar = b"|".join([flagged(b"NFT"), flagged(b"i") + b".{4}", flagged(b"g") + b".{8}", flagged(b"y") + b".{16}"])
    return re.compile(
        flagged(b")")
        + b"\x04"  # a tuple of 4: object id, method name,
        + short_text * 2
        + flagged(b"[")
        + b".\x00\x00\x00"  # the arguments' list (its count below 256),
        + b"(?:"
        + scalar
        + b"|"
        + short_text
        + b")*(?:N|"  # the keyword arguments: None or an empty dict
        + flagged(b"{")
        + b"0)",
        re.DOTALL,
    )


_is_scalar_call = _scalar_call_pattern().fullmatch

#: Type codes (with and without the 0x80 flag) of a single scalar: marshal reads it without allocating
#: anything it has not read first (None, False, True, int, binary float and complex, and strings).
_SCALAR_CODES = frozenset(bytes(c | flag for c in b"NFTigyzZaAut" for flag in (0, 0x80)))


class MarshalSerializer(SerializerBase):
    """CPython's marshal: fast, only builtin types; others travel as class dicts."""

    reads_buffers = True

    serializer_id = 3
    name = "marshal"

    # The common values directly; the general methods (with check_marshal) for everything else.
    # The results are the same: tests/test_serializer_fast_paths.py holds them to it.

    def dumps(self, data: Any) -> bytes:
        if type(data) in _MARSHAL_NATIVE:
            try:
                return marshal.dumps(data)
            except Exception:
                pass  # something inside needs converting: the general path does it
        return SerializerBase.dumps(self, data)

    def loads(self, data: bytes) -> Any:
        try:
            if data[0] in _SCALAR_CODES:  # (marshal reads only this one scalar, whatever follows)
                return marshal.loads(data)
        except Exception:
            pass  # the general path says what is wrong
        return SerializerBase.loads(self, data)

    def call_payload(
        self, obj: str, method: str, vargs: Any, kwargs: Optional[dict[str, Any]]
    ) -> Union[bytes, tuple[bytes, bytes, bytes]]:
        if type(vargs) is tuple and not kwargs:
            for value in vargs:
                kind = type(value)
                if kind not in _MARSHAL_NATIVE or (kind is bytes and len(value) >= CALL_PARTS_MIN):
                    break  # (a large bytes argument: call_parts sends it without a copy)
            else:
                args = list(vargs)
                call = (obj, method, args, kwargs)  # (held by names, as in _dumps_call: the same ref flags)
                try:
                    return marshal.dumps(call)
                except Exception:
                    pass
        return SerializerBase.call_payload(self, obj, method, vargs, kwargs)

    def loadsCall(self, data: bytes) -> CallTuple:  # noqa: N802
        try:
            if _is_scalar_call(data):
                # marshal reads as many arguments as the list's count says, and ignores what follows:
                # the keyword arguments may then be any of the scalars (as the general path finds too)
                call: CallTuple = marshal.loads(data)
                if call[3] is None or type(call[3]) is dict:
                    return call
        except Exception:
            pass  # the general path says what is wrong
        return SerializerBase.loadsCall(self, data)

    def _dumps(self, data: Any) -> bytes:
        if type(data) not in _MARSHAL_NATIVE:
            # marshal would write array.array, memoryview and other buffers as bytes
            data = _marshallable(data)
        try:
            return marshal.dumps(data)
        except ValueError:
            return marshal.dumps(_marshallable(data))

    def _loads(self, data: bytes) -> Any:
        check_marshal(data)
        return recreate_classes(marshal.loads(data))

    def bytes_prefix(self, value: bytes) -> Optional[bytes]:
        # marshal writes a bytes object as its type code and a 4-byte little-endian size
        if type(value) is bytes and len(value) < 2**31:
            return _MARSHAL_BYTES_TYPE + struct.pack("<i", len(value))
        return None

    call_parts_min = CALL_PARTS_MIN

    def call_parts(
        self, obj: str, method: str, vargs: Any, kwargs: Optional[dict[str, Any]]
    ) -> Optional[tuple[bytes, bytes, bytes]]:
        # 's' and a 4-byte little-endian signed size (0x80 on the code: the object is in marshal's ref table)
        if type(self) is not MarshalSerializer:
            return None
        return self._split_call(obj, method, vargs, kwargs, _MARSHAL_BYTES_CODES, "<i", 2**31)

    def _dumps_call(self, obj: str, method: str, vargs: Any, kwargs: Optional[dict[str, Any]]) -> bytes:
        # like Pyro4, every top-level argument is made marshallable (array.array -> list or str, ...)
        args = [value if type(value) in _MARSHAL_NATIVE else _marshallable(value) for value in vargs]
        if kwargs:
            kwargs = {
                key: value if type(value) in _MARSHAL_NATIVE else _marshallable(value) for key, value in kwargs.items()
            }
        call = (obj, method, args, kwargs)
        try:
            return marshal.dumps(call)
        except ValueError:
            return marshal.dumps(_marshallable(call))

    def _loads_call(self, data: bytes) -> CallTuple:
        check_marshal(data)
        obj, method, vargs, kwargs = marshal.loads(data)
        return obj, method, recreate_classes(vargs), recreate_classes(kwargs)
