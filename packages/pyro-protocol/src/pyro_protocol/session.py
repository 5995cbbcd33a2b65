"""The protocol's rules for one connection, sans I/O: a state machine per side.

As h11 does for HTTP: bytes in, messages out; calls in, bytes out. A front end
(the sync Proxy, the Daemon's server types, an asyncio transport) moves the
bytes; every protocol rule lives here:

- the client sends CONNECT first and may call only after CONNECTOK; every reply
  must be a RESULT whose sequence number belongs to a call in flight and whose
  serializer is the call's; a reply to a call the caller gave up on is dropped;
- the server reads CONNECT first (anything else is refused), answers it with
  CONNECTOK or CONNECTFAIL (which ends the connection), then reads INVOKE and
  PING messages and answers each with the request's sequence number.

Both sides frame with :func:`pyro_protocol.message.encode` and read with
:class:`pyro_protocol.decoder.MessageDecoder`, configured once per connection
(HMAC key, size limit, compression).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

from . import serializers
from .config import config
from .decoder import MessageDecoder
from .errors import CommunicationError, ProtocolError, SerializeError
from .message import (
    FLAGS_META_ON_CONNECT,
    MSG_CONNECT,
    MSG_CONNECTFAIL,
    MSG_CONNECTOK,
    MSG_INVOKE,
    MSG_PING,
    MSG_RESULT,
    Frames,
    Message,
    PayloadParts,
    encode,
)

__all__ = ["ClientSession", "ServerSession", "NEW", "CONNECTING", "READY", "CLOSED", "TLS_RECORD_STARTS"]

#: Connection states (both sides): before the handshake, waiting for its answer, calls
#: allowed, ended (refused handshake or a broken stream).
NEW, CONNECTING, READY, CLOSED = "new", "connecting", "ready", "closed"
#: Replies with payloads up to this size are received into a buffer of their size at once
#: (the client trusts its server's size field this far; beyond, memory follows what arrives).
TRUSTED_REPLY_SIZE = 64 * 1024 * 1024
#: How a TLS record starts: content type alert (0x15) or handshake (0x16), then major version 3.
#: A TLS server answers a plain client with one; a Pyro message never starts so.
TLS_RECORD_STARTS = (b"\x15\x03", b"\x16\x03")


class ClientSession:
    """The client side: the handshake, the calls in flight and their replies.

    ``receive(data)`` returns ``(message, value)`` pairs: the handshake answer with its
    deserialized payload, or a call's reply with its result. ``value`` is an exception
    object for a reply with FLAGS_EXCEPTION; what to do with it is the front end's call.
    """

    __slots__ = ("serializer", "hmac_key", "settings", "decoder", "state", "seq", "in_flight")

    def __init__(
        self,
        serializer: Any,
        *,
        hmac_key: Optional[bytes] = None,
        settings: Any = config,
        seq: int = 0,
        handshake_done: bool = False,
    ) -> None:
        self.serializer = serializer
        self.hmac_key = hmac_key
        # COMPRESSION and MAX_MESSAGE_SIZE are read per message (Pyro4 programs change them at run time)
        self.settings = settings
        max_size = int(settings.MAX_MESSAGE_SIZE)
        self.decoder = MessageDecoder(max_size, hmac_key, trusted_size=TRUSTED_REPLY_SIZE)
        self.state = READY if handshake_done else NEW  # (a proxy on a connected socket has no handshake)
        self.seq = seq  # the last sequence number used (the handshake goes out with it)
        # seq -> the serializer the call went with; None for a call the caller gave up on
        self.in_flight: dict[int, Any] = {}

    def set_hmac_key(self, key: Optional[bytes]) -> None:
        """Sign and check the messages from now on with ``key`` (None: no HMAC)."""
        self.hmac_key = key
        self.decoder.set_hmac_key(key)

    def connect(self, handshake: Any, object_id: Optional[str], annotations: Optional[Mapping[str, bytes]]) -> Frames:
        """The CONNECT message; with ``object_id`` the daemon sends that object's metadata along."""
        if self.state is not NEW:
            raise ProtocolError(f"handshake sent twice (connection is {self.state})")
        payload: dict[str, Any] = {"handshake": handshake}
        flags = 0
        if object_id is not None:
            payload["object"] = object_id  # the daemon only uses it to send the metadata
            flags = FLAGS_META_ON_CONNECT
        self.state = CONNECTING
        serializer = self.serializer
        return _encode(
            self, MSG_CONNECT, serializer.dumps(payload), serializer.serializer_id, flags, self.seq, annotations
        )

    def invoke(
        self,
        payload: bytes | PayloadParts,
        flags: int = 0,
        annotations: Optional[Mapping[str, bytes]] = None,
        serializer: Any = None,
        expect_reply: bool = True,
    ) -> tuple[int, Frames]:
        """An INVOKE of a serialized call (``serializer.dumpsCall``, or its parts); returns (seq, frames).

        ``serializer``: the one the payload was made with, when not the session's (a blob's).
        """
        if self.state is not READY:
            raise ProtocolError(f"cannot call on a connection that is {self.state}")
        seq = self.seq = (self.seq + 1) & 0xFFFF
        ser = serializer or self.serializer
        if expect_reply:
            self.in_flight[seq] = ser
        return seq, _encode(self, MSG_INVOKE, payload, ser.serializer_id, flags, seq, annotations)

    def abandon(self, seq: int) -> None:
        """The caller no longer waits for call ``seq`` (cancelled, timed out): drop its reply when it comes."""
        if seq in self.in_flight:
            self.in_flight[seq] = None

    def receive(self, data: bytes) -> list[tuple[Message, Any]]:
        """Feed received bytes; the replies (and handshake answer) they complete, with their values."""
        if self.state is READY:
            messages = self.decoder.feed(data)
            if len(messages) == 1:  # the usual: the reply of a call in flight, checked right here
                msg = messages[0]
                serializer = self.in_flight.pop(msg.seq, False)
                if serializer and msg.type == MSG_RESULT and msg.serializer_id == serializer.serializer_id:
                    value = serializer.loads(msg.data)
                    if type(msg.data) is memoryview:
                        self._recycle(msg)
                    return [(msg, value)]
                if serializer is not False:  # (an abandoned call's None too: the general path drops its reply)
                    self.in_flight[msg.seq] = serializer  # (the general checks below say what is wrong)
        else:
            if self.state is CONNECTING and data[:2] in TLS_RECORD_STARTS and not self.decoder.in_message:
                # a message starts with b"PYRO": this is a TLS server answering a plain client
                raise CommunicationError("the server answered with TLS data: it seems to require TLS (config SSL)")
            messages = self.decoder.feed(data)
        return self._replies(messages) if messages else []

    def receive_target(self) -> Optional[memoryview]:
        """Where the next bytes of a large payload should be received (``recv_into``), else None."""
        return self.decoder.receive_target()

    def received(self, count: int) -> list[tuple[Message, Any]]:
        """``count`` bytes were received into :meth:`receive_target`."""
        messages = self.decoder.received(count)
        return self._replies(messages) if messages else []

    def _replies(self, messages: list[Message]) -> list[tuple[Message, Any]]:
        replies = []
        for msg in messages:
            if self.state is not READY:
                replies.append((msg, self._handshake_answer(msg)))
                continue
            serializer = self.in_flight.pop(msg.seq, False)
            if msg.type != MSG_RESULT or serializer is False:
                self.state = CLOSED
                if msg.type != MSG_RESULT:
                    raise ProtocolError(f"invalid msg type {msg.type} received")
                expected = " or ".join(map(str, sorted(self.in_flight))) or "no reply"
                raise ProtocolError(f"invoke: reply sequence out of sync, got {msg.seq} expected {expected}")
            if serializer is None:
                continue  # a call the caller gave up on
            if msg.serializer_id != serializer.serializer_id:
                self.state = CLOSED
                raise SerializeError(f"invalid serializer in response: {msg.serializer_id}")
            value = serializer.loads(msg.data)
            if type(msg.data) is memoryview:
                self._recycle(msg)
            replies.append((msg, value))
        return replies

    def _recycle(self, msg: Message) -> None:
        """A large reply's value is loaded: its receive buffer takes the next large one (its data is
        then empty). Not while LOGWIRE is on: the wire log shows the payload after this."""
        if not self.settings.LOGWIRE:
            self.decoder.recycle(msg.data)
            msg.data = b""

    def _handshake_answer(self, msg: Message) -> Any:
        if self.state is not CONNECTING or msg.type not in (MSG_CONNECTOK, MSG_CONNECTFAIL):
            self.state = CLOSED
            raise ProtocolError(f"invalid msg type {msg.type} received")
        self.state = READY if msg.type == MSG_CONNECTOK else CLOSED
        return _connect_reply_value(msg) if msg.data else "?"


class ServerSession:
    """The server side: reads the handshake, then requests; frames the answers."""

    __slots__ = ("hmac_key", "settings", "decoder", "state", "receive")

    def __init__(
        self,
        *,
        hmac_key: Optional[bytes] = None,
        settings: Any = config,
        handshake_done: bool = False,
    ) -> None:
        self.hmac_key = hmac_key
        self.settings = settings  # (COMPRESSION and MAX_MESSAGE_SIZE: read per message)
        self.decoder = MessageDecoder(int(settings.MAX_MESSAGE_SIZE), hmac_key)
        self.state = NEW
        #: ``receive(data)``: feed received bytes, get the messages they complete (ProtocolError:
        #: refuse the peer). It is the state's reader: until the handshake is answered it checks
        #: that the first message is a CONNECT; after, the decoder's own ``feed`` (the requests'
        #: types are the dispatcher's to check), so a request costs no extra step.
        self.receive: Callable[[bytes], list[Message]] = self._receive_handshake
        if handshake_done:  # (a connected_socket daemon has no handshake)
            self._ready()

    def _ready(self) -> None:
        self.state = READY
        self.receive = self.decoder.feed

    def _receive_handshake(self, data: bytes) -> list[Message]:
        messages = self.decoder.feed(data)
        if messages and self.state is not READY:
            self._check_handshake(messages)
        return messages

    def receive_target(self) -> Optional[memoryview]:
        return self.decoder.receive_target()

    def received(self, count: int) -> list[Message]:
        messages = self.decoder.received(count)
        if messages and self.state is not READY:
            self._check_handshake(messages)
        return messages

    def _check_handshake(self, messages: list[Message]) -> None:
        if self.state is NEW and messages[0].type != MSG_CONNECT:
            raise ProtocolError(f"invalid msg type {messages[0].type} received")
        if self.state is NEW:
            self.state = CONNECTING

    def connect_ok(
        self, payload: bytes, serializer_id: int, flags: int, seq: int, annotations: Optional[Mapping[str, bytes]]
    ) -> Frames:
        frames = _encode(self, MSG_CONNECTOK, payload, serializer_id, flags, seq, annotations)
        self._ready()
        return frames

    def connect_fail(
        self, payload: bytes, serializer_id: int, seq: int, annotations: Optional[Mapping[str, bytes]]
    ) -> Frames:
        """The refusal of a handshake; the connection ends after it."""
        self.state = CLOSED
        return _encode(self, MSG_CONNECTFAIL, payload, serializer_id, 0, seq, annotations)

    def reply(
        self,
        payload: bytes | PayloadParts,
        serializer_id: int,
        flags: int,
        seq: int,
        annotations: Optional[Mapping[str, bytes]],
    ) -> Frames:
        return _encode(self, MSG_RESULT, payload, serializer_id, flags, seq, annotations)

    def pong(self, serializer_id: int, seq: int, annotations: Optional[Mapping[str, bytes]]) -> Frames:
        return _encode(self, MSG_PING, b"pong", serializer_id, 0, seq, annotations)


def _encode(
    session: ClientSession | ServerSession,
    msg_type: int,
    payload: Any,
    serializer_id: int,
    flags: int,
    seq: int,
    annotations: Optional[Mapping[str, bytes]],
) -> Frames:
    """Frame a message with the session's HMAC key and the settings' compression and size limit."""
    settings = session.settings
    return encode(
        msg_type,
        payload,
        serializer_id,
        flags,
        seq,
        annotations,
        settings.COMPRESSION,
        settings.MAX_MESSAGE_SIZE,
        session.hmac_key,
    )


#: Recently seen handshake answers (serializer id, payload) -> the value, when it holds only
#: immutable values: connecting again to the same object gets the same bytes, read once.
_connect_replies: dict[tuple[int, bytes], tuple[Any, Any]] = {}
_CONNECT_REPLIES_KEPT = 64


def _connect_reply_value(msg: Message) -> Any:
    key = (msg.serializer_id, bytes(msg.data))
    reply = _connect_replies.get(key)
    if reply is not None:
        return {"handshake": reply[0], "meta": dict(reply[1])} if msg.flags & FLAGS_META_ON_CONNECT else reply[0]
    reply = serializers.get_serializer_by_id(msg.serializer_id).loads(bytes(msg.data))
    frozen: Optional[tuple[Any, Any]]
    if msg.flags & FLAGS_META_ON_CONNECT:
        frozen = _frozen_connect_reply(reply, serializers.SCALAR_TYPES)
    else:
        frozen = (reply, None) if type(reply) in serializers.SCALAR_TYPES else None
    if frozen is not None:
        if len(_connect_replies) >= _CONNECT_REPLIES_KEPT:
            _connect_replies.clear()
        _connect_replies[key] = frozen
    return reply


def _frozen_connect_reply(reply: Any, immutable_types: Any) -> Optional[tuple[Any, dict[str, frozenset[str]]]]:
    """(handshake, metadata with frozensets) if the reply is the usual shape and immutable; else None."""
    try:
        handshake, meta = reply["handshake"], reply["meta"]
        if type(handshake) not in immutable_types or set(meta) != {"methods", "oneway", "attrs"}:
            return None
        frozen = {key: frozenset(names) for key, names in meta.items()}
    except (TypeError, KeyError, AttributeError):
        return None
    if not all(type(name) is str for names in frozen.values() for name in names):
        return None
    return handshake, frozen
