"""Large-payload echo as a user's plain scripts see it: a server process and a client process.

    hatch run bench:echo [--size MIB] [--calls N] [--rounds N] [serializer ...]   (default: marshal msgpack)

For each implementation (ours, Pyro4 4.82) and serializer, a fresh server process (a daemon with an
``echo`` method, thread server, nothing pinned, no setting changed but the serializer accepted) and
a fresh client process
that calls ``proxy.echo(data)`` in a loop with a ``bytes`` object of SIZE MiB, after one call to
connect; the raw socket floor is the same over a bare socket with a 4-byte length prefix (the
server echoes what it read without a copy, the client makes the reply one bytes object). Rounds are taken in turns
(ours, Pyro4, raw; ours, Pyro4, raw; ...) so that a slow spell of the machine hits all alike; the
figure is the median MB/s of the rounds.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import struct
import subprocess
import sys
import time

from .servers import recv_exactly

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
_PREFIX = struct.Struct("!I")


def serve(impl: str, serializer: str) -> None:
    """A server with an echo object that accepts ``serializer`` (Pyro4's daemon refuses msgpack by
    default); prints its URI (or, for "raw", its port); serves until killed."""
    if impl == "raw":
        listener = socket.create_server(("127.0.0.1", 0))
        print(listener.getsockname()[1], flush=True)
        sock, _ = listener.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buffer = bytearray()
        while True:
            head = sock.recv(4, socket.MSG_WAITALL)
            if len(head) < 4:
                return
            sock.sendall(head)
            sock.sendall(recv_exactly(sock, _PREFIX.unpack(head)[0], buffer))  # (no copy: the floor)
    if impl == "pyro4":
        import Pyro4 as api

        api.config.SERIALIZERS_ACCEPTED.add(serializer)
    else:
        import pyro_server as api
        from pyro_protocol.config import config

        config.SERIALIZERS_ACCEPTED.add(serializer)

    class Echo:
        def echo(self, data: bytes) -> bytes:
            return data

        def cpu(self) -> float:
            return time.process_time()  # (all the server's threads)

    daemon = api.Daemon(host="127.0.0.1")
    print(daemon.register(api.expose(Echo)(), "echo"), flush=True)
    daemon.requestLoop()


def client(impl: str, serializer: str, where: str, size: int, calls: int) -> None:
    """Prints the wall-clock MB/s of ``calls`` echo calls (after one to connect), and the CPU seconds
    the client and the server spent on them (0 for the raw socket: not measured)."""
    data = bytes(range(256)) * (size // 256)
    if impl == "raw":
        sock = socket.create_connection(("127.0.0.1", int(where)))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buffer = bytearray()

        def echo(value: bytes) -> bytes:
            sock.sendall(_PREFIX.pack(len(value)))
            sock.sendall(value)
            size = _PREFIX.unpack(sock.recv(4, socket.MSG_WAITALL))[0]
            return bytes(recv_exactly(sock, size, buffer))  # the reply as a bytes object, as a call's result

        def cpu() -> float:
            return 0.0

    else:
        if impl == "pyro4":
            import Pyro4 as api

            api.config.SERIALIZER = serializer
        else:
            import pyro_client as api
            from pyro_protocol.config import config

            config.SERIALIZER = serializer
        proxy = api.Proxy(where)
        echo = proxy.echo

        def cpu() -> float:
            return proxy.cpu() + time.process_time()  # type: ignore[no-any-return]

    if echo(data) != data:
        raise AssertionError("the echo differs")
    used = cpu()
    start = time.perf_counter()
    for _ in range(calls):
        echo(data)
    wall = time.perf_counter() - start
    print(size * calls / wall / 1e6, cpu() - used, flush=True)


def measure(impl: str, serializer: str, size: int, calls: int) -> tuple[float, float]:
    """(wall-clock MB/s, MB per CPU second of client and server together) of one fresh pair."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("PYRO_")}
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    run = [sys.executable, "-m", "benchmarks.echo_script"]
    server = subprocess.Popen(
        [*run, "--serve", impl, serializer],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        assert server.stdout is not None
        where = server.stdout.readline().strip()
        done = subprocess.run(
            [
                *run,
                "--client",
                impl,
                serializer,
                where,
                str(size),
                str(calls),
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=600,
            check=True,
        )
        mb_per_s, cpu = map(float, done.stdout.split()[-2:])
        return mb_per_s, size * calls / 1e6 / cpu if cpu else 0.0
    finally:
        server.kill()
        server.wait()
        if server.stdout is not None:
            server.stdout.close()


def main(argv: list[str]) -> int:
    if argv[:1] == ["--serve"]:
        serve(argv[1], argv[2])
        return 0
    if argv[:1] == ["--client"]:
        client(argv[1], argv[2], argv[3], int(argv[4]), int(argv[5]))
        return 0
    parser = argparse.ArgumentParser(prog="bench:echo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=float, default=10.0, help="MiB per echo (default 10)")
    parser.add_argument("--calls", type=int, default=20, help="calls per round (default 20)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each (default 5)")
    parser.add_argument("serializers", nargs="*", default=["marshal", "msgpack"])
    args = parser.parse_args(argv)
    size = int(args.size * (1 << 20))
    print(f"echo of {args.size:g} MiB bytes, {args.calls} calls a round, median of {args.rounds} rounds")
    print("MB/s by the clock (what the script sees); MB per CPU second of client and server together")
    print("(steadier on a busy machine: an echo is mostly one process waiting for the other)")
    for serializer in args.serializers:
        samples: dict[str, list[tuple[float, float]]] = {"ours": [], "pyro4": [], "raw": []}
        for _ in range(args.rounds):
            for impl in samples:
                samples[impl].append(measure(impl, serializer, size, args.calls))
        ours, pyro4, raw = (statistics.median(sample[0] for sample in samples[impl]) for impl in samples)
        print(
            f"{serializer:8} MB/s      ours {ours:6.0f}   Pyro4 {pyro4:6.0f}   raw socket {raw:6.0f}   "
            f"ours/Pyro4 {ours / pyro4:4.2f}   ours/raw {ours / raw:4.2f}"
        )
        ours, pyro4 = (statistics.median(sample[1] for sample in samples[impl]) for impl in ("ours", "pyro4"))
        print(f"{serializer:8} MB/CPU s  ours {ours:6.0f}   Pyro4 {pyro4:6.0f}   ours/Pyro4 {ours / pyro4:4.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
