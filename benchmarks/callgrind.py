"""Instructions per small call, counted by valgrind's callgrind (the same count on a busy or idle machine).

    hatch run bench:callgrind [serializer ...]      (default: serpent marshal msgpack)

One process runs a daemon in a thread and a proxy calling ``add(1, 2)``; it is run under
callgrind twice, with FEW and MANY calls after a warm-up, and the difference of the two
totals divided by MANY - FEW is the cost of one call, client and server together, without
start-up. Measured for our thread and multiplex servers, for genuine Pyro4 4.82 (thread
server) in the same way, and for the floor: a raw Python socket echo of the same bytes
(no protocol work at all). The busy poll is off (PYRO_SPIN_TIME=0): it spins.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile

FEW, MANY = 500, 1500
WARM_UP = 300

OURS = """
import sys, threading
from pyro_protocol.config import config
config.SERIALIZER = sys.argv[2]
config.SERVERTYPE = sys.argv[3]
from pyro_server import Daemon
import pyro_client

class Calc:
    def add(self, a, b):
        return a + b

daemon = Daemon(host="127.0.0.1")
uri = daemon.register(Calc())
threading.Thread(target=daemon.requestLoop, daemon=True).start()
proxy = pyro_client.Proxy(uri)
for _ in range(WARM_UP + int(sys.argv[1])):
    proxy.add(1, 2)
proxy._pyroRelease()
daemon.shutdown()
daemon.close()
"""

PYRO4 = """
import sys, threading
import Pyro4
Pyro4.config.SERIALIZER = sys.argv[2]
Pyro4.config.SERIALIZERS_ACCEPTED.add(sys.argv[2])
Pyro4.config.SERVERTYPE = sys.argv[3]

@Pyro4.expose
class Calc:
    def add(self, a, b):
        return a + b

daemon = Pyro4.Daemon(host="127.0.0.1")
uri = daemon.register(Calc())
threading.Thread(target=daemon.requestLoop, daemon=True).start()
proxy = Pyro4.Proxy(uri)
for _ in range(WARM_UP + int(sys.argv[1])):
    proxy.add(1, 2)
proxy._pyroRelease()
daemon.shutdown()
"""

#: The floor: a client and a server thread trading the bytes of a small call, nothing else.
RAW = """
import socket, sys, threading
request, reply = b"r" * 80, b"a" * 50
listener = socket.create_server(("127.0.0.1", 0))

def serve():
    conn, _ = listener.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while conn.recv(65536):
        conn.sendall(reply)

threading.Thread(target=serve, daemon=True).start()
client = socket.create_connection(listener.getsockname())
client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
for _ in range(WARM_UP + int(sys.argv[1])):
    client.sendall(request)
    client.recv(65536)
client.close()
"""


def instructions(program: str, calls: int, *args: str) -> int:
    """The callgrind total ("Collected") of ``program`` making ``calls`` calls after its warm-up."""
    with tempfile.TemporaryDirectory() as folder:
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={folder}/out"]
            + [sys.executable, "-c", program.replace("WARM_UP", str(WARM_UP)), str(calls), *args],
            capture_output=True,
            text=True,
            env={**os.environ, "PYRO_SPIN_TIME": "0"},
            check=True,
        )
    match = re.search(r"Collected : (\d+)", done.stderr)
    assert match is not None, done.stderr[-2000:]
    return int(match.group(1))


def per_call(program: str, *args: str) -> int:
    return (instructions(program, MANY, *args) - instructions(program, FEW, *args)) // (MANY - FEW)


def main(argv: list[str]) -> int:
    floor = per_call(RAW)
    print(f"raw Python socket echo (the floor): {floor:,} instructions per call")
    print(f"{'serializer':<10} {'ours, thread':>14} {'ours, multiplex':>16} {'Pyro4 4.82':>12} {'Pyro4/ours':>11}")
    for serializer in argv or ["serpent", "marshal", "msgpack"]:
        thread = per_call(OURS, serializer, "thread")
        multiplex = per_call(OURS, serializer, "multiplex")
        pyro4 = per_call(PYRO4, serializer, "thread")
        print(f"{serializer:<10} {thread:>14,} {multiplex:>16,} {pyro4:>12,} {pyro4 / thread:>10.2f}x", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
