"""serpent (id 1), the default: Python literal expressions, through :mod:`pyro_protocol.fastserpent` first."""

from __future__ import annotations

from typing import Any, Optional

import serpent  # type: ignore[import-untyped]

from .. import fastserpent
from ..errors import SerializeError
from .base import SCALAR_TYPES, CallTuple, SerializerBase, translate_error
from .classes import recreate_classes

__all__ = ["SerpentSerializer"]


class SerpentSerializer(SerializerBase):
    """The default: Python literal expressions. Bytes arrive as a ``{'data','encoding'}`` dict.

    Common values go through :mod:`fastserpent` (byte-identical to serpent 1.43);
    everything else, and anything the fast path is unsure of, through serpent itself.
    """

    serializer_id = 1
    name = "serpent"

    # The four operations try fastserpent directly; what it does not take goes the general way
    # (SerializerBase's methods and the hooks below), which ends in serpent itself.

    def dumps(self, data: Any) -> bytes:
        try:
            return fastserpent.dumps(data)
        except Exception:  # Unsupported, or an error serpent will report in its own words
            return SerializerBase.dumps(self, data)

    def loads(self, data: bytes) -> Any:
        try:
            value = fastserpent.loads(data)
        except Exception:  # Unsupported (a buffer too: serpent reads bytes), or an error serpent reports
            return SerializerBase.loads(self, data)
        if type(value) in SCALAR_TYPES:
            return value
        try:
            return recreate_classes(value)
        except Exception as exc:
            raise translate_error(exc, self.name, "loads")

    def dumpsCall(self, obj: str, method: str, vargs: Any, kwargs: Optional[dict[str, Any]]) -> bytes:  # noqa: N802
        try:
            return fastserpent.dumps_call(obj, method, vargs, kwargs)
        except Exception:  # Unsupported, or an error serpent will report in its own words
            return SerializerBase.dumpsCall(self, obj, method, vargs, kwargs)

    def loadsCall(self, data: bytes) -> CallTuple:  # noqa: N802
        try:
            call = fastserpent.scalar_call(data)  # (scalars only: no class dicts to turn into objects)
        except Exception:  # Unsupported: the general way decides
            call = None
        return SerializerBase.loadsCall(self, data) if call is None else call

    # -- the general way ------------------------------------------------------------------

    def _dumps(self, data: Any) -> bytes:
        try:
            return fastserpent.dumps(data)
        except Exception:  # Unsupported, or an error serpent will report in its own words
            return serpent.dumps(data, module_in_classname=True)  # type: ignore[no-any-return]

    def _serpent_loads(self, data: bytes) -> Any:
        try:
            return fastserpent.loads(data)  # (which never reads a NUL byte)
        except Exception:  # Unsupported, or an error serpent will report in its own words
            pass
        if b"\x00" in data:
            raise SerializeError("serpent: data contains NUL bytes")
        return serpent.loads(data)

    def _loads(self, data: bytes) -> Any:
        return recreate_classes(self._serpent_loads(data))

    def _dumps_call(self, obj: str, method: str, vargs: Any, kwargs: Optional[dict[str, Any]]) -> bytes:
        try:
            return fastserpent.dumps_call(obj, method, vargs, kwargs)
        except Exception:  # Unsupported, or an error serpent will report in its own words
            return serpent.dumps((obj, method, vargs, kwargs), module_in_classname=True)  # type: ignore[no-any-return]

    def _loads_call(self, data: bytes) -> CallTuple:
        try:
            call = fastserpent.scalar_call(data)
        except Exception:  # Unsupported: the general parser decides
            call = None
        if call is not None:
            return call
        obj, method, vargs, kwargs = self._serpent_loads(data)
        return obj, method, recreate_classes(vargs), recreate_classes(kwargs)
