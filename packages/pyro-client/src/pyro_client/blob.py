"""SerializedBlob: call data that stays serialized on its way through gateways (Pyro4.core.SerializedBlob).

A client passes ``SerializedBlob(info, data)`` as the only argument of a call. The
call is serialized as usual with ``data`` as its positional arguments, flagged
FLAGS_KEEPSERIALIZED, and carries a ``BLBI`` annotation: the marshal dump of
``(info, object id, method name)``. The daemon dispatches it from that
annotation without deserializing the payload, and hands the method a blob that
wraps the received message. A dispatcher can pass that blob on through its own
proxy (the payload goes out as it came in); only the code that wants the data
calls :meth:`SerializedBlob.deserialized`, so only it needs the data's classes.
"""

from __future__ import annotations

import marshal
from typing import Any, Optional

from pyro_protocol import serializers
from pyro_protocol.errors import SerializeError

__all__ = ["SerializedBlob"]


class SerializedBlob:
    """``info``: small marshallable data about the blob (a name, an id, a topic);
    ``data``: what the call would otherwise have had as its positional arguments.
    ``is_blob=True`` (made by the daemon): ``data`` is the received message.
    """

    def __init__(self, info: Any, data: Any, is_blob: bool = False) -> None:
        self.info = info
        self._data = data
        self._contains_blob = is_blob

    def deserialized(self) -> Any:
        """The data: as given, or read from the received message (anew on every call)."""
        if not self._contains_blob:
            return self._data
        message = self._data
        call = serializers.get_serializer_by_id(message.serializer_id).loads(message.data)
        # (the whole call is read, as Pyro4 does: its args need not be a sequence, which loadsCall insists on)
        if isinstance(call, dict):  # json's form of a call
            return call.get("params")
        try:
            return call[2]
        except (TypeError, IndexError, KeyError):
            raise SerializeError("the payload of a serialized blob is not a call") from None

    def __repr__(self) -> str:
        return f"<SerializedBlob info={self.info!r}{' (received)' if self._contains_blob else ''}>"


def blob_call(
    serializer: serializers.SerializerBase,
    object_id: str,
    method: str,
    vargs: Any,
    kwargs: Optional[dict[str, Any]],
) -> tuple[serializers.SerializerBase, Any, bytes]:
    """What a call whose first argument is a SerializedBlob sends: (serializer, payload, BLBI annotation)."""
    if len(vargs) > 1 or kwargs:
        raise SerializeError("if SerializedBlob is used, it must be the only argument")
    blob = vargs[0]
    try:
        info = marshal.dumps((blob.info, object_id, method))
    except ValueError as exc:
        raise SerializeError(f"the info of a SerializedBlob must be marshallable: {exc}") from None
    if blob._contains_blob:  # passed on: the payload as it came in, so in the serializer it was made with
        message = blob._data
        return serializers.get_serializer_by_id(message.serializer_id), message.data, info
    return serializer, serializer.dumpsCall(object_id, method, blob._data, {}), info
