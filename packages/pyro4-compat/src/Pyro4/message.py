"""Pyro4.message (pyro_protocol.message): the Message class with Pyro4's methods, types and flags."""

from pyro_protocol.message import (
    FLAGS_BATCH,
    FLAGS_COMPRESSED,
    FLAGS_EXCEPTION,
    FLAGS_ITEMSTREAMRESULT,
    FLAGS_KEEPSERIALIZED,
    FLAGS_META_ON_CONNECT,
    FLAGS_ONEWAY,
    MSG_CONNECT,
    MSG_CONNECTFAIL,
    MSG_CONNECTOK,
    MSG_INVOKE,
    MSG_PING,
    MSG_RESULT,
    Message,
)

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
    "Message",
]
