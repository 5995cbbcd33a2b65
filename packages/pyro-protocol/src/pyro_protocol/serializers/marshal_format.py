"""marshal (id 3): CPython's marshal, with a check of received data before marshal reads it."""

from __future__ import annotations

import array
import datetime
import decimal
import marshal
import struct
import uuid
from typing import Any, Optional

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
# fixed size to skip; the negative ones are the kinds below; anything else is refused.
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
    """Refuse marshal data that would make ``marshal.loads`` allocate far more than it holds.

    marshal trusts the element counts of tuples, lists and sets (and digit counts of
    ints) and allocates them before reading the elements: 5 bytes could ask for 16 GB.
    Every element needs at least one byte, so a count larger than the bytes left is a
    lie. Code objects and other exotic types are refused: Pyro never sends them.
    """
    size = len(data)
    pos = 0
    left = 1  # objects still to read in the innermost open container; -1: a dict, until its NULL
    outer: list[int] = []  # the same for the containers around it
    actions = _M_ACTION
    while True:
        if not left:
            if not outer:
                return
            left = outer.pop()
            continue
        if pos >= size:
            raise SerializeError("marshal: data too short")
        code = data[pos] & 0x7F
        action = actions[code]
        pos += 1
        if action >= 0:
            pos += action
            if left > 0:
                left -= 1
            continue
        if action == _M_NULL:  # ends a dict
            if left != -1:
                raise SerializeError("marshal: unexpected NULL in data")
            left = outer.pop()  # (a dict's '{' put its parent's count there)
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
                outer.append(left)
                left = count
            else:
                pos += count
        elif action == _M_LEN1:
            pos += 1 + (data[pos] if pos < size else 0)
        elif action == _M_SMALL_TUPLE:
            outer.append(left)
            left = data[pos] if pos < size else 0
            pos += 1
        elif action == _M_DICT:
            outer.append(left)
            left = -1
        elif action == _M_COMPLEX:
            for _ in range(2):
                pos += 1 + (data[pos] if pos < size else 0)
        else:
            raise SerializeError(f"marshal: type code {chr(code)!r} is not accepted")


class MarshalSerializer(SerializerBase):
    """CPython's marshal: fast, only builtin types; others travel as class dicts."""

    reads_buffers = True

    serializer_id = 3
    name = "marshal"

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
