"""A hostile client against a running daemon (in its own process). After every attack
a normal call from another client must succeed, and the daemon's memory stays bounded."""

from __future__ import annotations

import functools
import random
import socket
import struct
import time
import zlib

import pytest

from pyro_protocol import message as wire
from pyro_protocol import serializers
from pyro_protocol.decoder import MessageDecoder
from pyro_protocol.uri import URI


def _head_and_body(frames):
    """A message's frames as (header with annotations, payload)."""
    data = b"".join(frames)
    size = 24 + int.from_bytes(data[18:20], "big")
    return data[:size], data[size:]


SERPENT = serializers.get_serializer("serpent")
#: The daemon may grow by at most this much (peak RSS) over the whole attack run.
MEMORY_BUDGET_KIB = 64 * 1024


def _start(spawn, servertype, handshake_timeout=1.0):
    process = spawn(["integration-tests/scripts/echo_daemon.py", servertype, str(handshake_timeout)])
    uri = URI(process.wait_for("uri=").split("=", 1)[1].strip())
    return process, uri


def _connect(uri, timeout=5.0):
    return socket.create_connection((uri.host, uri.port), timeout=timeout)


def _read_message(sock):
    decoder = MessageDecoder()
    while True:
        try:
            data = sock.recv(65536)
        except (ConnectionResetError, socket.timeout):
            return None
        if not data:
            return None
        messages = decoder.feed(data)
        if messages:
            return messages[0]


def _connect_bytes(serializer=SERPENT):
    body = serializer.dumps({"handshake": "hello", "object": "echo"})
    head, body = _head_and_body(
        wire.encode(wire.MSG_CONNECT, body, serializer.serializer_id, wire.FLAGS_META_ON_CONNECT, 0)
    )
    return head + body


def _invoke_bytes(args, serializer=SERPENT, seq=1, flags=0, data=None):
    body = data if data is not None else serializer.dumpsCall("echo", "echo", args, {})
    head, body = _head_and_body(wire.encode(wire.MSG_INVOKE, body, serializer.serializer_id, flags, seq))
    return head + body


def _normal_call(uri, value="still serving"):
    with _connect(uri) as sock:
        sock.sendall(_connect_bytes())
        reply = _read_message(sock)
        assert reply is not None and reply.type == wire.MSG_CONNECTOK
        sock.sendall(_invoke_bytes((value,)))
        reply = _read_message(sock)
        assert reply is not None and reply.type == wire.MSG_RESULT
        assert SERPENT.loads(reply.data) == value


def _handshaken(uri):
    sock = _connect(uri)
    sock.sendall(_connect_bytes())
    assert _read_message(sock).type == wire.MSG_CONNECTOK
    return sock


def _send_and_close(uri, data, handshake=False, wait=0.1):
    """Send ``data``, give the daemon ``wait`` seconds to answer or hang up, then go away."""
    sock = _handshaken(uri) if handshake else _connect(uri)
    try:
        sock.sendall(data)
        if wait:
            sock.settimeout(wait)
            _read_message(sock)
    except (OSError, ValueError):
        pass
    finally:
        sock.close()


@functools.lru_cache(maxsize=1)
def _zlib_bomb(inflated_size=1024**3):
    compressor = zlib.compressobj(9)
    block = bytes(16 * 1024 * 1024)
    parts = [compressor.compress(block) for _ in range(inflated_size // len(block))]
    parts.append(compressor.flush())
    return b"".join(parts)


def _send_zlib_bomb(uri):
    """An INVOKE whose payload is a zlib bomb: about 1 MiB on the wire, 1 GiB inflated."""
    bomb = _zlib_bomb()
    assert len(bomb) < 2 * 1024 * 1024
    header = struct.pack(
        "!4sHHHHiHHHH",
        b"PYRO",
        48,
        wire.MSG_INVOKE,
        wire.FLAGS_COMPRESSED,
        1,
        len(bomb),
        1,
        0,
        0,
        (wire.MSG_INVOKE + 48 + len(bomb) + 1 + wire.FLAGS_COMPRESSED + 1 + 0x34E9) & 0xFFFF,
    )
    started = time.monotonic()
    _send_and_close(uri, header + bomb, handshake=True, wait=5)
    assert time.monotonic() - started < 5, "the daemon should refuse the bomb at once"


@pytest.mark.parametrize("servertype", ["thread", "multiplex", "asyncio"])
def test_hostile_client_suite(spawn, memory_of, servertype):
    process, uri = _start(spawn, servertype)
    pid = process.popen.pid
    _normal_call(uri)
    baseline = memory_of(pid)["VmHWM"]
    rng = random.Random(4)
    valid_connect = _connect_bytes()
    valid_invoke = _invoke_bytes(("x" * 50,))

    # random bytes
    for _ in range(20):
        _send_and_close(uri, bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300))), wait=0.02)
    _normal_call(uri)

    # every truncation of a valid CONNECT, and of a valid INVOKE after a handshake
    for cut in range(1, len(valid_connect)):
        with _connect(uri) as sock:
            sock.sendall(valid_connect[:cut])
    for cut in range(1, len(valid_invoke)):
        with _handshaken(uri) as sock:
            sock.sendall(valid_invoke[:cut])
    _normal_call(uri)

    # every single-byte mutation of a valid header (before and after the handshake)
    for position in range(wire.HEADER_SIZE):
        for delta in (1, 0x80):
            mutated = bytearray(valid_connect)
            mutated[position] = (mutated[position] + delta) & 0xFF
            _send_and_close(uri, bytes(mutated), wait=0.02)
            mutated = bytearray(valid_invoke)
            mutated[position] = (mutated[position] + delta) & 0xFF
            _send_and_close(uri, bytes(mutated), handshake=True, wait=0.02)
    _normal_call(uri)

    # a lying size field: claims 2 GiB - 1, sends a few bytes, goes away
    lie = struct.pack(
        "!4sHHHHiHHHH", b"PYRO", 48, 4, 0, 1, 2**31 - 1, 1, 0, 0, (4 + 48 + 2**31 - 1 + 1 + 1 + 0x34E9) & 0xFFFF
    )
    for _ in range(20):
        _send_and_close(uri, lie + b"x" * 100, handshake=True, wait=0)
    _normal_call(uri)

    # unknown message types
    for msg_type in (0, 7, 99, 0xFFFF):
        header = struct.pack(
            "!4sHHHHiHHHH", b"PYRO", 48, msg_type, 0, 1, 0, 1, 0, 0, (msg_type + 48 + 1 + 1 + 0x34E9) & 0xFFFF
        )
        _send_and_close(uri, header, handshake=True)
    _normal_call(uri)

    _send_zlib_bomb(uri)
    _normal_call(uri)

    # deeply nested payloads, per serializer: an error reply, never a crash
    nested = {
        "serpent": b"# serpent utf-8 python3.2\n('echo','echo',(" + b"[" * 10000 + b"]" * 10000 + b",),{})",
        "json": b'{"object": "echo", "method": "echo", "params": [' + b"[" * 10000 + b"]" * 10000 + b'], "kwargs": {}}',
        "msgpack": b"\x94\xa4echo\xa4echo\x91" + b"\x91" * 10000 + b"\x90" + b"\x80",
    }
    for name, data in nested.items():
        serializer = serializers.get_serializer(name)
        with _handshaken(uri) as sock:
            sock.sendall(_invoke_bytes((), serializer=serializer, data=data))
            reply = _read_message(sock)
            assert reply is not None and reply.flags & wire.FLAGS_EXCEPTION, name
            error = serializer.loads(reply.data)
            assert type(error).__name__ == "SerializeError", (name, error)
    _normal_call(uri)

    # a refused serializer (pickle) gets a CONNECTFAIL in marshal naming the reason
    pickle = serializers.get_serializer("pickle")
    with _connect(uri) as sock:
        sock.sendall(_connect_bytes(pickle))
        reply = _read_message(sock)
        assert reply.type == wire.MSG_CONNECTFAIL and reply.serializer_id == 3
        assert "not accepted: 4" in serializers.get_serializer("marshal").loads(reply.data)

    # a handshake that never finishes is dropped, in bounded time, even with COMMTIMEOUT 0
    with _connect(uri, timeout=10) as silent:
        started = time.monotonic()
        try:
            assert silent.recv(10) == b""
        except ConnectionResetError:
            pass
        assert time.monotonic() - started < 8
    _normal_call(uri)

    grown = memory_of(pid)["VmHWM"] - baseline
    assert grown < MEMORY_BUDGET_KIB, f"daemon peak memory grew by {grown} KiB"
    assert process.popen.poll() is None


@pytest.mark.parametrize("servertype", ["thread", "multiplex", "asyncio"])
def test_refusing_a_zlib_bomb_costs_at_most_twice_the_inflate_cap(spawn, memory_of, servertype):
    process, uri = _start(spawn, servertype)
    pid = process.popen.pid
    _normal_call(uri)
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as clear_refs:
            clear_refs.write("5")  # the peak (VmHWM) starts again from the memory in use now
    except OSError as exc:
        pytest.skip(f"cannot reset the daemon's peak memory: {exc}")
    before = memory_of(pid)["VmHWM"]
    _send_zlib_bomb(uri)
    _normal_call(uri)
    grown = memory_of(pid)["VmHWM"] - before
    print(f"\nNUMBERS zlib bomb refused by the {servertype} server: peak RSS +{grown / 1024:.1f} MiB", flush=True)
    assert grown < 2 * wire.DEFAULT_MAX_INFLATED_SIZE // 1024, f"the daemon's peak memory grew by {grown} KiB"
    assert process.popen.poll() is None


def test_two_thousand_idle_connections(spawn, memory_of):
    process, uri = _start(spawn, "thread", handshake_timeout=60)
    idle = []
    try:
        for _ in range(1000):
            idle.append(_handshaken(uri))
        for _ in range(1000):
            idle.append(_connect(uri))
        started = time.monotonic()
        _normal_call(uri)
        assert time.monotonic() - started < 1.0
        per_connection = memory_of(process.popen.pid)["VmRSS"] * 1024 / len(idle)
        assert per_connection < 64 * 1024
    finally:
        for sock in idle:
            sock.close()
    _normal_call(uri)


def test_a_client_pipelining_a_hundred_thousand_calls_and_reading_nothing(spawn, memory_of):
    """The asyncio server stops reading such a client (its work in progress and unsent replies
    are bounded), keeps its memory, and serves everyone else meanwhile."""
    process, uri = _start(spawn, "asyncio")
    pid = process.popen.pid
    _normal_call(uri)
    baseline = memory_of(pid)["VmHWM"]
    # 100,000 calls of 1 KiB each way: far more than the kernel's socket buffers hold
    calls = b"".join(_invoke_bytes((f"{seq:08d}" * 128,), seq=seq % 65536) for seq in range(100_000))
    with _handshaken(uri) as flood:
        flood.setblocking(False)
        sent, progress = 0, time.monotonic()
        while sent < len(calls) and time.monotonic() - progress < 0.5:  # until it takes nothing for 0.5 s
            try:
                sent += flood.send(calls[sent : sent + 65536])
                progress = time.monotonic()
            except BlockingIOError:
                time.sleep(0.01)
        assert sent < len(calls) // 2, "the daemon should stop reading a client that does not read its replies"
        _normal_call(uri)
        grown = memory_of(pid)["VmHWM"] - baseline
        assert grown < 16 * 1024, f"daemon peak memory grew by {grown} KiB"
    _normal_call(uri)
    assert process.popen.poll() is None
