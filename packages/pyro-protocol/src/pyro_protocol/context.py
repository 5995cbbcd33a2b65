"""The per-thread call context: what the current call knows about itself.

On a client, set ``current_context.correlation_id`` or ``annotations`` before a
call to send them; ``response_annotations`` holds what the last reply carried.
On a server, during a call it holds the client's address, the request's seq,
flags, serializer id, annotations and correlation id; annotations put in
``response_annotations`` go back on that call's reply.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any, Optional

__all__ = ["CallContext", "current_context"]


class CallContext(threading.local):
    def __init__(self) -> None:
        self.client: Any = None
        self.client_sock_addr: Any = None
        self.seq = 0
        self.msg_flags = 0
        self.serializer_id = 0
        self.annotations: dict[str, bytes] = {}
        self.response_annotations: dict[str, bytes] = {}
        self.correlation_id: Optional[uuid.UUID] = None

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
