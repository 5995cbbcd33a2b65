"""LOGWIRE: every message sent and received, logged at DEBUG level on the ``pyro.wire`` logger.

Pyro4's switch for looking at the protocol while debugging (``PYRO_LOGWIRE=true``, with
``PYRO_LOGLEVEL=DEBUG`` so the records go somewhere). The callers check ``config.LOGWIRE``
first, so the switched-off cost is that one attribute read.
"""

from __future__ import annotations

import logging

from .errors import ProtocolError
from .message import HEADER_SIZE, Message, parse_annotations, parse_header

__all__ = ["log_message", "log_frames", "log_bytes"]

log = logging.getLogger("pyro.wire")
#: Payload bytes shown per message (the rest is counted).
SHOWN_PAYLOAD = 1000


def log_message(who: str, direction: str, msg: Message) -> None:
    """Log a decoded message; ``who`` is "proxy" or "daemon", ``direction`` "sending" or "received"."""
    _log(
        who,
        direction,
        msg.type,
        msg.flags,
        msg.serializer_id,
        msg.seq,
        msg.annotations,
        bytes(msg.data[:SHOWN_PAYLOAD]),
        len(msg.data),
    )


def log_frames(who: str, frames: tuple[bytes, ...]) -> None:
    """Log a message being sent, from the frames :func:`pyro_protocol.message.encode` made."""
    log_bytes(who, "sending", frames[0] if len(frames) == 1 else frames[0] + frames[1][:SHOWN_PAYLOAD])


def log_bytes(who: str, direction: str, wire: bytes, payload_size: int = -1) -> None:
    """Log a message from the bytes that start it (header, annotations, the payload or its start).

    ``payload_size``: the payload's whole size when ``wire`` holds only its beginning.
    """
    try:
        header = parse_header(wire[:HEADER_SIZE])
        annotations = parse_annotations(wire[HEADER_SIZE : HEADER_SIZE + header.annotations_size])
    except ProtocolError as exc:
        log.debug("%s wiredata %s: %d bytes that are not a whole message header (%s)", who, direction, len(wire), exc)
        return
    start = HEADER_SIZE + header.annotations_size
    shown = wire[start : start + SHOWN_PAYLOAD]
    size = header.data_size if payload_size < 0 else payload_size
    _log(who, direction, header.type, header.flags, header.serializer_id, header.seq, annotations, shown, size)


def _log(
    who: str,
    direction: str,
    msg_type: int,
    flags: int,
    ser_id: int,
    seq: int,
    annotations: dict[str, bytes],
    shown: bytes,
    size: int,
) -> None:
    more = f" (+{size - len(shown)} bytes)" if size > len(shown) else ""
    log.debug(
        "%s wiredata %s: msgtype=%d flags=0x%x ser=%d seq=%d annotations=%r data=%r%s",
        who,
        direction,
        msg_type,
        flags,
        ser_id,
        seq,
        annotations,
        shown,
        more,
    )
