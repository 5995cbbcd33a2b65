"""Instructions of the four serializer operations of one small call, counted by valgrind's callgrind.

    hatch run bench:serializer-cost [serializer ...]      (default: serpent marshal msgpack json)

The four operations of an ``add(1, 2)`` call: the client's ``dumpsCall(objid, "add", (1, 2), {})``
(``objid`` a 36-character ``obj_`` + 32 hex digits id, as the daemon makes them), the server's
``loadsCall`` of those bytes, the server's ``dumps(3)`` and the client's ``loads`` of that reply.
Each operation runs alone in a process under callgrind, once with FEW and once with MANY
repetitions after a warm-up; the difference of the two totals divided by MANY - FEW is its cost
without start-up. The count is the same on a busy or an idle machine.
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import subprocess
import sys
import tempfile

FEW, MANY = 500, 1500
OPERATIONS = ("dumpsCall", "loadsCall", "dumps", "loads")

PROGRAM = """
import sys
from pyro_protocol import serializers

ser = serializers.get_serializer(sys.argv[2])
objid = "obj_" + "0123456789abcdef" * 2
call = ser.dumpsCall(objid, "add", (1, 2), {})
reply = ser.dumps(3)
obj, method, vargs, kwargs = ser.loadsCall(call)
assert (obj, method, list(vargs), kwargs) == (objid, "add", [1, 2], {})
assert ser.loads(reply) == 3
operation = sys.argv[3]
if operation == "dumpsCall":
    def run(n, dumps_call=ser.dumpsCall):
        for _ in range(n):
            dumps_call(objid, "add", (1, 2), {})
elif operation == "loadsCall":
    def run(n, loads_call=ser.loadsCall):
        for _ in range(n):
            loads_call(call)
elif operation == "dumps":
    def run(n, dumps=ser.dumps):
        for _ in range(n):
            dumps(3)
else:
    def run(n, loads=ser.loads):
        for _ in range(n):
            loads(reply)
run(200)
run(int(sys.argv[1]))
"""

#: For scale: what the loop and a call of an empty Python function with the same arguments cost.
EMPTY_PROGRAM = """
import sys
def nothing(*args):
    pass
def run(n):
    for _ in range(n):
        nothing("obj_0123456789abcdef0123456789abcdef", "add", (1, 2), {})
run(200)
run(int(sys.argv[1]))
"""


def instructions(program: str, *args: str) -> int:
    """The callgrind total ("Collected") of ``python -c program args``."""
    with tempfile.TemporaryDirectory() as folder:
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={folder}/out"]
            + [sys.executable, "-c", program, *args],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},  # (hash randomization makes counts differ run to run)
            check=True,
        )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"no callgrind total in: {done.stderr[-500:]}")
    return int(found.group(1))


def per_round(program: str, *args: str) -> int:
    return (instructions(program, str(MANY), *args) - instructions(program, str(FEW), *args)) // (MANY - FEW)


def main(argv: list[str]) -> int:
    names = argv or ["serpent", "marshal", "msgpack", "json"]
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count()) as pool:  # (each run is a process)
        empty = pool.submit(per_round, EMPTY_PROGRAM)
        counts = {name: [pool.submit(per_round, PROGRAM, name, op) for op in OPERATIONS] for name in names}
        print(f"instructions per operation (an empty function in the same loop: {empty.result():,})")
        print(f"{'serializer':<10}" + "".join(f"{op:>11}" for op in OPERATIONS) + f"{'all four':>11}")
        for name in names:
            row = [count.result() for count in counts[name]]
            print(f"{name:<10}" + "".join(f"{count:>11,}" for count in row) + f"{sum(row):>11,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
