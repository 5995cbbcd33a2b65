"""Remote iterators: the generators and iterators that calls returned, served item by item.

A call whose result is an iterator gets a stream id back (the STRM annotation);
the client then asks the DaemonObject for each next item. A stream belongs to
the connection that asked last; when that connection ends, the stream lingers
for ITER_STREAM_LINGER seconds (a reconnecting client may go on with it), and no
stream outlives ITER_STREAM_LIFETIME.
"""

from __future__ import annotations

import collections.abc
import inspect
import threading
import time
import uuid
from typing import Any, Optional

from pyro_client import Proxy
from pyro_protocol.config import config
from pyro_protocol.context import current_context
from pyro_protocol.errors import PyroError

__all__ = ["Stream", "StreamRegistry", "is_streamable", "VALUE_TYPES"]

#: Result types that are values to send, never streams (checked first: the usual results).
VALUE_TYPES = frozenset({type(None), bool, int, float, str, bytes, list, tuple, dict, set})


def is_streamable(value: Any) -> bool:
    """Whether a call's result is an iterator to serve as a stream."""
    if type(value) in VALUE_TYPES:
        return False
    if inspect.isgenerator(value):
        return True
    # a Proxy has __next__ (it forwards iteration to its remote object) but is a value to send
    return isinstance(value, collections.abc.Iterator) and not isinstance(value, Proxy)


class Stream:
    __slots__ = ("iterator", "connection", "created", "detached_at")

    def __init__(self, iterator: Any, connection: Any) -> None:
        self.iterator = iterator
        self.connection = connection
        self.created = time.monotonic()
        self.detached_at: Optional[float] = None


class StreamRegistry:
    """The streams of one daemon, by id (``streams`` is the daemon's ``streaming_responses``)."""

    def __init__(self) -> None:
        self.streams: dict[str, Stream] = {}
        self.lock = threading.Lock()

    def start(self, iterator: Any, connection: Any) -> str:
        stream_id = str(uuid.uuid4())
        with self.lock:
            self.streams[stream_id] = Stream(iterator, connection)
        return stream_id

    def next_item(self, stream_id: str) -> Any:
        with self.lock:
            stream = self.streams.get(stream_id)
            if stream is not None:
                stream.connection = current_context.client
                stream.detached_at = None
        if stream is None:
            raise PyroError("item stream terminated")
        try:
            return next(stream.iterator)
        except BaseException:
            with self.lock:
                self.streams.pop(stream_id, None)
            raise

    def close(self, stream_id: str) -> None:
        with self.lock:
            stream = self.streams.pop(stream_id, None)
        if stream is not None and hasattr(stream.iterator, "close"):
            try:
                stream.iterator.close()
            except Exception:
                pass

    def detach(self, connection: Any) -> None:
        """The connection ended: its streams linger (ITER_STREAM_LINGER) or end now."""
        linger = float(config.ITER_STREAM_LINGER)
        now = time.monotonic()
        with self.lock:
            for stream_id, stream in list(self.streams.items()):
                if stream.connection is connection:
                    if linger > 0:
                        stream.connection = None
                        stream.detached_at = now
                    else:
                        del self.streams[stream_id]

    def expire(self) -> None:
        """Drop streams past ITER_STREAM_LIFETIME, and detached ones past ITER_STREAM_LINGER."""
        lifetime = float(config.ITER_STREAM_LIFETIME)
        linger = float(config.ITER_STREAM_LINGER)
        now = time.monotonic()
        with self.lock:
            for stream_id, stream in list(self.streams.items()):
                too_old = lifetime > 0 and now - stream.created > lifetime
                orphaned = stream.detached_at is not None and now - stream.detached_at > linger
                if too_old or orphaned:
                    del self.streams[stream_id]

    def clear(self) -> None:
        with self.lock:
            self.streams.clear()
