"""msgpack (id 6, the optional ``msgpack`` package) with Pyro4's ext types."""

from __future__ import annotations

import array
import datetime
import decimal
import numbers
import struct
import uuid
from typing import Any, Optional

from ..errors import SerializeError
from .base import CALL_PARTS_MIN, CallTuple, SerializerBase, _require, checked_call, translate_error
from .classes import class_to_dict, dict_to_class

__all__ = ["MsgpackSerializer"]

_MSGPACK_COMPLEX, _MSGPACK_BIGINT, _MSGPACK_DATETIME, _MSGPACK_DATE = 0x30, 0x31, 0x32, 0x33
#: A Packer goes back to the pool only after output up to its buffer's first size (msgpack's 256 KiB):
#: one that grew for a larger value would keep that memory.
_KEEP_PACKER_SIZE = 256 * 1024
#: msgpack's bin 8, 16 and 32: a bytes object's type byte, its size in that many big-endian bytes.
_BIN_FORMS = ((0x100, b"\xc4", 1), (0x10000, b"\xc5", 2), (0x100000000, b"\xc6", 4))


class MsgpackSerializer(SerializerBase):
    """msgpack with Pyro4's ext types: complex 0x30, big int 0x31, datetime 0x32, date 0x33."""

    reads_buffers = True

    serializer_id = 6
    name = "msgpack"

    def __init__(self) -> None:
        self.msgpack = _require("msgpack")
        self._unpackb = self.msgpack.unpackb
        #: idle Packers (msgpack.packb makes one per call, the most of its cost): a thread takes one
        #: with list.pop and puts it back with append, both atomic, so none is used by two at once.
        self._packers: list[Any] = []

    def _pack(self, data: Any) -> bytes:
        """msgpack.packb(data, use_bin_type=True, default=self._default), with a Packer from the pool."""
        packers = self._packers
        try:
            packer = packers.pop()
        except IndexError:
            packer = self.msgpack.Packer(use_bin_type=True, default=self._default)
        packed: bytes = packer.pack(data)  # (on an error the Packer is dropped)
        if len(packed) <= _KEEP_PACKER_SIZE:
            packers.append(packer)
        return packed

    # The four operations without the general methods' extra calls (the same results).

    def dumps(self, data: Any) -> bytes:
        try:
            return self._pack(data)
        except Exception as exc:
            raise translate_error(exc, self.name, "dumps", data)

    def loads(self, data: bytes) -> Any:
        try:
            return self._unpackb(
                data, raw=False, strict_map_key=False, ext_hook=self._ext_hook, object_hook=self._object_hook
            )
        except Exception as exc:
            raise translate_error(exc, self.name, "loads")

    def dumpsCall(self, obj: str, method: str, vargs: Any, kwargs: Optional[dict[str, Any]]) -> bytes:  # noqa: N802
        try:
            return self._pack((obj, method, vargs, kwargs))
        except Exception as exc:
            raise translate_error(exc, self.name, "dumpsCall")

    def loadsCall(self, data: bytes) -> CallTuple:  # noqa: N802
        try:
            obj, method, vargs, kwargs = self._unpackb(
                data, raw=False, strict_map_key=False, ext_hook=self._ext_hook, object_hook=self._object_hook
            )
        except Exception as exc:
            raise translate_error(exc, self.name, "loadsCall")
        if (
            type(obj) is str
            and type(method) is str
            and type(vargs) is list
            and (kwargs is None or type(kwargs) is dict)
        ):
            return obj, method, vargs, kwargs
        return checked_call(self.name, obj, method, vargs, kwargs)

    def _default(self, obj: Any) -> Any:
        msgpack = self.msgpack
        if isinstance(obj, (set, frozenset)):
            return tuple(obj)
        if isinstance(obj, complex):
            return msgpack.ExtType(_MSGPACK_COMPLEX, struct.pack("dd", obj.real, obj.imag))
        if isinstance(obj, datetime.datetime):
            if obj.tzinfo:
                raise SerializeError("msgpack cannot serialize datetime with timezone info")
            return msgpack.ExtType(_MSGPACK_DATETIME, struct.pack("d", obj.timestamp()))
        if isinstance(obj, datetime.date):
            return msgpack.ExtType(_MSGPACK_DATE, struct.pack("l", obj.toordinal()))
        if isinstance(obj, decimal.Decimal) or isinstance(obj, uuid.UUID):
            return str(obj)
        if isinstance(obj, int):
            return msgpack.ExtType(_MSGPACK_BIGINT, str(obj).encode("ascii"))
        if isinstance(obj, numbers.Number):
            return msgpack.ExtType(_MSGPACK_BIGINT, str(obj).encode("ascii"))
        if isinstance(obj, array.array):
            return obj.tounicode() if obj.typecode == "u" else obj.tolist()
        return class_to_dict(obj)

    def _ext_hook(self, code: int, data: bytes) -> Any:
        if code == _MSGPACK_COMPLEX:
            real, imag = struct.unpack("dd", data)
            return complex(real, imag)
        if code == _MSGPACK_BIGINT:
            return int(data)
        if code == _MSGPACK_DATETIME:
            return datetime.datetime.fromtimestamp(struct.unpack("d", data)[0])
        if code == _MSGPACK_DATE:
            return datetime.date.fromordinal(struct.unpack("l", data)[0])
        raise SerializeError(f"invalid ext code for msgpack: {code}")

    @staticmethod
    def _object_hook(data: dict[str, Any]) -> Any:
        return dict_to_class(data) if "__class__" in data else data

    # (what the general methods call, for subclasses: the same)
    _dumps = _pack

    def _loads(self, data: bytes) -> Any:
        return self._unpackb(
            data, raw=False, strict_map_key=False, ext_hook=self._ext_hook, object_hook=self._object_hook
        )

    def bytes_prefix(self, value: bytes) -> Optional[bytes]:
        if type(value) is bytes:
            for limit, code, size_length in _BIN_FORMS:
                if len(value) < limit:
                    return code + len(value).to_bytes(size_length, "big")
        return None

    call_parts_min = CALL_PARTS_MIN

    def call_parts(
        self, obj: str, method: str, vargs: Any, kwargs: Optional[dict[str, Any]]
    ) -> Optional[tuple[bytes, bytes, bytes]]:
        # bin 32 (the form from 64 KiB on, so of the stand-in too): 0xc6 and a 4-byte big-endian size
        if type(self) is not MsgpackSerializer:
            return None
        return self._split_call(obj, method, vargs, kwargs, b"\xc6", ">I", 2**32)
