"""serpent (id 1), the default: Python literal expressions, through :mod:`pyro_protocol.fastserpent` first."""

from __future__ import annotations

from typing import Any, Optional

import serpent  # type: ignore[import-untyped]

from .. import fastserpent
from ..errors import SerializeError
from .base import CallTuple, SerializerBase
from .classes import recreate_classes

__all__ = ["SerpentSerializer"]


class SerpentSerializer(SerializerBase):
    """The default: Python literal expressions. Bytes arrive as a ``{'data','encoding'}`` dict.

    Common values go through :mod:`fastserpent` (byte-identical to serpent 1.43);
    everything else, and anything the fast path is unsure of, through serpent itself.
    """

    serializer_id = 1
    name = "serpent"

    def _dumps(self, data: Any) -> bytes:
        try:
            return fastserpent.dumps(data)
        except Exception:  # Unsupported, or an error serpent will report in its own words
            return serpent.dumps(data, module_in_classname=True)  # type: ignore[no-any-return]

    def _serpent_loads(self, data: bytes) -> Any:
        if b"\x00" in data:
            raise SerializeError("serpent: data contains NUL bytes")
        try:
            return fastserpent.loads(data)
        except Exception:  # Unsupported, or an error serpent will report in its own words
            return serpent.loads(data)

    def _loads(self, data: bytes) -> Any:
        return recreate_classes(self._serpent_loads(data))

    def _dumps_call(self, obj: str, method: str, vargs: Any, kwargs: Optional[dict[str, Any]]) -> bytes:
        try:
            return fastserpent.dumps_call(obj, method, vargs, kwargs)
        except Exception:  # Unsupported, or an error serpent will report in its own words
            return serpent.dumps((obj, method, vargs, kwargs), module_in_classname=True)  # type: ignore[no-any-return]

    def _loads_call(self, data: bytes) -> CallTuple:
        if b"\x00" in data:
            raise SerializeError("serpent: data contains NUL bytes")
        try:
            plain = fastserpent.plain_call(data)
            if plain is not None:
                return plain  # scalars only: no class dicts to turn into objects
            call = fastserpent.loads(data)
        except Exception:  # Unsupported, or an error serpent will report in its own words
            call = serpent.loads(data)
        obj, method, vargs, kwargs = call
        return obj, method, recreate_classes(vargs), recreate_classes(kwargs)
