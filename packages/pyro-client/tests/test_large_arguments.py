"""A call with one large bytes argument (marshal, pickle) is sent without a serialized copy of it:
the serializer's call_parts, sent with one sendmsg. The bytes on the wire are those of the
ordinary path, and our daemon reads the call as any other."""

from __future__ import annotations

import threading
import uuid
from typing import Any, Iterator

import pytest

from pyro_client import Proxy
from pyro_protocol import message as wire
from pyro_protocol import serializers, transport
from pyro_protocol.config import config
from pyro_protocol.context import current_context
from pyro_protocol.errors import ConnectionClosedError
from pyro_server import Daemon

SPLITTING = ["marshal", "pickle"]
MIB = 1024 * 1024


def payload(size: int) -> bytes:
    return (bytes(range(251)) * (size // 251 + 1))[:size]


class Echo:
    def echo(self, data: Any) -> Any:
        return data

    def describe(self, head: Any, data: bytes, tail: Any, **kwargs: Any) -> Any:
        return [head, len(data), data[:10], data[-10:], tail, kwargs]


@pytest.fixture()
def echo_uri() -> Iterator[str]:
    config.SERIALIZERS_ACCEPTED = {"serpent", "marshal", "pickle"}
    daemon = Daemon(host="127.0.0.1", port=0)
    uri = daemon.register(Echo(), "echo")
    thread = threading.Thread(target=daemon.requestLoop, daemon=True)
    thread.start()
    try:
        yield str(uri)
    finally:
        daemon.shutdown()
        thread.join(timeout=10)
        daemon.close()
        assert not thread.is_alive()


@pytest.fixture()
def sent_in_parts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Sizes of the requests whose large argument went out as its own frame, between the call's
    serialized start and end (transport.send_frames with three frames)."""
    sizes: list[int] = []
    original = transport.send_frames

    def counting(sock: Any, frames: Any) -> None:
        if len(frames) >= 3:
            sizes.append(sum(len(frame) for frame in frames))
        original(sock, frames)

    monkeypatch.setattr(transport, "send_frames", counting)
    return sizes


@pytest.mark.parametrize("serializer", SPLITTING)
@pytest.mark.parametrize("size", [MIB, 10 * MIB])
def test_large_bytes_argument_against_our_daemon(echo_uri, sent_in_parts, serializer, size):
    config.SERIALIZER = serializer
    data = payload(size)
    with Proxy(echo_uri) as proxy:
        assert proxy.echo(data) == data
        described = proxy.describe("head", data, (1, 2), key="value")
        assert described == ["head", size, data[:10], data[-10:], (1, 2), {"key": "value"}]
        assert proxy.echo("small") == "small"
    assert len(sent_in_parts) == 2 and all(sent > size for sent in sent_in_parts)


def test_serpent_and_small_arguments_take_the_ordinary_path(echo_uri, sent_in_parts):
    large, smaller = payload(serializers.CALL_PARTS_MIN), payload(serializers.CALL_PARTS_MIN - 1)
    with Proxy(echo_uri) as proxy:
        config.SERIALIZER = "serpent"
        assert serializers.serpent.tobytes(proxy.echo(large)) == large
        config.SERIALIZER = "marshal"
        assert proxy.echo(smaller) == smaller
        assert proxy.echo([large]) == [large]  # not a positional argument itself
        assert proxy.echo(b"small") == b"small"
    assert sent_in_parts == []


class CapturingSocket:
    """Records what a proxy sends; sendmsg takes at most ``chunk`` bytes at a time."""

    def __init__(self, chunk: int = 1 << 30) -> None:
        self.chunk = chunk
        self.data = bytearray()
        self.sendmsg_calls = 0
        self.fail = False

    def sendall(self, data: Any) -> None:
        if self.fail:
            raise OSError("broken")
        self.data += data

    def sendmsg(self, buffers: Any) -> int:
        if self.fail:
            raise OSError("broken")
        self.sendmsg_calls += 1
        room = self.chunk
        for buffer in buffers:
            taken = bytes(buffer[:room])
            self.data += taken
            room -= len(taken)
            if not room:
                break
        return self.chunk - room

    def gettimeout(self) -> None:
        return None

    def shutdown(self, how: int) -> None:
        pass

    def close(self) -> None:
        pass


def capture(serializer: str, vargs: tuple[Any, ...], kwargs: dict[str, Any], split: bool, chunk: int = 1 << 30) -> Any:
    """The bytes of the oneway call echo.m(*vargs, **kwargs) as a proxy sends them."""
    config.SERIALIZER = serializer
    config.METADATA = False
    sock = CapturingSocket(chunk)
    proxy = Proxy("echo", connected_socket=sock)
    proxy._pyroOneway.add("m")
    ser = serializers.get_serializer(serializer)
    if not split:
        proxy.__dict__["_pyro_ser"] = type(ser)()
        proxy._pyro_ser.call_parts = lambda *args: None
    proxy._pyroInvoke("m", vargs, kwargs)
    return bytes(sock.data), sock.sendmsg_calls


CALLS = [
    ((payload(3 * MIB),), {}),
    (("a", payload(serializers.CALL_PARTS_MIN), [1, 2.5, None]), {"k": b"v", "t": (1, "x")}),
    ((1, 2, 3, payload(MIB + 1)), {}),
]


@pytest.mark.parametrize("serializer", SPLITTING)
@pytest.mark.parametrize("vargs, kwargs", CALLS)
def test_the_request_is_byte_identical_to_the_ordinary_path(serializer, vargs, kwargs, fresh_pickle_protocol):
    split, calls = capture(serializer, vargs, kwargs, split=True, chunk=100_000)
    assert calls > 1  # partial sends were continued
    ordinary, _ = capture(serializer, vargs, kwargs, split=False)
    assert split == ordinary
    ser = serializers.get_serializer(serializer)
    header = wire.parse_header(split[: wire.HEADER_SIZE])
    assert (header.type, header.flags, header.seq, header.serializer_id) == (
        wire.MSG_INVOKE,
        wire.FLAGS_ONEWAY,
        1,
        ser.serializer_id,
    )
    assert header.annotations_size == 0 and header.data_size == len(split) - wire.HEADER_SIZE
    obj, method, received_vargs, received_kwargs = ser.loadsCall(split[wire.HEADER_SIZE :])
    assert (obj, method, tuple(received_vargs), received_kwargs) == ("echo", "m", vargs, kwargs)


@pytest.fixture(params=[3, 4, 5])
def fresh_pickle_protocol(request: pytest.FixtureRequest) -> Iterator[None]:
    config.PICKLE_PROTOCOL_VERSION = request.param
    yield


@pytest.mark.parametrize("serializer", SPLITTING)
@pytest.mark.parametrize("setting", ["correlation", "hmac", "compression", "max_size"])
def test_with_annotations_hmac_compression_or_size_limit_the_bytes_are_the_same(serializer, setting, monkeypatch):
    vargs, kwargs = CALLS[1]

    def run(split: bool) -> bytes:
        config.COMPRESSION = setting == "compression"
        config.MAX_MESSAGE_SIZE = 50 * MIB if setting == "max_size" else 0
        current_context.correlation_id = uuid.UUID(int=12345) if setting == "correlation" else None
        config.SERIALIZER = serializer
        config.METADATA = False
        sock = CapturingSocket()
        proxy = Proxy("echo", connected_socket=sock)
        if setting == "hmac":
            proxy._pyroHmacKey = b"secret"
        proxy._pyroOneway.add("m")
        if not split:
            proxy.__dict__["_pyro_ser"] = type(proxy._pyro_ser)()
            proxy._pyro_ser.call_parts = lambda *args: None
        proxy._pyroInvoke("m", vargs, kwargs)
        return bytes(sock.data)

    assert run(True) == run(False)


@pytest.mark.parametrize("serializer", SPLITTING)
def test_a_failed_send_closes_the_connection(echo_uri, serializer):
    config.SERIALIZER = serializer
    data = payload(MIB)
    with Proxy(echo_uri) as proxy:
        proxy._pyroBind()
        real = proxy._pyro_conn.sock
        broken = CapturingSocket()
        broken.fail = True
        proxy._pyro_conn.sock = broken  # (the call path's socket)
        with pytest.raises(ConnectionClosedError):
            proxy.echo(data)
        assert proxy._pyroConnection is None
        transport.close_socket(real)
        assert proxy.echo(data) == data  # reconnected


def test_send_frames_over_a_socket_without_sendmsg():
    class NoSendmsg:
        def __init__(self) -> None:
            self.data = b""

        def sendall(self, data: bytes) -> None:
            self.data += data

    sock = NoSendmsg()
    transport.send_frames(sock, (b"head", b"", b"body" * 1000, b"tail"))  # type: ignore[arg-type]
    assert sock.data == b"head" + b"body" * 1000 + b"tail"
