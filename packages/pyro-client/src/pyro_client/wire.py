"""Reading a reply with as few system calls as possible.

A reply (header, annotations, payload) usually arrives as one segment, so one
``recv_into`` into a reusable buffer normally gets it whole, where reading the
three parts separately costs three system calls. The client never pipelines
requests, so bytes past the end of the reply mean the peer broke the protocol.
"""

from __future__ import annotations

import builtins
import socket
import ssl
import threading
from typing import Optional

from pyro_protocol.constants import PROTOCOL_VERSION
from pyro_protocol.errors import CommunicationError, ConnectionClosedError, ProtocolError, TimeoutError
from pyro_protocol.message import (
    _CHECKSUM_BASE,
    _CORR_CHUNK_HEAD,
    _HEADER,
    FLAGS_COMPRESSED,
    HEADER_SIZE,
    MAGIC,
    Message,
    finish_message,
    parse_header_from,
)
from pyro_protocol.spinwait import SpinWait
from pyro_protocol.transport import recv_chunks, recv_exactly

__all__ = ["ReplyReader"]

#: Replies up to this size are read into the reusable buffer.
BUFFER_SIZE = 64 * 1024
#: Larger payloads up to this size are read straight into one buffer of their size;
#: beyond it they are gathered in chunks as they arrive (a size field is not trusted that far).
PREALLOCATE_LIMIT = 64 * 1024 * 1024
_WAITALL = getattr(socket, "MSG_WAITALL", 0)
#: How a TLS record starts: content type alert (0x15) or handshake (0x16), then major version 3.
#: A TLS server answers a plain client with one; a Pyro message never starts so.
_TLS_RECORD_STARTS = (b"\x15\x03", b"\x16\x03")


class ReplyReader:
    """Receives whole messages from one connection (one reader per proxy, used under its lock)."""

    __slots__ = ("_buffer", "_view", "_payload_start", "_large", "_spin")

    def __init__(self) -> None:
        self._buffer = bytearray(BUFFER_SIZE)
        self._view = memoryview(self._buffer)
        self._payload_start = 0
        self._large: Optional[bytearray] = None
        self._spin = SpinWait.for_this_process()

    def receive(
        self,
        sock: socket.socket,
        max_message_size: int = 0,
        hmac_key: Optional[bytes] = None,
    ) -> Message:
        try:
            return self._receive(sock, max_message_size, hmac_key)
        except builtins.TimeoutError:
            raise TimeoutError("receiving: timeout") from None
        except ssl.SSLError as exc:
            raise ConnectionClosedError(f"receiving: TLS error: {exc}") from None
        except OSError as exc:
            raise ConnectionClosedError(f"receiving: connection lost: {exc}") from None

    def _receive(self, sock: socket.socket, max_message_size: int, hmac_key: Optional[bytes]) -> Message:
        view = self._view
        spin = self._spin
        if spin is not None and not isinstance(sock, ssl.SSLSocket):  # (TLS may hold read data already)
            # polling holds the GIL: only a process's single thread polls
            spin.before_read(sock, threading.active_count() == 1)
        filled = sock.recv_into(view)
        if filled < HEADER_SIZE:
            if not filled:
                raise ConnectionClosedError("receiving: connection lost")
            self._refuse_tls_record()  # (a TLS alert is shorter than a header, and the server closes next)
            filled = self._fill(sock, filled, HEADER_SIZE)
        elif not hmac_key and not max_message_size:
            # the usual reply, whole in one read: a valid header, at most a CORR annotation,
            # not compressed; built here without the general decoder's steps
            magic, version, msg_type, flags, seq, data_size, ser_id, ann_size, _, checksum = _HEADER.unpack_from(
                self._buffer
            )
            if (
                filled == HEADER_SIZE + ann_size + data_size
                and magic == MAGIC
                and version == PROTOCOL_VERSION
                and 0 < msg_type < 7
                and not flags & FLAGS_COMPRESSED
                and checksum == (msg_type + _CHECKSUM_BASE + data_size + ann_size + ser_id + flags + seq) & 0xFFFF
            ):
                if ann_size == 22 and view[HEADER_SIZE:30] == _CORR_CHUNK_HEAD:
                    annotations = {"CORR": bytes(view[30:46])}
                elif not ann_size:
                    annotations = {}
                else:
                    annotations = None
                if annotations is not None:
                    return Message(
                        msg_type,
                        bytes(view[HEADER_SIZE + ann_size : filled]),
                        ser_id,
                        flags,
                        seq,
                        annotations,
                        None,  # (no hmac key: positional, the quickest call)
                        filled,
                    )
        try:
            header = parse_header_from(self._buffer, 0, max_message_size)
        except ProtocolError:
            self._refuse_tls_record()
            raise
        ann_end = HEADER_SIZE + header.annotations_size
        total = ann_end + header.data_size
        if total <= BUFFER_SIZE:
            if filled < total:
                filled = self._fill(sock, filled, total)
            if filled != total:
                raise ProtocolError(f"received {filled - total} bytes past the end of the reply")
            annotations = bytes(view[HEADER_SIZE:ann_end]) if ann_end > HEADER_SIZE else b""
            payload = bytes(view[ann_end:total])
        else:
            annotations, payload = self._receive_large(sock, filled, ann_end, total)
        options = {"max_inflated_size": max_message_size} if max_message_size else {}
        return finish_message(header, annotations, payload, hmac_key=hmac_key, **options)

    def _refuse_tls_record(self) -> None:
        """A plain connection to a TLS server gets TLS bytes back: say so, not "invalid data"."""
        if self._buffer[:2] in _TLS_RECORD_STARTS:
            raise CommunicationError("the server answered with TLS data: it seems to require TLS (config SSL)")

    def _receive_into(self, sock: socket.socket, have: int, size: int) -> memoryview:
        """The payload, read straight into one buffer of its size (no chunks to join).

        The first ``have`` payload bytes are already in the reusable buffer, right
        after the header and annotations (at ``self._payload_start``).
        """
        large = self._large
        if large is None or len(large) < size:
            # kept for the next large reply: fresh memory costs a page fault per 4 KiB, reused memory does not
            large = self._large = bytearray(size)
        flags = 0 if isinstance(sock, ssl.SSLSocket) else _WAITALL
        start = self._payload_start
        payload = memoryview(large)[:size]
        with memoryview(large) as target:
            target[:have] = self._view[start : start + have]
            filled = have
            while filled < size:
                count = sock.recv_into(target[filled:], size - filled, flags)
                if not count:
                    raise ConnectionClosedError("receiving: connection lost")
                filled += count
        return payload

    def _fill(self, sock: socket.socket, filled: int, wanted: int) -> int:
        """Receive until at least ``wanted`` bytes are in the buffer; returns how many are."""
        view = self._view
        while filled < wanted:
            count = sock.recv_into(view[filled:])
            if not count:
                raise ConnectionClosedError("receiving: connection lost")
            filled += count
        return filled

    def _receive_large(self, sock: socket.socket, filled: int, ann_end: int, total: int) -> tuple[bytes, bytes]:
        if filled > total:
            raise ProtocolError(f"received {filled - total} bytes past the end of the reply")
        if filled >= ann_end:  # the usual case: the annotations are in, the payload is on its way
            annotations = bytes(self._view[HEADER_SIZE:ann_end])
            self._payload_start = ann_end
            size = total - ann_end
            if size <= PREALLOCATE_LIMIT:
                return annotations, self._receive_into(sock, filled - ann_end, size)
            payload = recv_chunks(sock, total - filled, bytes(self._view[ann_end:filled]))
            return annotations, payload
        have = bytes(self._view[HEADER_SIZE:filled])
        rest = recv_exactly(sock, total - filled)
        body = have + rest
        split = ann_end - HEADER_SIZE
        return body[:split], body[split:]
