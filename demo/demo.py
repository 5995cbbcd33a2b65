"""The demo: a name server, a server and a client talking, with a transcript of what happened.

Runs with `hatch run demo`. Starts `pyro-ns` and demo_server.py as child processes
on 127.0.0.1 (free ports), calls the published objects by PYRONAME from here,
and stops both processes at the end.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def say(text: str) -> None:
    print(text, flush=True)


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )


def read_until(process: subprocess.Popen[str], marker: str, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if marker in line:
            return line.strip()
    raise RuntimeError(f"{process.args} did not print {marker!r}")


def wait_for_name(name: str, timeout: float = 15.0) -> None:
    import pyro_client

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with pyro_client.locateNS() as ns:
            if name in ns.list(prefix=name):
                return
        time.sleep(0.05)
    raise RuntimeError(f"{name} never appeared in the name server")


def run_client() -> None:
    import pyro_client
    from pyro_client import Proxy

    with pyro_client.locateNS() as ns:
        names = sorted(ns.list(prefix="demo."))
        say(f"client: the name server knows {len(names)} demo objects: {', '.join(names)}")

    with Proxy("PYRONAME:demo.thing") as thing:
        say(
            f"client: thing.method(42) -> {thing.method(42)}   (the servers chapter's Thing, found by PYRONAME:demo.thing)"
        )
        say(f"        the name server resolved it to {pyro_client.resolve('PYRONAME:demo.thing')}")

    with Proxy("PYRONAME:demo.worker") as worker:
        started = time.monotonic()
        worker.start_job(0.5)
        say(
            f"client: worker.start_job(0.5) returned after {1000 * (time.monotonic() - started):.1f} ms (oneway: no waiting)"
        )
        time.sleep(0.7)
        say(f"client: worker.done() -> {worker.done()} job finished in the background")

    for mode in ("session", "single", "percall"):
        with Proxy(f"PYRONAME:demo.counter.{mode}") as first, Proxy(f"PYRONAME:demo.counter.{mode}") as second:
            counts = [first.increment(), first.increment(), second.increment()]
        say(f"client: {mode:8} counter, two calls on proxy A then one on proxy B -> {counts}")

    with Proxy("PYRONAME:demo.shop") as shop:
        basket = shop.new_basket("alice")
        say(
            f"client: shop.new_basket('alice') returned a {type(basket).__name__} (autoproxy) for {basket._pyroUri.object}"
        )
        basket.add("apples")
        say(f"client: basket.add('pears') -> {basket.add('pears')!r}")
        basket._pyroRelease()
        say(f"client: list(shop.countdown(5)) -> {list(shop.countdown(5))}   (a remote iterator)")
        try:
            shop.divide(1, 0)
        except ZeroDivisionError as error:
            remote = "".join(error._pyroTraceback).strip().splitlines()[-1]
            say(f"client: shop.divide(1, 0) raised ZeroDivisionError here; remote traceback ends with: {remote}")


def main() -> int:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    say("demo: starting a name server (pyro-ns) on 127.0.0.1 ...")
    ns_process = start(["-m", "pyro_naming", "-n", "127.0.0.1", "-p", "0", "-x"], env)
    server = None
    try:
        uri_line = read_until(ns_process, "PYRO:Pyro.NameServer@")
        ns_uri = uri_line[uri_line.index("PYRO:") :].split()[0]
        host, port = ns_uri.split("@", 1)[1].rsplit(":", 1)
        say(f"demo: name server is up at {ns_uri}")
        env.update(PYRO_NS_HOST=host, PYRO_NS_PORT=port)
        os.environ.update(PYRO_NS_HOST=host, PYRO_NS_PORT=port)
        from pyro_protocol.config import config

        config.reset()
        say("demo: starting the server (demo/demo_server.py), which registers its objects with the name server ...")
        server = start([str(HERE / "demo_server.py")], env)
        wait_for_name("demo.shop")
        say("demo: server is up; now the client calls it:")
        run_client()
        say("demo: done; stopping the server and the name server.")
        return 0
    finally:
        for process in (server, ns_process):
            if process is not None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)
                if process.stdout is not None:
                    process.stdout.close()


if __name__ == "__main__":
    sys.exit(main())
