"""Own event loops (sockets/events), combine, connected sockets and serveSimple."""

import contextlib
import io
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import redirect_stdout

import pytest

from pyro_client import Proxy
from pyro_protocol import constants
from pyro_protocol.config import config
from pyro_server import Daemon, serveSimple


class Thing:
    def method(self, arg):
        return arg * 2


def _pump(daemons, stop, poll=0.05):
    """A user's own select loop over the sockets of several daemons."""
    while not stop.is_set():
        by_socket = {}
        for daemon in daemons:
            for sock in daemon.sockets:
                by_socket[sock] = daemon
        readable, _, _ = select.select(list(by_socket), [], [], poll)
        for daemon in daemons:
            mine = [s for s in readable if by_socket[s] is daemon]
            if mine:
                daemon.events(mine)


@pytest.mark.parametrize("servertype", ["thread", "multiplex", "asyncio"])
def test_own_event_loop(pyro4, servertype):
    config.SERVERTYPE = servertype
    stop = threading.Event()
    with Daemon(host="127.0.0.1") as one, Daemon(host="127.0.0.1") as two:
        uri1 = str(one.register(Thing(), "t1"))
        uri2 = str(two.register(Thing(), "t2"))
        loop = threading.Thread(target=_pump, args=([one, two], stop))
        loop.start()
        try:
            with pyro4.Proxy(uri1) as p1, pyro4.Proxy(uri2) as p2:
                assert p1.method(1) == 2 and p2.method(2) == 4
                assert p1.method(3) == 6
        finally:
            stop.set()
            loop.join(timeout=5)


@pytest.mark.parametrize("servertype", ["thread", "multiplex", "asyncio"])
def test_combine(pyro4, run, servertype):
    config.SERVERTYPE = servertype
    master = Daemon(host="127.0.0.1")
    other = Daemon(host="127.0.0.1")
    uri_master = str(master.register(Thing(), "m"))
    uri_other = str(other.register(Thing(), "o"))
    master.combine(other)
    try:
        with run(master):
            with pyro4.Proxy(uri_master) as pm, pyro4.Proxy(uri_other) as po:
                for i in range(3):
                    assert pm.method(i) == 2 * i and po.method(i) == 2 * i
    finally:
        other.close()


def test_combine_with_itself_is_refused():
    with Daemon(host="127.0.0.1") as daemon:
        with pytest.raises(Exception, match="itself"):
            daemon.combine(daemon)


@pytest.mark.parametrize("servertype", ["thread", "multiplex", "asyncio"])
def test_connected_socket_daemon(pyro4, servertype):
    config.SERVERTYPE = servertype
    server_end, client_end = socket.socketpair()
    daemon = Daemon(connected_socket=server_end)
    daemon.register(Thing(), "t")
    loop = threading.Thread(target=daemon.requestLoop)
    loop.start()
    try:
        with pyro4.Proxy("t", connected_socket=client_end) as proxy:
            assert proxy.method(21) == 42
    finally:
        client_end.close()
        loop.join(timeout=5)
        daemon.close()
    assert not loop.is_alive()


def test_serve_simple_without_name_server(pyro4):
    thing = Thing()
    daemon = Daemon(host="127.0.0.1")
    output = io.StringIO()

    def serve():
        with redirect_stdout(output):
            Daemon.serveSimple({thing: "example.thing", Thing: None}, daemon=daemon, ns=False, verbose=True)

    loop = threading.Thread(target=serve)
    loop.start()
    deadline = time.monotonic() + 5
    while "Pyro daemon running." not in output.getvalue() and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        text = output.getvalue()
        assert f"uri = PYRO:example.thing@{daemon.locationStr}" in text
        assert "uri = PYRO:obj_" in text
        with pyro4.Proxy(f"PYRO:example.thing@{daemon.locationStr}") as proxy:
            assert proxy.method(4) == 8
    finally:
        daemon.shutdown()
        loop.join(timeout=5)
    assert not loop.is_alive()
    assert serveSimple is Daemon.serveSimple


def test_daemon_proxy_to_daemon_object(pyro4, run):
    daemon = Daemon(host="127.0.0.1")
    with run(daemon), pyro4.Proxy(f"PYRO:{constants.DAEMON_NAME}@{daemon.locationStr}") as proxy:
        assert proxy.registered() == ["Pyro.Daemon"]


SERVING_PROGRAM = """
import sys, time
from pyro_protocol.config import config
from pyro_server import Daemon, oneway
config.SERVERTYPE = sys.argv[1]

class Worker:
    @oneway
    def work(self):
        print("working", flush=True)
        time.sleep(60)

announced = []

def announce():  # the loop condition: the uri is printed once the loop runs
    if not announced:
        announced.append(print(daemon.register(Worker(), "worker"), flush=True))
    return True

with Daemon(host="127.0.0.1") as daemon:
    daemon.requestLoop(announce)
print("after the loop", flush=True)
"""


@contextlib.contextmanager
def _serving(servertype):
    """A program serving a Worker in its request loop: (the process, the worker's uri); killed at the end."""
    program = subprocess.Popen(
        [sys.executable, "-c", SERVING_PROGRAM, servertype], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert program.stdout is not None
        yield program, program.stdout.readline().strip()
    finally:
        program.kill()
        program.wait(10)


@pytest.mark.parametrize("servertype", ["thread", "multiplex", "asyncio"])
def test_ctrl_c_ends_the_request_loop_and_the_program_goes_on(servertype):
    with _serving(servertype) as (program, _uri):
        program.send_signal(signal.SIGINT)
        out, err = program.communicate(timeout=20)
    assert (program.returncode, out, err) == (0, "after the loop\n", "")


def test_a_running_oneway_call_does_not_keep_the_program_alive():
    """As in Pyro4 (whose oneway calls run in daemon threads): Ctrl-C, and the program ends at once."""
    with _serving("thread") as (program, uri):
        with Proxy(uri) as worker:
            worker.work()  # oneway: returns at once, the call sleeps in the server
        assert program.stdout.readline() == "working\n"
        program.send_signal(signal.SIGINT)
        out, err = program.communicate(timeout=10)
    assert (program.returncode, out, err) == (0, "after the loop\n", "")
