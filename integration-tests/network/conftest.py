"""A small network for tests that need a real one: two to four hosts, each a network namespace
whose eth0 is plugged into one bridge (in a switch namespace of its own, so nothing touches the
machine's own network). Hosts are on 10.77.0.0/24 with no default route, as on an isolated LAN.

A plain host's cable is a veth pair. A host with latency and loss gets a user-space cable
instead (scripts/lossy_wire.py: two TAP devices and a process between them), because this
kernel has no sch_netem for ``tc qdisc ... netem``. Needs root, iproute2 and /dev/net/tun;
the tests skip, saying why, where those are missing.

Namespace names carry the pid of the test run, and every namespace, bridge and process a
test made is removed when it ends, also when it fails.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from typing import Callable, Iterator, Optional

import pytest

SUBNET = "10.77.0"
#: Seconds any one `ip` command may take (they take milliseconds).
IP_TIMEOUT = 10.0
#: A lossy wire stops by itself after this many seconds, should its test forget it.
WIRE_LIFETIME = 300.0
NAME_PREFIX = "pyrolab-"


class NetworkUnavailable(Exception):
    pass


def ip(*args: str) -> str:
    """Run `ip ARGS`; its output, or an error that quotes its stderr."""
    try:
        done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=IP_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NetworkUnavailable(f"`ip {' '.join(args)}` failed: {exc}") from None
    if done.returncode:
        raise NetworkUnavailable(f"`ip {' '.join(args)}` failed: {done.stderr.strip()}")
    return done.stdout


@dataclass
class Host:
    name: str
    netns: str
    address: str
    port: str  # its cable's end on the bridge (in the switch namespace)
    wire: object = None  # the lossy_wire.py process of a host with latency and loss


class Lab:
    """The network of one test: ``add_host`` plugs in a host, ``start`` runs Python in one,
    ``unplug``/``plug`` pull its cable at the switch, ``close`` removes everything."""

    ip = staticmethod(ip)

    def __init__(self, spawn: Callable[..., object], tag: str) -> None:
        self.spawn = spawn
        self.prefix = f"{NAME_PREFIX}{os.getpid()}-{tag}"
        self.switch = f"{self.prefix}-switch"
        self.hosts: list[Host] = []
        self.namespaces: list[str] = []
        self.processes: list = []

    def open(self) -> None:
        """The switch: a bridge in a namespace of its own (``close`` undoes a half-made one)."""
        self._add_namespace(self.switch)
        ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        ip("-n", self.switch, "link", "set", "br0", "up")

    def _add_namespace(self, name: str) -> None:
        ip("netns", "add", name)
        self.namespaces.append(name)
        ip("-n", name, "link", "set", "lo", "up")

    def add_host(self, name: str, delay: float = 0.0, loss: float = 0.0, seed: int = 1) -> Host:
        """A host at 10.77.0.<n>; with ``delay`` (s) and ``loss`` (0..1) on both ways of its cable."""
        index = len(self.hosts) + 1
        host = Host(name, f"{self.prefix}-{name}", f"{SUBNET}.{index}", f"p{index}")
        self._add_namespace(host.netns)
        if delay or loss:
            end = f"w{index}"  # the host's end, made in the switch namespace, then moved and renamed
            wire = self.start_in(
                self.switch,
                ["integration-tests/scripts/lossy_wire.py", end, host.port, str(delay), str(loss), str(seed)]
                + [str(WIRE_LIFETIME)],
            )
            wire.wait_for("ready")
            host.wire = wire
            ip("-n", self.switch, "link", "set", end, "netns", host.netns)
            ip("-n", host.netns, "link", "set", end, "name", "eth0")
        else:
            ip("-n", self.switch, "link", "add", host.port, "type", "veth", "peer", "name", "eth0", "netns", host.netns)
        ip("-n", self.switch, "link", "set", host.port, "master", "br0", "up")
        ip("-n", host.netns, "link", "set", "eth0", "up")
        ip("-n", host.netns, "addr", "add", f"{host.address}/24", "brd", "+", "dev", "eth0")
        self.hosts.append(host)
        return host

    def start_in(self, netns: str, args: list[str], env: Optional[dict[str, str]] = None):
        process = self.spawn(args, env, netns=netns)
        self.processes.append(process)
        return process

    def start(self, host: Host, args: list[str], env: Optional[dict[str, str]] = None):
        """Run ``python ARGS`` on ``host`` (stopped by pid when the test ends)."""
        return self.start_in(host.netns, args, env)

    def unplug(self, host: Host) -> None:
        ip("-n", self.switch, "link", "set", host.port, "down")

    def plug(self, host: Host) -> None:
        ip("-n", self.switch, "link", "set", host.port, "up")

    def close(self) -> None:
        # processes first: a namespace lives on (with its devices) while a process is in it
        for process in reversed(self.processes):
            process.stop()
        for name in reversed(self.namespaces):
            try:
                ip("netns", "del", name)
            except NetworkUnavailable:
                pass


def _remove_stale_namespaces() -> None:
    """Namespaces of earlier test runs that died before they could clean up (their pid is gone)."""
    for line in ip("netns", "list").splitlines():
        found = re.match(rf"{NAME_PREFIX}(\d+)-\S+", line)
        if found and not os.path.exists(f"/proc/{found.group(1)}"):
            ip("netns", "del", found.group(0))


@pytest.fixture(scope="session")
def network_possible() -> None:
    """Skips (with the reason) unless network namespaces, veth pairs and bridges can be made."""
    if os.geteuid() != 0:
        pytest.skip("network namespace tests need root (ip netns add)")
    probe = Lab(lambda *args, **kwargs: None, "probe")
    try:
        _remove_stale_namespaces()
        probe.open()
        ip("-n", probe.switch, "link", "add", "p1", "type", "veth", "peer", "name", "p2")
        ip("-n", probe.switch, "link", "set", "p1", "master", "br0")
    except NetworkUnavailable as exc:
        pytest.skip(f"cannot build a test network here: {exc}")
    finally:
        probe.close()


@pytest.fixture
def lab(network_possible, spawn, request, monkeypatch) -> Iterator[Lab]:
    """An empty network for this test; hosts' processes see no PYRO_* settings but the test's own."""
    for name in list(os.environ):
        if name.startswith("PYRO_"):
            monkeypatch.delenv(name)
    network = Lab(spawn, re.sub(r"[^a-z0-9]", "", request.node.name.lower())[-16:])
    try:
        network.open()
        yield network
    finally:
        network.close()


@pytest.fixture
def numbers() -> Callable[[str], None]:
    """``numbers(line)`` prints a measured number for the closing notes (seen with ``pytest -s``)."""

    def show(line: str) -> None:
        print(f"\nNUMBERS {line}", flush=True)

    return show
