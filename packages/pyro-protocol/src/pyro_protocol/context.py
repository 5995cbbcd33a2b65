"""The per-thread call context: what the current call knows about itself.

On a client, set ``current_context.correlation_id`` or ``annotations`` before a
call to send them; ``response_annotations`` holds what the last reply carried.
On a server, during a call it holds the client's address, the request's seq,
flags, serializer id, annotations and correlation id; annotations put in
``response_annotations`` go back on that call's reply.
"""

from __future__ import annotations

import random
import threading
import uuid
from typing import Any, Optional

__all__ = ["CallContext", "current_context", "new_correlation_bytes"]

_random_bits = random.SystemRandom().getrandbits(64)
_generator = random.Random(_random_bits)


def new_correlation_bytes() -> bytes:
    """16 random bytes shaped as a version 4 UUID: a fresh correlation id, cheaply.

    Correlation ids only need to be unique, not secret, so a seeded PRNG serves
    (uuid.uuid4 costs a system call per id, and a daemon makes one per request).
    """
    value = _generator.getrandbits(128)
    value = (value & ~(0xF000 << 64) | (0x4000 << 64)) & ~(0xC000 << 48) | (0x8000 << 48)
    return value.to_bytes(16, "big")


class CallContext(threading.local):
    def __init__(self) -> None:
        self.client: Any = None
        self.client_sock_addr: Any = None
        self.seq = 0
        self.msg_flags = 0
        self.serializer_id = 0
        self.annotations: dict[str, bytes] = {}
        self.response_annotations: dict[str, bytes] = {}
        self._correlation_id: Optional[uuid.UUID] = None
        self.correlation_bytes: Optional[bytes] = None

    @property
    def correlation_id(self) -> Optional[uuid.UUID]:
        """The correlation id as a UUID (made from ``correlation_bytes`` on first use)."""
        if self._correlation_id is None and self.correlation_bytes is not None:
            self._correlation_id = uuid.UUID(bytes=self.correlation_bytes)
        return self._correlation_id

    @correlation_id.setter
    def correlation_id(self, value: Optional[uuid.UUID]) -> None:
        self._correlation_id = value
        self.correlation_bytes = value.bytes if value is not None else None

    def set_correlation_bytes(self, value: Optional[bytes]) -> None:
        """Set the correlation id from its 16 wire bytes, without building a UUID yet."""
        self._correlation_id = None
        self.correlation_bytes = value

    def to_global(self) -> dict[str, Any]:
        """A snapshot to carry the context into another thread."""
        return {name: getattr(self, name) for name in vars(self)}

    def from_global(self, values: dict[str, Any]) -> None:
        for name, value in values.items():
            setattr(self, name, value)

    def track_resource(self, resource: Any) -> None:
        """Have ``resource.close()`` called when the current client connection ends."""
        tracked = getattr(self.client, "tracked_resources", None)
        if tracked is None:
            raise RuntimeError("track_resource is only possible inside a call on a server")
        tracked.add(resource)

    def untrack_resource(self, resource: Any) -> None:
        tracked = getattr(self.client, "tracked_resources", None)
        if tracked is not None:
            tracked.discard(resource)


current_context = CallContext()
