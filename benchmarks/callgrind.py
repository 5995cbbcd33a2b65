"""Instructions per small call, counted by valgrind's callgrind (the same count on a busy or idle machine).

    hatch run bench:callgrind [serializer ...]      (default: serpent marshal msgpack)

One process runs a daemon (thread server) in a thread and a proxy calling ``add(1, 2)``;
it is run under callgrind twice, with FEW and MANY calls after a warm-up, and the
difference of the two totals divided by MANY - FEW is the cost of one call, client and
server together, without start-up. The busy poll is off (PYRO_SPIN_TIME=0): it spins.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile

FEW, MANY = 500, 1500

PROGRAM = """
import sys, threading
from pyro_protocol.config import config
config.SERIALIZER = sys.argv[2]
from pyro_server import Daemon
import pyro_client

class Calc:
    def add(self, a, b):
        return a + b

daemon = Daemon(host="127.0.0.1")
uri = daemon.register(Calc())
threading.Thread(target=daemon.requestLoop, daemon=True).start()
proxy = pyro_client.Proxy(uri)
for _ in range(300 + int(sys.argv[1])):
    proxy.add(1, 2)
proxy._pyroRelease()
daemon.shutdown()
daemon.close()
"""


def instructions(calls: int, serializer: str, program: str = PROGRAM, *args: str) -> int:
    """The callgrind total ("Collected") of the program making ``calls`` calls after its warm-up."""
    with tempfile.TemporaryDirectory() as folder:
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={folder}/out"]
            + [sys.executable, "-c", program, str(calls), serializer, *args],
            capture_output=True,
            text=True,
            env={**os.environ, "PYRO_SPIN_TIME": "0"},
            check=True,
        )
    return int(re.search(r"Collected : (\d+)", done.stderr).group(1))


def main(argv: list[str]) -> int:
    for serializer in argv or ["serpent", "marshal", "msgpack"]:
        per_call = (instructions(MANY, serializer) - instructions(FEW, serializer)) // (MANY - FEW)
        print(f"add(1, 2), {serializer}: {per_call:,} instructions per call (client + server)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
