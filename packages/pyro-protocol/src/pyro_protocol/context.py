"""The per-thread call context: what the current call knows about itself.

On a client, set ``current_context.correlation_id`` or ``annotations`` before a
call to send them; ``response_annotations`` holds what the last reply carried.
On a server, during a call it holds the client's address, the request's seq,
flags, serializer id, annotations and correlation id; annotations put in
``response_annotations`` go back on that call's reply.

Every thread's values live in one plain object (:class:`CallState`, its
``state``): reaching a ``threading.local`` costs about as much as a function
call, so the call paths fetch the state once and then set plain attributes.
"""

from __future__ import annotations

import functools
import itertools
import random
import struct
import threading
import uuid
from typing import Any, Callable, Optional

__all__ = ["CallContext", "CallState", "current_context", "new_correlation_bytes"]

_random = random.SystemRandom()
# A correlation id is a version 4 UUID: 8 random bytes fixed per process (with the version
# nibble), then the variant bits and a 62-bit counter. Unique, cheap (no system call, no big
# random number per id), and correlation ids need not be secret.
_PREFIX = ((_random.getrandbits(64) & ~0xF000) | 0x4000).to_bytes(8, "big")
_VARIANT = 0x8000_0000_0000_0000
_ID_STRUCT = struct.Struct("!8sQ")
# The ids, made in C (no Python frame per id): the prefix, then the variant bits and the counter.
# (The counter starts below 2**32: it would take 2**62 ids to reach the variant bits.)
_ids = map(functools.partial(_ID_STRUCT.pack, _PREFIX), itertools.count(_VARIANT | _random.getrandbits(32)))

#: ``new_correlation_bytes()``: 16 bytes shaped as a version 4 UUID, a fresh correlation id.
new_correlation_bytes: Callable[[], bytes] = _ids.__next__


class CallState:
    """One thread's call context values (what :class:`CallContext` shows)."""

    __slots__ = (
        "client",
        "client_sock_addr",
        "seq",
        "msg_flags",
        "serializer_id",
        "annotations",
        "response_annotations",
        "correlation_bytes",
        "uuid_cache",
    )

    def __init__(
        self,
        client: Any = None,
        client_sock_addr: Any = None,
        seq: int = 0,
        msg_flags: int = 0,
        serializer_id: int = 0,
        annotations: Optional[dict[str, bytes]] = None,
        correlation_bytes: Optional[bytes] = None,
    ) -> None:
        """Empty, or (on a server) a request's values, given positionally (the cheapest call)."""
        self.client = client
        self.client_sock_addr = client_sock_addr
        self.seq = seq
        self.msg_flags = msg_flags
        self.serializer_id = serializer_id
        self.annotations: dict[str, bytes] = {} if annotations is None else annotations
        self.response_annotations: dict[str, bytes] = {}
        self.correlation_bytes = correlation_bytes
        self.uuid_cache: Optional[tuple[bytes, uuid.UUID]] = None


def _field(name: str) -> Any:
    def get(self: CallContext) -> Any:
        return getattr(self.state, name)

    def set_(self: CallContext, value: Any) -> None:
        setattr(self.state, name, value)

    return property(get, set_, doc=f"the current call's {name.replace('_', ' ')}")


class CallContext(threading.local):
    def __init__(self) -> None:
        self.state = CallState()

    client = _field("client")
    client_sock_addr = _field("client_sock_addr")
    seq = _field("seq")
    msg_flags = _field("msg_flags")
    serializer_id = _field("serializer_id")
    annotations = _field("annotations")
    response_annotations = _field("response_annotations")
    correlation_bytes = _field("correlation_bytes")

    @property
    def correlation_id(self) -> Optional[uuid.UUID]:
        """The correlation id as a UUID (made from ``correlation_bytes`` when first asked for)."""
        state = self.state
        value = state.correlation_bytes
        if value is None:
            return None
        cached = state.uuid_cache
        if cached is None or cached[0] is not value:
            cached = state.uuid_cache = (value, uuid.UUID(bytes=value))
        return cached[1]

    @correlation_id.setter
    def correlation_id(self, value: Optional[uuid.UUID]) -> None:
        self.state.correlation_bytes = value.bytes if value is not None else None

    def set_correlation_bytes(self, value: Optional[bytes]) -> None:
        """Set the correlation id from its 16 wire bytes, without building a UUID yet."""
        self.state.correlation_bytes = value

    def to_global(self) -> dict[str, Any]:
        """A snapshot to carry the context into another thread."""
        state = self.state
        return {name: getattr(state, name) for name in CallState.__slots__ if name != "uuid_cache"}

    def from_global(self, values: dict[str, Any]) -> None:
        state = self.state
        for name, value in values.items():
            setattr(state, name, value)

    def track_resource(self, resource: Any) -> None:
        """Have ``resource.close()`` called when the current client connection ends."""
        tracked = getattr(self.state.client, "tracked_resources", None)
        if tracked is None:
            raise RuntimeError("track_resource is only possible inside a call on a server")
        tracked.add(resource)

    def untrack_resource(self, resource: Any) -> None:
        tracked = getattr(self.state.client, "tracked_resources", None)
        if tracked is not None:
            tracked.discard(resource)


current_context = CallContext()
