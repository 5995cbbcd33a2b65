"""The Pyro4 4.82 message codec, sans I/O: bytes in, messages out, and back.

Byte layout of the 24-byte header (all big-endian)::

    offset size field
         0    4 magic "PYRO"
         4    2 protocol version, 48
         6    2 message type (MSG_*)
         8    2 flags (FLAGS_*)
        10    2 sequence number
        12    4 data size (signed; the payload's length as sent)
        16    2 serializer id
        18    2 annotations size (all chunks, with their 6-byte chunk headers)
        20    2 reserved, 0
        22    2 checksum: (type + 48 + data size + annotations size
                           + serializer id + flags + seq + 0x34E9) & 0xFFFF

Then annotation chunks (4 ASCII key bytes, u16 length, value) and the payload.
:func:`encode` builds a message (the one encoder), :func:`checksum` is the one
checksum, :func:`parse_header` and :func:`finish_message` read one; the
streaming decoder is :class:`pyro_protocol.decoder.MessageDecoder`. The codec
does no I/O; only the Pyro4 API kept on :class:`Message` for programs that
handle messages themselves (``Message.recv``, ``Message.ping``) reads a
connection.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
import zlib
from typing import Any, Iterable, Mapping, Optional, Union

from .config import config
from .constants import JOIN_LIMIT, PROTOCOL_VERSION
from .errors import MessageTooLargeError, ProtocolError, SecurityError

__all__ = [
    "MSG_CONNECT",
    "MSG_CONNECTOK",
    "MSG_CONNECTFAIL",
    "MSG_INVOKE",
    "MSG_RESULT",
    "MSG_PING",
    "FLAGS_EXCEPTION",
    "FLAGS_COMPRESSED",
    "FLAGS_ONEWAY",
    "FLAGS_BATCH",
    "FLAGS_META_ON_CONNECT",
    "FLAGS_ITEMSTREAMRESULT",
    "FLAGS_KEEPSERIALIZED",
    "HEADER_SIZE",
    "Message",
    "encode",
    "parse_header",
    "parse_annotations",
    "hmac_digest",
]

MSG_CONNECT = 1
MSG_CONNECTOK = 2
MSG_CONNECTFAIL = 3
MSG_INVOKE = 4
MSG_RESULT = 5
MSG_PING = 6
MESSAGE_TYPES = frozenset(range(1, 7))

FLAGS_EXCEPTION = 1 << 0
FLAGS_COMPRESSED = 1 << 1
FLAGS_ONEWAY = 1 << 2
FLAGS_BATCH = 1 << 3
FLAGS_META_ON_CONNECT = 1 << 4
FLAGS_ITEMSTREAMRESULT = 1 << 5
FLAGS_KEEPSERIALIZED = 1 << 6

SERIALIZER_ID_PING = 42

MAGIC = b"PYRO"
HEADER_SIZE = 24
#: The header's fields as packed and unpacked: the magic and the version go as one 6-byte tag.
HEADER_STRUCT = struct.Struct("!6sHHHiHHHH")
#: The magic and the protocol version, as the header's first 6 bytes.
TAG = MAGIC + PROTOCOL_VERSION.to_bytes(2, "big")
CHUNK_HEAD_STRUCT = struct.Struct("!4sH")
_CHECKSUM_MAGIC = 0x34E9
_CHECKSUM_BASE = PROTOCOL_VERSION + _CHECKSUM_MAGIC
#: Pyro4 only compresses payloads at least this long (and only if it helps).
COMPRESSION_THRESHOLD = 200
#: The header's data size is a signed 32-bit field.
MAX_DATA_SIZE = 2**31 - 1
#: Annotations size is a u16 field, so all chunks together fit in this.
MAX_ANNOTATIONS_SIZE = 0xFFFF
#: Without a MAX_MESSAGE_SIZE, a compressed payload may inflate to at most this
#: many bytes. It keeps a small zlib bomb (1 MiB inflating to 1 GiB) from
#: costing more than this much memory; set MAX_MESSAGE_SIZE to allow larger.
DEFAULT_MAX_INFLATED_SIZE = 16 * 1024 * 1024
#: Inflate in steps of this size, so the cap is checked before memory is spent.
_INFLATE_STEP = 1024 * 1024


def hmac_digest(key: bytes, data: Union[bytes, memoryview], annotations: Mapping[str, bytes]) -> bytes:
    """HMAC-SHA1 over the payload as sent, then annotation values sorted by key (not HMAC)."""
    mac = hmac.new(key, data, digestmod=hashlib.sha1)
    for name in sorted(annotations):
        if name != "HMAC":
            mac.update(annotations[name])
    return mac.digest()


class Message:
    """One message. ``data`` is the payload; a received message's is already inflated.

    Besides the codec's own use, it offers Pyro4 4.82's Message API, for programs
    that build or read messages themselves: :meth:`to_bytes`, :meth:`send`, :meth:`recv`,
    :meth:`ping`, :meth:`from_header`, :meth:`hmac`.
    """

    __slots__ = ("type", "flags", "seq", "serializer_id", "data", "annotations", "hmac_key")

    def __init__(
        self,
        msg_type: int,
        data: Union[bytes, memoryview],
        serializer_id: int,
        flags: int = 0,
        seq: int = 0,
        annotations: Optional[dict[str, bytes]] = None,
        hmac_key: Optional[bytes] = None,
    ) -> None:
        self.type = msg_type
        self.flags = flags
        self.seq = seq
        self.serializer_id = serializer_id
        self.data = data
        self.annotations = annotations if annotations is not None else {}
        self.hmac_key = hmac_key

    def __repr__(self) -> str:
        return (
            f"<Message type={self.type} flags=0x{self.flags:04x} seq={self.seq} "
            f"serializer={self.serializer_id} data={len(self.data)}B annotations={sorted(self.annotations)}>"
        )

    # -- Pyro4 4.82's Message API ----------------------------------------------------------

    @property
    def data_size(self) -> int:
        return len(self.data)

    @property
    def annotations_size(self) -> int:
        return sum(6 + len(value) for key, value in self.annotations.items() if key != "HMAC") + (
            26 if self.hmac_key or "HMAC" in self.annotations else 0
        )

    def to_bytes(self) -> bytes:
        """The whole message as sent: header, annotations (with an HMAC if keyed), payload."""
        return b"".join(
            encode(
                self.type,
                bytes(self.data),
                self.serializer_id,
                self.flags,
                self.seq,
                self.annotations,
                hmac_key=self.hmac_key,
            )
        )

    def send(self, connection: Any) -> None:
        """Send it with ``connection.send(bytes)`` (a socketutil.SocketConnection, say)."""
        connection.send(self.to_bytes())

    def hmac(self) -> bytes:
        """The HMAC annotation this message gets with its key."""
        if not self.hmac_key:
            raise SecurityError("this message has no hmac key")
        return hmac_digest(self.hmac_key, self.data, self.annotations)

    def decompress_if_needed(self) -> Message:
        """Kept for Pyro4 programs: received payloads are inflated on arrival already."""
        return self

    @classmethod
    def from_header(cls, header: bytes) -> Message:
        """A message with the header's fields and an empty payload (the body is read separately)."""
        fields = parse_header(header)
        return cls(fields.type, b"", fields.serializer_id, fields.flags, fields.seq)

    @classmethod
    def recv(
        cls,
        connection: Any,
        requiredMsgTypes: Optional[Iterable[int]] = None,
        hmac_key: Optional[bytes] = None,  # noqa: N803
    ) -> Message:
        """Read one message with ``connection.recv(size)`` (a socketutil.SocketConnection, say).

        Raises ProtocolError when its type is not among ``requiredMsgTypes``.
        """
        header = parse_header(connection.recv(HEADER_SIZE), int(config.MAX_MESSAGE_SIZE))
        annotations = connection.recv(header.annotations_size) if header.annotations_size else b""
        payload = connection.recv(header.data_size) if header.data_size else b""
        msg = finish_message(header, annotations, payload, hmac_key=hmac_key)
        msg.hmac_key = hmac_key
        if requiredMsgTypes is not None and msg.type not in requiredMsgTypes:
            raise ProtocolError(f"invalid msg type {msg.type} received, expected one of {sorted(requiredMsgTypes)}")
        return msg

    @staticmethod
    def ping(pyroConnection: Any, hmac_key: Optional[bytes] = None) -> None:  # noqa: N803
        """Send a PING on a connection and wait for its answer (ConnectionClosedError if it is gone)."""
        Message(MSG_PING, b"ping", SERIALIZER_ID_PING, hmac_key=hmac_key).send(pyroConnection)
        Message.recv(pyroConnection, [MSG_PING], hmac_key)


CORR_CHUNK_HEAD = CHUNK_HEAD_STRUCT.pack(b"CORR", 16)
#: The annotations size of a message carrying just a CORR (a 6-byte chunk head and 16 bytes).
CORR_SIZE = len(CORR_CHUNK_HEAD) + 16
#: A header followed by a CORR chunk, packed at once (the shape of every daemon reply).
HEADER_CORR_STRUCT = struct.Struct(HEADER_STRUCT.format + CHUNK_HEAD_STRUCT.format.lstrip("!") + "16s")

#: What :func:`encode` returns: buffers to send back to back (one for a small message).
Frames = tuple[bytes, ...]
#: A payload given in parts (prefix, a large ``bytes`` value, suffix): sent without joining.
PayloadParts = tuple[bytes, bytes, bytes]


def checksum(msg_type: int, flags: int, seq: int, data_size: int, serializer_id: int, annotations_size: int) -> int:
    """The header's checksum: the sum of its numeric fields and 48 + 0x34E9, in 16 bits."""
    return (msg_type + data_size + annotations_size + serializer_id + flags + seq + _CHECKSUM_BASE) & 0xFFFF


def encode_annotations(annotations: Mapping[str, bytes]) -> bytes:
    """The annotation chunks: 4 ASCII key bytes, a u16 length and the value, each."""
    if len(annotations) == 1:
        corr = annotations.get("CORR")
        if corr is not None and len(corr) == 16:
            return CORR_CHUNK_HEAD + corr  # every daemon reply carries just this
    parts = []
    for key, value in annotations.items():
        if len(key) != 4:
            raise ProtocolError(f"annotation key must be of length 4, got {key!r}")
        try:
            key_bytes = key.encode("ascii")
        except UnicodeEncodeError:
            raise ProtocolError(f"annotation key must be 4 ASCII characters, got {key!r}") from None
        if len(value) > 0xFFFF:
            raise ProtocolError(f"annotation {key!r} is {len(value)} bytes, at most 65535 fit")
        parts.append(CHUNK_HEAD_STRUCT.pack(key_bytes, len(value)))
        parts.append(bytes(value))
    blob = b"".join(parts)
    if len(blob) > MAX_ANNOTATIONS_SIZE:
        raise ProtocolError(f"annotations take {len(blob)} bytes, at most 65535 fit in a message")
    return blob


def encode(
    msg_type: int,
    payload: Union[bytes, PayloadParts],
    serializer_id: int,
    flags: int = 0,
    seq: int = 0,
    annotations: Optional[Mapping[str, bytes]] = None,
    compress: bool = False,
    max_message_size: int = 0,
    hmac_key: Optional[bytes] = None,
) -> Frames:
    """Build a message: the buffers to send back to back (``b"".join`` of them is the message).

    The framing is chosen here: a small message is one buffer; a large payload (or the
    large middle part of a payload given as ``(prefix, value, suffix)``) is its own buffer,
    passed through without a copy. With ``compress`` the payload is zlib-compressed when it
    is at least 200 bytes and that makes it smaller (Pyro4's rule); ``hmac_key`` adds the
    HMAC annotation; ``max_message_size`` refuses a larger message (MessageTooLargeError).
    """
    if compress or hmac_key:
        payload, flags, annotations = _sealed(payload, flags, annotations, compress, hmac_key)
    if isinstance(payload, tuple):
        return _encode_parts(msg_type, payload, serializer_id, flags, seq, annotations, max_message_size)
    data_size = len(payload)
    if data_size > MAX_DATA_SIZE:
        _check_size(data_size, 0, 0)
    corr = annotations.get("CORR") if annotations and len(annotations) == 1 else None
    try:
        if corr is not None and len(corr) == 16:  # what every reply of a daemon carries: one pack
            header_sum = checksum(msg_type, flags, seq, data_size, serializer_id, CORR_SIZE)
            start = HEADER_CORR_STRUCT.pack(
                TAG, msg_type, flags, seq, data_size, serializer_id, CORR_SIZE, 0, header_sum, b"CORR", 16, corr
            )
        else:
            start = _header(msg_type, flags, seq, data_size, serializer_id, annotations)
    except struct.error:
        raise ProtocolError(_field_error(msg_type, flags, seq, serializer_id)) from None
    if max_message_size:
        _check_size(data_size, len(start) - HEADER_SIZE, max_message_size)  # (the annotations, as encoded)
    if data_size < JOIN_LIMIT:
        return (start + payload,)
    return (start, payload)


def _header(
    msg_type: int, flags: int, seq: int, data_size: int, serializer_id: int, annotations: Optional[Mapping[str, bytes]]
) -> bytes:
    """The header and the annotation chunks (struct.error for a field out of range)."""
    ann_blob = encode_annotations(annotations) if annotations else b""
    ann_size = len(ann_blob)
    header_sum = checksum(msg_type, flags, seq, data_size, serializer_id, ann_size)
    return HEADER_STRUCT.pack(TAG, msg_type, flags, seq, data_size, serializer_id, ann_size, 0, header_sum) + ann_blob


def _encode_parts(
    msg_type: int,
    payload: Any,
    serializer_id: int,
    flags: int,
    seq: int,
    annotations: Optional[Mapping[str, bytes]],
    max_message_size: int,
) -> Frames:
    """:func:`encode` of a payload given as (prefix, a large value, suffix): the value is not copied."""
    prefix, value, suffix = payload
    data_size = len(prefix) + len(value) + len(suffix)
    if data_size > MAX_DATA_SIZE:
        _check_size(data_size, 0, 0)
    try:
        header = _header(msg_type, flags, seq, data_size, serializer_id, annotations)
    except struct.error:
        raise ProtocolError(_field_error(msg_type, flags, seq, serializer_id)) from None
    if max_message_size:
        _check_size(data_size, len(header) - HEADER_SIZE, max_message_size)
    start = header + prefix
    return (start, value, suffix) if suffix else (start, value)


def _check_size(data_size: int, ann_size: int, max_message_size: Any) -> None:
    max_message_size = int(max_message_size or 0)  # (a setting: given as it is configured)
    if data_size > MAX_DATA_SIZE:
        raise ProtocolError(f"payload of {data_size} bytes does not fit a message (max {MAX_DATA_SIZE})")
    if max_message_size and data_size + ann_size > max_message_size:
        raise MessageTooLargeError(f"max message size exceeded ({data_size + ann_size} where max={max_message_size})")


def _sealed(
    payload: Union[bytes, PayloadParts],
    flags: int,
    annotations: Optional[Mapping[str, bytes]],
    compress: bool,
    hmac_key: Optional[bytes],
) -> tuple[bytes, int, Optional[Mapping[str, bytes]]]:
    """The payload compressed (Pyro4's rule) and the annotations with the HMAC, for :func:`encode`."""
    data = b"".join(payload) if isinstance(payload, tuple) else payload
    if compress:
        data, compressed = compress_payload(data)
        if compressed:
            flags |= FLAGS_COMPRESSED
    if hmac_key:
        signed = dict(annotations or {})
        signed.pop("HMAC", None)
        signed["HMAC"] = hmac_digest(hmac_key, data, signed)
        annotations = signed
    return data, flags, annotations


def compress_payload(data: bytes) -> tuple[bytes, bool]:
    """Pyro4's compression rule: zlib when the payload is at least 200 bytes and it gets smaller."""
    if len(data) >= COMPRESSION_THRESHOLD:
        packed = zlib.compress(data)
        if len(packed) < len(data):
            return packed, True
    return data, False


def _field_error(msg_type: int, flags: int, seq: int, serializer_id: int) -> str:
    for field, value in (("msg_type", msg_type), ("flags", flags), ("seq", seq), ("serializer_id", serializer_id)):
        if not 0 <= value <= 0xFFFF:
            return f"{field} {value} does not fit the 16-bit header field (0..65535)"
    return "a header field is out of range"


class Header:
    """The fields of a validated 24-byte header."""

    __slots__ = ("type", "flags", "seq", "data_size", "serializer_id", "annotations_size")

    def __init__(self, msg_type: int, flags: int, seq: int, data_size: int, serializer_id: int, ann_size: int):
        self.type = msg_type
        self.flags = flags
        self.seq = seq
        self.data_size = data_size
        self.serializer_id = serializer_id
        self.annotations_size = ann_size

    @property
    def body_size(self) -> int:
        return self.data_size + self.annotations_size


def parse_header(header: bytes, max_message_size: int = 0) -> Header:
    """Validate a 24-byte header; raise ProtocolError (or MessageTooLargeError) saying what is wrong."""
    if len(header) != HEADER_SIZE:
        raise ProtocolError(f"header must be {HEADER_SIZE} bytes, got {len(header)}")
    return parse_header_from(header, 0, max_message_size)


def parse_header_from(buffer: Any, offset: int = 0, max_message_size: int = 0) -> Header:
    """:func:`parse_header` on the 24 bytes at ``offset`` of any buffer (no copy is made)."""
    tag, msg_type, flags, seq, data_size, ser_id, ann_size, _reserved, header_sum = HEADER_STRUCT.unpack_from(
        buffer, offset
    )
    if (
        tag != TAG
        or header_sum != checksum(msg_type, flags, seq, data_size, ser_id, ann_size)
        or not 0 < msg_type < 7
        or data_size < 0
        or (max_message_size and data_size + ann_size > max_message_size)
    ):
        _refuse_header(tag, msg_type, flags, seq, data_size, ser_id, ann_size, header_sum, max_message_size)
    return Header(msg_type, flags, seq, data_size, ser_id, ann_size)


def _refuse_header(
    tag: bytes,
    msg_type: int,
    flags: int,
    seq: int,
    data_size: int,
    ser_id: int,
    ann_size: int,
    header_sum: int,
    max_message_size: int,
) -> None:
    magic, version = tag[:4], int.from_bytes(tag[4:], "big")
    if magic != MAGIC:
        raise ProtocolError(f"invalid data or unsupported protocol version: bad magic {magic!r} (expected b'PYRO')")
    if version != PROTOCOL_VERSION:
        raise ProtocolError(
            f"invalid data or unsupported protocol version: version {version} (this side speaks {PROTOCOL_VERSION})"
        )
    if header_sum != checksum(msg_type, flags, seq, data_size, ser_id, ann_size):
        raise ProtocolError("header checksum mismatch")
    if msg_type not in MESSAGE_TYPES:
        raise ProtocolError(f"invalid msg type {msg_type} received")
    if data_size < 0:
        raise ProtocolError(f"invalid data size {data_size} in header (negative)")
    raise MessageTooLargeError(f"max message size exceeded ({data_size + ann_size} where max={max_message_size})")


def parse_annotations(blob: bytes) -> dict[str, bytes]:
    if len(blob) == 22 and blob[:6] == CORR_CHUNK_HEAD:
        return {"CORR": bytes(blob[6:])}  # what every reply of a daemon carries
    annotations: dict[str, bytes] = {}
    view = memoryview(blob)
    pos, end = 0, len(blob)
    while pos < end:
        if end - pos < 6:
            raise ProtocolError(f"annotation chunk header truncated at offset {pos}")
        key_raw, length = CHUNK_HEAD_STRUCT.unpack_from(blob, pos)
        pos += 6
        if pos + length > end:
            raise ProtocolError(f"annotation value of {length} bytes overruns the annotations block")
        try:
            key = key_raw.decode("ascii")
        except UnicodeDecodeError:
            raise ProtocolError(f"annotation key {key_raw!r} is not ASCII") from None
        annotations[key] = bytes(view[pos : pos + length])
        pos += length
    return annotations


def inflate(data: Union[bytes, memoryview], limit: int) -> bytes:
    """zlib-decompress ``data``, refusing (before allocating) to produce more than ``limit`` bytes."""
    inflater = zlib.decompressobj()
    parts = []
    produced = 0
    pending = data
    try:
        while True:
            chunk = inflater.decompress(pending, min(_INFLATE_STEP, limit - produced + 1))
            produced += len(chunk)
            if produced > limit:
                raise MessageTooLargeError(
                    f"compressed payload inflates past the limit of {limit} bytes (a larger MAX_MESSAGE_SIZE raises it)"
                )
            parts.append(chunk)
            pending = inflater.unconsumed_tail
            if not pending:
                break
        tail = inflater.flush()
    except zlib.error as exc:
        raise ProtocolError(f"invalid compressed payload: {exc}") from None
    if not inflater.eof:
        raise ProtocolError("invalid compressed payload: the zlib stream is incomplete")
    if tail:
        produced += len(tail)
        if produced > limit:
            raise MessageTooLargeError(
                f"compressed payload inflates past the limit of {limit} bytes (a larger MAX_MESSAGE_SIZE raises it)"
            )
        parts.append(tail)
    return b"".join(parts)


def finish_message(
    header: Header,
    annotation_blob: bytes,
    payload: Union[bytes, memoryview],
    *,
    hmac_key: Optional[bytes] = None,
    max_inflated_size: int = DEFAULT_MAX_INFLATED_SIZE,
) -> Message:
    """Turn a header and its body bytes into a Message: annotations, HMAC check, inflate."""
    annotations = parse_annotations(annotation_blob) if annotation_blob else {}
    their_mac = annotations.get("HMAC")
    if hmac_key:
        if their_mac is None:
            raise SecurityError("hmac key config not symmetric")
        if not hmac.compare_digest(their_mac, hmac_digest(hmac_key, payload, annotations)):
            raise SecurityError("message hmac mismatch")
    elif their_mac is not None:
        raise SecurityError("hmac key config not symmetric")
    if header.flags & FLAGS_COMPRESSED:
        payload = inflate(payload, max_inflated_size)
    return Message(
        header.type,
        payload,
        header.serializer_id,
        header.flags,
        header.seq,
        annotations,
    )
