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

#: (what, statement, times per call)
PIECES: list[tuple[str, str, int]] = [
    ("the empty loop", "pass", 0),
    # what any program speaking these bytes does, in C
    ("socket send + receive of one message", "left.send(request); right.recv(65536)", 2),
    ("marshal.dumps of the call", 'marshal.dumps((objid, "add", [1, 2], {}))', 1),
    ("marshal.loads of the call", "marshal.loads(call)", 1),
    ("marshal.dumps of the result", "marshal.dumps(3)", 1),
    ("marshal.loads of the result", "marshal.loads(result)", 1),
    ("struct pack of a header", "HEADER_STRUCT.pack(TAG, 5, 0, 7, 5, 3, 0, 0, 99)", 2),
    ("struct unpack of a header", "HEADER_STRUCT.unpack_from(reply)", 2),
    # what the wire rules and our standards add
    ("the header checksum", "checksum(5, 0, 7, 5, 3, 22)", 4),
    ("a Message object", 'Message(5, result, 3, 0, 7, {"CORR": corr})', 2),
    ("the check of received marshal data", "_is_scalar_call(call)", 1),
    # our codec and serializer entry points, whole
    ("encode a request", "encode(4, call, 3, 0, 7)", 1),
    ("encode a reply (with its CORR)", 'encode(5, result, 3, 0, 7, {"CORR": corr})', 1),
    ("decode a request", "decoder.feed(request)", 1),
    ("decode a reply", "decoder.feed(reply)", 1),
    ("serializer: call_payload", 'ser.call_payload(objid, "add", (1, 2), {})', 1),
    ("serializer: loadsCall", "ser.loadsCall(call)", 1),
    ("serializer: dumps", "ser.dumps(3)", 1),
    ("serializer: loads", "ser.loads(result)", 1),
    # what the layering costs
    ("a Python call with 4 arguments", "layer(1, 2, 3, 4)", 0),
    ("the thread-local call context", "current_context.state", 2),
    ("a lock held around the call", "with lock: pass", 1),
    ("time.monotonic (idle clock)", "time.monotonic()", 2),
]

#: rows whose sum is "our codec and serializers" (they include the C pieces above them)
WHOLE = {
    "encode a request",
    "encode a reply (with its CORR)",
    "decode a request",
    "decode a reply",
    "serializer: call_payload",
    "serializer: loadsCall",
    "serializer: dumps",
    "serializer: loads",
}
C_LEVEL = {name for name, _, _ in PIECES[1:8]}


def piece_cost(statement: str) -> int:
    program = PROGRAM.replace("STATEMENT", statement)
    return (instructions(program, str(MANY)) - instructions(program, str(FEW))) // (MANY - FEW)


def main(argv: list[str]) -> int:
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count()) as pool:  # (each count is a process)
        costs = {name: pool.submit(piece_cost, statement) for name, statement, _ in PIECES}
        whole = pool.submit(callgrind.per_call, callgrind.OURS, "marshal", "thread")
        empty = costs["the empty loop"].result()
        print("instructions of the pieces of one add(1, 2) call, marshal, thread server (callgrind)")
        print(f"{'piece':<40}{'each':>10}{'times':>7}{'per call':>10}")
        totals = {"c": 0, "ours": 0, "layer": 0}
        for name, _, times in PIECES[1:]:
            each = costs[name].result() - empty
            print(f"{name:<40}{each:>10,}{times:>7}{each * times:>10,}")
            if name in C_LEVEL:
                totals["c"] += each * times
            elif name in WHOLE:
                totals["ours"] += each * times
            elif times:
                totals["layer"] += each * times
        call = whole.result()
    # the socket and the context pieces are outside the codec; the rest of the C pieces are inside it
    sockets = (costs["socket send + receive of one message"].result() - empty) * 2
    print(f"\nC work any implementation of these bytes does (sockets, marshal, struct): {totals['c']:,}")
    print(f"our codec and serializer entry points (they hold that C work but the sockets): {totals['ours']:,}")
    print(f"sockets + codec + serializers + context, lock and clock: {sockets + totals['ours'] + totals['layer']:,}")
    print(f"the whole call (bench:callgrind): {call:,}")
    rest = call - sockets - totals["ours"] - totals["layer"]
    print(f"left for the proxy, the sessions, the dispatcher and the server loop: {rest:,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
