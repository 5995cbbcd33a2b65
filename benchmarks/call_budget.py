"""Where the instructions of one small call go: each piece of the call path counted alone (callgrind).

    hatch run bench:budget

``add(1, 2)`` with marshal on the thread server, as ``bench:callgrind`` measures it whole. Each
piece below runs alone in a loop in a process under callgrind, FEW and MANY times after a warm-up
(the difference of the two totals over MANY - FEW is its cost, start-up cancelled), less the cost
of the empty loop; "times" is how often one call does it (client and server together). The pieces:

- what any program that speaks these bytes does, in C: the socket sends and receives, marshal's
  dumps and loads, the header's struct pack and unpack;
- what the wire rules and our standards add: the checksum, a Message object per message read,
  the check of received marshal data (marshal.loads trusts the sizes it reads);
- our codec and serializer entry points as a whole (they include the pieces above);
- what the layering costs: a Python call with four arguments, the thread-local call context.

The last line compares the sum of the pieces with the whole call: what is left is the proxy, the
sessions, the dispatcher and the server loop, the code between the pieces.
"""

from __future__ import annotations

import concurrent.futures
import os
import sys

from . import callgrind
from .serializer_cost import instructions

FEW, MANY = 2000, 4000

PROGRAM = """
import sys, socket, marshal, threading, time
from pyro_protocol import serializers
from pyro_protocol.context import current_context
from pyro_protocol.decoder import MessageDecoder
from pyro_protocol.message import HEADER_STRUCT, TAG, Message, checksum, encode
from pyro_protocol.serializers.marshal_format import _is_scalar_call

ser = serializers.get_serializer("marshal")
objid = "obj_" + "0123456789abcdef" * 2
corr = bytes(range(16))
call = ser.call_payload(objid, "add", (1, 2), {})
result = ser.dumps(3)
request = b"".join(encode(4, call, 3, 0, 7))
reply = b"".join(encode(5, result, 3, 0, 7, {"CORR": corr}))
decoder = MessageDecoder()
left, right = socket.socketpair()
lock = threading.Lock()
def layer(a, b, c, d):
    pass
def run(n):
    for _ in range(n):
        STATEMENT
run(200)
run(int(sys.argv[1]))
"""

#: (what, statement, times per call, kind): the kinds are summed apart below (``KINDS``)
PIECES: list[tuple[str, str, int, str]] = [
    ("socket send + receive of one message", "left.send(request); right.recv(65536)", 2, "sockets"),
    ("marshal.dumps of the call", 'marshal.dumps((objid, "add", [1, 2], {}))', 1, "c"),
    ("marshal.loads of the call", "marshal.loads(call)", 1, "c"),
    ("marshal.dumps of the result", "marshal.dumps(3)", 1, "c"),
    ("marshal.loads of the result", "marshal.loads(result)", 1, "c"),
    ("struct pack of a header", "HEADER_STRUCT.pack(TAG, 5, 0, 7, 5, 3, 0, 0, 99)", 2, "c"),
    ("struct unpack of a header", "HEADER_STRUCT.unpack_from(reply)", 2, "c"),
    ("the header checksum", "checksum(5, 0, 7, 5, 3, 22)", 4, "rules"),
    ("a Message object", 'Message(5, result, 3, 0, 7, {"CORR": corr})', 2, "rules"),
    ("the check of received marshal data", "_is_scalar_call(call)", 1, "rules"),
    ("encode a request", "encode(4, call, 3, 0, 7)", 1, "ours"),
    ("encode a reply (with its CORR)", 'encode(5, result, 3, 0, 7, {"CORR": corr})', 1, "ours"),
    ("decode a request", "decoder.feed(request)", 1, "ours"),
    ("decode a reply", "decoder.feed(reply)", 1, "ours"),
    ("serializer: call_payload", 'ser.call_payload(objid, "add", (1, 2), {})', 1, "ours"),
    ("serializer: loadsCall", "ser.loadsCall(call)", 1, "ours"),
    ("serializer: dumps", "ser.dumps(3)", 1, "ours"),
    ("serializer: loads", "ser.loads(result)", 1, "ours"),
    ("a Python call with 4 arguments", "layer(1, 2, 3, 4)", 0, "layers"),
    ("the thread-local call context", "current_context.state", 2, "layers"),
    ("a lock held around the call", "with lock: pass", 1, "layers"),
    ("time.monotonic (idle clock)", "time.monotonic()", 2, "layers"),
]
#: kind -> what its sum is; "ours" holds the "c" and "rules" pieces (all but the sockets) inside it
KINDS = {
    "sockets": "the socket sends and receives",
    "c": "C work any implementation of these bytes does besides them (marshal, struct)",
    "rules": "what the wire and the hostile-input rules add (checksums, Messages, the marshal check)",
    "ours": "our codec and serializer entry points (they hold the C work and the rules but the sockets)",
    "layers": "the context, the lock and the idle clock",
}


def piece_cost(statement: str) -> int:
    program = PROGRAM.replace("STATEMENT", statement)
    return (instructions(program, str(MANY)) - instructions(program, str(FEW))) // (MANY - FEW)


def main(argv: list[str]) -> int:
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count()) as pool:  # (each count is a process)
        empty = pool.submit(piece_cost, "pass")
        costs = [pool.submit(piece_cost, statement) for _, statement, _, _ in PIECES]
        whole = pool.submit(callgrind.per_call, callgrind.OURS, "marshal", "thread")
        print("instructions of the pieces of one add(1, 2) call, marshal, thread server (callgrind)")
        print(f"{'piece':<40}{'each':>10}{'times':>7}{'per call':>10}")
        totals = dict.fromkeys(KINDS, 0)
        for (name, _, times, kind), cost in zip(PIECES, costs):
            each = cost.result() - empty.result()
            print(f"{name:<40}{each:>10,}{times:>7}{each * times:>10,}")
            totals[kind] += each * times
        call = whole.result()
    print()
    for kind, what in KINDS.items():
        print(f"{what}: {totals[kind]:,}")
    accounted = totals["sockets"] + totals["ours"] + totals["layers"]
    print(f"the whole call (bench:callgrind): {call:,}")
    print(f"left for the proxy, the sessions, the dispatcher and the server loop: {call - accounted:,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
