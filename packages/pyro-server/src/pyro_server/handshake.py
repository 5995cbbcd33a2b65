"""The server's half of the CONNECT exchange: read the request, ask the daemon's hook, answer.

Clients of one kind send the same handshake bytes every time, and a daemon
answers them with the same metadata: both are kept (bounded) so that a
reconnecting client costs one dictionary lookup, not a deserialization.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Optional

from pyro_protocol import serializers
from pyro_protocol.config import config
from pyro_protocol.context import current_context, new_correlation_bytes
from pyro_protocol.errors import CommunicationError, DaemonError, ProtocolError, SerializeError
from pyro_protocol.message import FLAGS_META_ON_CONNECT, MSG_CONNECT, Message

from .exposure import get_exposed_members

__all__ = ["Handshakes", "object_metadata", "refused_serializer", "unknown_object", "MARSHAL_ID"]

log = logging.getLogger("pyro.server")

MARSHAL_ID = serializers.SERIALIZER_IDS["marshal"]
#: Entries kept in each cache before it starts over.
CACHE_SIZE = 256


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
    if len(cache) >= CACHE_SIZE:
        cache.clear()
    cache[key] = value


def refused_serializer(serializer_id: int) -> str:
    """Why a message's serializer is refused. Starts with Pyro4's text (programs match it), then says more."""
    return (
        f"message used serializer that is not accepted: {serializer_id} ({serializers.serializer_name(serializer_id)});"
        f" this daemon accepts {', '.join(sorted(config.SERIALIZERS_ACCEPTED))} (config SERIALIZERS_ACCEPTED)"
    )


def unknown_object(object_id: Any) -> DaemonError:
    return DaemonError(f"unknown object {object_id!r}: no object is registered with that id in this daemon")


def object_metadata(objects_by_id: dict[str, Any], object_id: str, as_lists: bool = False) -> dict[str, Any]:
    """The exposed methods, oneway methods and attributes of a registered object."""
    obj = objects_by_id.get(object_id)
    if obj is None:
        raise unknown_object(object_id)
    meta = get_exposed_members(obj, as_lists=as_lists)
    if not meta["methods"] and not meta["attrs"]:
        log.warning("object %r exposes nothing (REQUIRE_EXPOSE is on: forgot @expose?)", object_id)
    return meta


class Handshakes:
    """Answers the handshakes of one daemon's connections."""

    def __init__(self, daemon: Any, reply_annotations: Callable[[Optional[bytes]], dict[str, bytes]]) -> None:
        self.daemon = daemon
        self.reply_annotations = reply_annotations
        self.requests: dict[tuple[int, bytes], dict[str, Any]] = {}
        self.replies: dict[tuple[Any, ...], tuple[Any, bytes]] = {}

    def answer(self, conn: Any, msg: Message) -> bool:
        """Answer a connection's first message; False: refused (the connection ends)."""
        if msg.type != MSG_CONNECT:
            self.refuse(conn, f"invalid msg type {msg.type} received", 0, MARSHAL_ID)
            return False
        if serializers.serializer_name(msg.serializer_id) not in config.SERIALIZERS_ACCEPTED:
            self.refuse(conn, refused_serializer(msg.serializer_id), msg.seq, MARSHAL_ID)
            return False
        corr = msg.annotations.get("CORR")
        correlation = corr if corr and len(corr) == 16 else new_correlation_bytes()
        current_context.set_correlation_bytes(correlation)
        current_context.client = conn
        current_context.client_sock_addr = conn.addr
        serializer = serializers.get_serializer_by_id(msg.serializer_id)
        daemon = self.daemon
        try:
            data = self._request(serializer, bytes(msg.data))
            response = daemon.validateHandshake(conn, data["handshake"])
            flags = 0
            if msg.flags & FLAGS_META_ON_CONNECT:
                flags = FLAGS_META_ON_CONNECT
                body = self._reply(serializer, data["object"], response)
            else:
                body = serializer.dumps(response)
        except Exception as exc:
            reason = f"{exc.args[0]!r}" if isinstance(exc, KeyError) and exc.args else str(exc)
            log.info("handshake from %s refused: %s", conn.addr, reason)
            self.refuse(conn, reason, msg.seq, msg.serializer_id)
            return False
        try:
            frames = conn.session.connect_ok(
                body, msg.serializer_id, flags, msg.seq, self.reply_annotations(correlation)
            )
            conn.send_frames(frames)
        except (CommunicationError, OSError) as exc:
            log.info("handshake reply to %s failed: %s", conn.addr, exc)
            return False
        return True

    def refuse(self, conn: Any, reason: str, seq: int, serializer_id: int) -> None:
        """Send CONNECTFAIL with ``reason`` (in the request's serializer where possible)."""
        try:
            serializer = serializers.get_serializer_by_id(serializer_id)
        except SerializeError:
            serializer, serializer_id = serializers.get_serializer("marshal"), MARSHAL_ID
        try:
            frames = conn.session.connect_fail(
                serializer.dumps(reason), serializer_id, seq, self.reply_annotations(None)
            )
            conn.send_frames(frames)
        except Exception as exc:
            log.debug("could not send CONNECTFAIL to %s: %s", conn.addr, exc)

    def _request(self, serializer: Any, payload: bytes) -> dict[str, Any]:
        """The handshake payload; clients of one kind send the same bytes every time: read once."""
        key = (serializer.serializer_id, payload)
        data = self.requests.get(key)
        if data is None:
            data = serializer.loads(payload)
            if not isinstance(data, dict):
                raise ProtocolError("handshake payload must be a dict")
            if all(type(value) in serializers.SCALAR_TYPES for value in data.values()):
                _remember(self.requests, key, data)
            else:
                return data
        return dict(data)  # (validateHandshake may change it)

    def _reply(self, serializer: Any, object_id: Any, response: Any) -> bytes:
        """The serialized answer with the object's metadata, reused while nothing it depends on changed."""
        daemon = self.daemon
        obj = daemon.objectsById.get(object_id) if type(object_id) is str else None
        if obj is None or type(response) not in serializers.SCALAR_TYPES:
            answer: bytes = serializer.dumps(
                {"handshake": response, "meta": object_metadata(daemon.objectsById, object_id, True)}
            )
            return answer
        key = (serializer.serializer_id, object_id, response, bool(config.REQUIRE_EXPOSE))
        cached = self.replies.get(key)
        if cached is not None and cached[0] is obj:
            return cached[1]
        body: bytes = serializer.dumps(
            {"handshake": response, "meta": object_metadata(daemon.objectsById, object_id, True)}
        )
        _remember(self.replies, key, (obj, body))
        return body

    def forget_object(self, object_id: str) -> None:
        """The object's metadata changed: drop the answers that carry it."""
        self.replies = {key: value for key, value in list(self.replies.items()) if key[1] != object_id}
