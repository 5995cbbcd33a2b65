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
from .base import SerializerBase, _require
from .classes import class_to_dict, dict_to_class

__all__ = ["MsgpackSerializer"]

_MSGPACK_COMPLEX, _MSGPACK_BIGINT, _MSGPACK_DATETIME, _MSGPACK_DATE = 0x30, 0x31, 0x32, 0x33


class MsgpackSerializer(SerializerBase):
    """msgpack with Pyro4's ext types: complex 0x30, big int 0x31, datetime 0x32, date 0x33."""

    reads_buffers = True

    serializer_id = 6
    name = "msgpack"

    def __init__(self) -> None:
        self.msgpack = _require("msgpack")

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

    def _dumps(self, data: Any) -> bytes:
        return self.msgpack.packb(data, use_bin_type=True, default=self._default)  # type: ignore[no-any-return]

    def _loads(self, data: bytes) -> Any:
        return self.msgpack.unpackb(
            data, raw=False, strict_map_key=False, ext_hook=self._ext_hook, object_hook=self._object_hook
        )

    def bytes_prefix(self, value: bytes) -> Optional[bytes]:
        # bin 32: 0xc6 and a 4-byte big-endian size (msgpack's form for 64 KiB up to 4 GiB)
        if type(value) is bytes and 65536 <= len(value) < 2**32:
            return b"\xc6" + struct.pack(">I", len(value))
        return None
