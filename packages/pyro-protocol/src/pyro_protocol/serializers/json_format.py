"""json (id 2): UTF-8 JSON through the standard library or the module config.JSON_MODULE names."""

from __future__ import annotations

import array
import datetime
import decimal
import functools
import importlib
import json
import uuid
from typing import Any, Callable, Optional

from ..config import config
from ..errors import SerializeError
from .base import CallTuple, SerializerBase
from .classes import class_to_dict, recreate_classes

__all__ = ["JsonSerializer"]


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    if isinstance(obj, uuid.UUID) or isinstance(obj, decimal.Decimal):
        return str(obj)
    if isinstance(obj, (datetime.datetime, datetime.date)):
        return obj.isoformat()
    if isinstance(obj, array.array):
        return obj.tounicode() if obj.typecode == "u" else obj.tolist()
    if isinstance(obj, (bytes, bytearray, memoryview)):
        raise SerializeError("json cannot serialize bytes; use serpent, marshal or msgpack for binary data")
    return class_to_dict(obj)


#: json.dumps(..., ensure_ascii=False, default=_json_default) builds an encoder per call; one does.
_json_encode = json.JSONEncoder(ensure_ascii=False, default=_json_default).encode


def _json_functions(module_name: str) -> tuple[Callable[[Any], str], Callable[[str], Any]]:
    """(encode, decode) of the JSON_MODULE: the standard library's, or a module with its
    ``dumps(obj, ensure_ascii=, default=)`` and ``loads(text)`` (simplejson, for one)."""
    if module_name == "json":
        return _json_encode, json.loads
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SerializeError(
            f"config item JSON_MODULE names {module_name!r}, which cannot be imported ({exc}); "
            "install it, or set JSON_MODULE (PYRO_JSON_MODULE) to 'json'"
        ) from None
    dumps, loads = getattr(module, "dumps", None), getattr(module, "loads", None)
    if not callable(dumps) or not callable(loads):
        raise SerializeError(f"JSON_MODULE {module_name!r} has no dumps and loads functions like json's")
    return functools.partial(dumps, ensure_ascii=False, default=_json_default), loads


class JsonSerializer(SerializerBase):
    """JSON, UTF-8. Tuples and sets arrive as lists; bytes cannot be sent.

    The JSON module is config.JSON_MODULE as it is when the serializer is made (for
    :func:`get_serializer`: the process's first json message); SerializeError if it
    cannot be imported.
    """

    serializer_id = 2
    name = "json"

    def __init__(self) -> None:
        self._encode, self._decode = _json_functions(str(config.JSON_MODULE))

    def _dumps(self, data: Any) -> bytes:
        return self._encode(data).encode("utf-8")

    def _loads(self, data: bytes) -> Any:
        return recreate_classes(self._decode(data.decode("utf-8")))

    def _dumps_call(self, obj: str, method: str, vargs: Any, kwargs: Optional[dict[str, Any]]) -> bytes:
        call = {"object": obj, "method": method, "params": vargs, "kwargs": kwargs}
        return self._encode(call).encode("utf-8")

    def _loads_call(self, data: bytes) -> CallTuple:
        call = self._decode(data.decode("utf-8"))
        if not isinstance(call, dict):
            raise SerializeError("json: a call must be an object with keys object, method, params, kwargs")
        return call["object"], call["method"], recreate_classes(call["params"]), recreate_classes(call["kwargs"])
