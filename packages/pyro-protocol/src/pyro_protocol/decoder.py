"""The streaming message decoder, sans I/O: byte chunks in, whole messages out.

The one decoder of the project: the client, the server types and the tools all
feed it what they receive. The header is validated as soon as its 24 bytes are
in; the body is kept as the chunks that arrived (memory follows what was
received, never what a header claims); a large payload is received straight
into one buffer (:meth:`MessageDecoder.receive_target`). The usual message (one
whole small message in one chunk, at most a CORR annotation, no HMAC, not
compressed) takes a short path that builds the Message directly.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Union

from . import message
from .errors import ProtocolError
from .message import (
    CORR_CHUNK_HEAD,
    CORR_SIZE,
    FLAGS_COMPRESSED,
    HEADER_SIZE,
    HEADER_STRUCT,
    TAG,
    Header,
    Message,
    checksum,
    finish_message,
    parse_header_from,
)

__all__ = ["MessageDecoder", "iter_messages", "LARGE_PAYLOAD"]

_unpack_header = HEADER_STRUCT.unpack_from
#: Where the correlation id's 16 bytes start in the body of a message with just a CORR annotation.
_CORR_AT = len(CORR_CHUNK_HEAD)

#: Payloads at least this large are received straight into one buffer (kept for reuse:
#: fresh memory costs a page fault per 4 KiB) instead of a growing message buffer.
LARGE_PAYLOAD = 256 * 1024


class MessageDecoder:
    """Incremental decoder: :meth:`feed` it byte chunks of any size, get whole messages.

    The header is validated (magic, version, checksum, type, size limit) as soon
    as its 24 bytes are in, before any body byte is read. Body bytes are kept as
    the chunks that arrived, so memory follows what was received, never what a
    header claims. After an error the decoder is unusable (the stream is lost).
    """

    def __init__(
        self,
        max_message_size: int = 0,
        hmac_key: Optional[bytes] = None,
        max_inflated_size: Optional[int] = None,
        trusted_size: int = 0,
    ) -> None:
        self.max_message_size = max_message_size
        # payloads up to this size get a buffer of their size at once (a client trusts its
        # server this far); otherwise the buffer grows with the bytes that arrive
        self.trusted_size = trusted_size
        self.hmac_key = hmac_key
        #: True while part of a message has arrived (a plain attribute: readers look at it per read).
        self.in_message = False
        # True when the next chunk may take the short path: nothing pending, no HMAC, no size limit
        self._quick = not hmac_key and not max_message_size
        self.max_inflated_size = max_inflated_size or max_message_size or message.DEFAULT_MAX_INFLATED_SIZE
        self._buffer = bytearray()
        self._header: Optional[Header] = None
        self._broken: Optional[Exception] = None
        # A large payload on its way is read into one buffer that grows with the bytes that
        # arrive (never ahead of them by more than it holds) and is kept for the next one.
        self._large: Optional[bytearray] = None
        self._large_mode = False
        self._large_filled = 0
        self._annotation_blob = b""

    @property
    def buffered(self) -> int:
        """Bytes received but not yet turned into a message."""
        if self._large_mode:
            return len(self._annotation_blob) + self._large_filled
        return len(self._buffer)

    @property
    def wanted(self) -> int:
        """How many more bytes would complete the current header or message."""
        if self._header is None:
            return HEADER_SIZE - len(self._buffer)
        return self._header.annotations_size + self._header.data_size - self.buffered

    def set_hmac_key(self, key: Optional[bytes]) -> None:
        """Check the messages from now on with ``key`` (None: no HMAC)."""
        self.hmac_key = key
        self._update_state()

    def _update_state(self) -> None:
        self.in_message = self._header is not None or bool(self._buffer)
        self._quick = not self.in_message and not self.hmac_key and not self.max_message_size and self._broken is None

    def feed(self, data: Union[bytes, memoryview]) -> list[Message]:
        if not (self._quick and type(data) is bytes):
            return self._feed_in_general(data)
        # the usual chunk: whole messages, each with at most a CORR annotation; built directly
        messages = []
        pos, end = 0, len(data)
        while end - pos >= HEADER_SIZE:
            tag, msg_type, flags, seq, data_size, ser_id, ann_size, _, header_sum = _unpack_header(data, pos)
            body = pos + HEADER_SIZE
            stop = body + ann_size + data_size
            if not (
                stop <= end
                and tag == TAG
                and 0 < msg_type < 7
                and data_size >= 0
                and not flags & FLAGS_COMPRESSED
                and header_sum == checksum(msg_type, flags, seq, data_size, ser_id, ann_size)
            ):
                break
            if not ann_size:
                msg = Message(msg_type, data[body:stop], ser_id, flags, seq, {})
            elif ann_size == CORR_SIZE and data.startswith(CORR_CHUNK_HEAD, body):
                corr = data[body + _CORR_AT : body + CORR_SIZE]
                msg = Message(msg_type, data[body + CORR_SIZE : stop], ser_id, flags, seq, {"CORR": corr})
            else:
                break
            if stop == end and not pos:
                return [msg]  # (the commonest chunk: one message)
            messages.append(msg)
            pos = stop
        if pos == end:
            return messages
        # the rest (part of a message, or one the quick way does not read): the general way
        rest = self._feed_in_general(data[pos:] if pos else data)
        return messages + rest if messages else rest

    def _feed_in_general(self, data: Union[bytes, memoryview]) -> list[Message]:
        try:
            return self._feed(data)
        finally:
            self._update_state()

    def _feed(self, data: Union[bytes, memoryview]) -> list[Message]:
        if self._broken is not None:
            raise ProtocolError(f"decoder is unusable after an earlier error: {self._broken}")
        if self._large_mode:
            return self._feed_large(data)
        if self._buffer:
            self._buffer += data
            with memoryview(self._buffer) as view:
                messages, used = self._decode(view)
            del self._buffer[:used]
        else:
            # common case: the chunk holds whole messages; decode it without copying it first
            with memoryview(data) as view:
                messages, used = self._decode(view)
                if used < len(data):
                    self._buffer += view[used:]
        return messages

    def _decode(self, view: memoryview) -> tuple[list[Message], int]:
        messages = []
        pos, end = 0, len(view)
        try:
            while True:
                header = self._header
                if header is None:
                    if end - pos < HEADER_SIZE:
                        break
                    header = parse_header_from(view, pos, self.max_message_size)
                    pos += HEADER_SIZE
                    self._header = header
                if end - pos < header.annotations_size + header.data_size:
                    if header.data_size >= LARGE_PAYLOAD and end - pos >= header.annotations_size:
                        # a large payload: from now on its bytes go straight into the large buffer
                        ann_end = pos + header.annotations_size
                        self._annotation_blob = bytes(view[pos:ann_end]) if header.annotations_size else b""
                        self._large_mode = True
                        self._large_filled = 0
                        self._store(view[ann_end:end])
                        pos = end
                    break
                ann_end = pos + header.annotations_size
                body_end = ann_end + header.data_size
                annotation_blob = bytes(view[pos:ann_end]) if header.annotations_size else b""
                payload = bytes(view[ann_end:body_end])
                pos = body_end
                self._header = None
                messages.append(
                    finish_message(
                        header,
                        annotation_blob,
                        payload,
                        hmac_key=self.hmac_key,
                        max_inflated_size=self.max_inflated_size,
                    )
                )
        except Exception as exc:
            self._broken = exc
            raise
        return messages, pos

    # -- large payloads ----------------------------------------------------------------------

    def _capacity_for(self, wanted: int) -> bytearray:
        """The large buffer, grown (at most doubling what has arrived) to hold ``wanted`` bytes if it can."""
        assert self._header is not None
        size = self._header.data_size
        large = self._large
        if large is None or len(large) < wanted:
            if size <= self.trusted_size:
                wanted = size
            capacity = min(size, max(wanted, 2 * self._large_filled, LARGE_PAYLOAD))
            if large is None or len(large) < capacity:
                grown = bytearray(capacity)
                if self._large_filled:
                    assert large is not None
                    grown[: self._large_filled] = memoryview(large)[: self._large_filled]
                large = self._large = grown
        return large

    def _store(self, data: Any) -> None:
        count = len(data)
        if count:
            large = self._capacity_for(self._large_filled + count)
            large[self._large_filled : self._large_filled + count] = data
            self._large_filled += count

    def receive_target(self) -> Optional[memoryview]:
        """Where the next bytes of a large payload should be received (recv_into), else None."""
        if not self._large_mode:
            return None
        assert self._header is not None
        remaining = self._header.data_size - self._large_filled
        large = self._capacity_for(self._large_filled + min(remaining, LARGE_PAYLOAD))
        end = min(len(large), self._header.data_size)
        return memoryview(large)[self._large_filled : end]

    def received(self, count: int) -> list[Message]:
        """``count`` bytes were received into :meth:`receive_target`; the finished message, if any."""
        self._large_filled += count
        try:
            return self._finish_large()
        finally:
            self._update_state()

    def _feed_large(self, data: Union[bytes, memoryview]) -> list[Message]:
        assert self._header is not None
        need = self._header.data_size - self._large_filled
        self._store(memoryview(data)[:need] if len(data) > need else data)
        messages = self._finish_large()
        if len(data) > need:
            messages.extend(self._feed(memoryview(data)[need:]))
        return messages

    def _finish_large(self) -> list[Message]:
        header = self._header
        assert header is not None and self._large is not None
        if self._large_filled < header.data_size:
            return []
        # the message owns the buffer now; recycle() may hand it back once the payload was read
        payload = memoryview(self._large)[: header.data_size]
        self._large = None
        self._large_mode = False
        self._large_filled = 0
        self._header = None
        annotation_blob, self._annotation_blob = self._annotation_blob, b""
        try:
            return [
                finish_message(
                    header, annotation_blob, payload, hmac_key=self.hmac_key, max_inflated_size=self.max_inflated_size
                )
            ]
        except Exception as exc:
            self._broken = exc
            raise

    def recycle(self, data: Any) -> None:
        """Give back a large payload's buffer once nothing reads it any more (saves fresh memory)."""
        if type(data) is memoryview and self._large is None and not self._large_mode:
            buffer = data.obj
            try:
                data.release()
            except BufferError:  # something still looks at it: let it go instead
                return
            if type(buffer) is bytearray:
                self._large = buffer

    def release_buffer(self) -> None:
        """Drop the kept large buffer (an idle connection need not hold it)."""
        if not self._large_mode:
            self._large = None


def iter_messages(chunks: Iterable[bytes], **options: object) -> list[Message]:
    """Decode a whole byte stream given as chunks (convenience for tests and tools)."""
    decoder = MessageDecoder(**options)  # type: ignore[arg-type]
    messages: list[Message] = []
    for chunk in chunks:
        messages.extend(decoder.feed(chunk))
    if decoder.in_message:
        raise ProtocolError(f"stream ends inside a message ({decoder.buffered} bytes left over)")
    return messages
