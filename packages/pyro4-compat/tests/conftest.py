"""Running Pyro4 4.82's own example programs, unchanged, as a Pyro4 user would.

The examples come from Pyro4 4.82's sdist, downloaded once into ``build/pyro4-sdist``
(not committed). Each test copies one example folder to a temporary directory and
runs its programs in a network namespace of its own (``ip netns``, so root), with
only a loopback interface: the examples' fixed ports (a name server on 9090, a
daemon on 9999, ...) then collide with nothing, and nothing leaves the machine.

``PYRO4_EXAMPLES_IMPL=genuine`` runs the same tests against genuine Pyro4 4.82
(the sdist's ``src`` put first on ``PYTHONPATH``): that is how each test's
expected output was checked to be what genuine Pyro4 prints. The default,
``compat``, runs them against the ``Pyro4`` of this distribution.
"""

from __future__ import annotations

import fcntl
import ipaddress
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Iterator, Optional

import pytest

ROOT = Path(__file__).resolve().parents[3]
SDIST_VERSION = "4.82"
SDIST_DIR = ROOT / "build" / "pyro4-sdist"
IMPL = os.environ.get("PYRO4_EXAMPLES_IMPL", "compat")
#: The address a namespace gets when an example wants an interface other than loopback.
NETWORK_ADDRESS = "192.0.2.1"  # TEST-NET-1: documentation only, never routed
#: How long one program of an example may run before the test calls it hung.
PROGRAM_TIMEOUT = 60.0


def sdist_root() -> Path:
    """Pyro4 4.82's unpacked sdist, downloaded from PyPI on first use.

    Test processes running side by side (pytest-xdist) take turns through a lock file,
    and the unpacked folder appears only once whole (unpacked aside, then renamed).
    """
    unpacked = SDIST_DIR / f"Pyro4-{SDIST_VERSION}"
    if unpacked.is_dir():
        return unpacked
    SDIST_DIR.mkdir(parents=True, exist_ok=True)
    with open(SDIST_DIR / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if unpacked.is_dir():  # another process made it meanwhile
            return unpacked
        archive = SDIST_DIR / f"Pyro4-{SDIST_VERSION}.tar.gz"
        if not archive.exists():
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:"]
                + [f"Pyro4=={SDIST_VERSION}", "-d", str(SDIST_DIR)],
                check=True,
                timeout=300,
            )
        aside = Path(tempfile.mkdtemp(dir=SDIST_DIR))
        with tarfile.open(archive) as tar:
            tar.extractall(aside, filter="data")
        (aside / unpacked.name).rename(unpacked)
        shutil.rmtree(aside)
    return unpacked


@pytest.fixture(scope="session")
def pyro4_sdist() -> Path:
    return sdist_root()


class Program:
    """A running program of an example. Its stdout and stderr are collected as they come,
    partial lines included (the examples prompt with ``input()``)."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str], stdin: bool) -> None:
        self.args = args
        self.popen = subprocess.Popen(
            args,
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self._chunks: list[str] = []
        self._seen = 0  # where the next wait_for starts looking
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        while True:
            chunk = self.popen.stdout.read1(65536)
            with self._changed:
                if chunk:
                    self._chunks.append(chunk.decode("utf-8", "replace"))
                self._changed.notify_all()
            if not chunk:
                break
        self.popen.stdout.close()

    @property
    def output(self) -> str:
        with self._changed:
            return "".join(self._chunks)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        """Wait until ``text`` is printed (after what earlier waits found); returns the output up to it."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                whole = "".join(self._chunks)
                found = whole.find(text, self._seen)
                if found >= 0:
                    self._seen = found + len(text)
                    return whole[: self._seen]
                remaining = deadline - time.monotonic()
                if self.popen.poll() is not None and not self._reader.is_alive():
                    raise AssertionError(f"{self.args} exited ({self.popen.returncode}) before {text!r}:\n{whole}")
                if remaining <= 0:
                    raise AssertionError(f"{self.args} did not print {text!r} in {timeout} s; output:\n{whole}")
                self._changed.wait(min(remaining, 0.2))

    def send(self, text: str) -> None:
        """Type ``text`` (add the newline yourself) at the program's input."""
        assert self.popen.stdin is not None
        self.popen.stdin.write(text.encode())
        self.popen.stdin.flush()

    def close_input(self) -> None:
        if self.popen.stdin is not None and not self.popen.stdin.closed:
            self.popen.stdin.close()

    def wait(self, timeout: float = PROGRAM_TIMEOUT) -> int:
        """Wait for the program to exit by itself; its exit code."""
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.args} still running after {timeout} s; output:\n{self.output}") from None
        self._reader.join(5.0)
        return self.popen.returncode

    def stop(self) -> None:
        """Stop it by its PID: SIGTERM (SIGINT first, which the examples' loops expect), then SIGKILL."""
        if self.popen.poll() is None:
            self.popen.send_signal(2)
            try:
                self.popen.wait(3.0)
            except subprocess.TimeoutExpired:
                self.popen.terminate()
                try:
                    self.popen.wait(3.0)
                except subprocess.TimeoutExpired:
                    self.popen.kill()
                    self.popen.wait(5.0)
        self.close_input()
        self._reader.join(5.0)


class Example:
    """One Pyro4 example, copied to a temporary folder, run in a network namespace of its own."""

    network_address = NETWORK_ADDRESS  # what on_a_network() gives the namespace

    def __init__(self, name: str, sdist: Path, workdir: Path) -> None:
        self.name = name
        self.impl = IMPL
        self.dir = workdir / name
        shutil.copytree(sdist / "examples" / name, self.dir)
        self.sdist = sdist
        self.netns = f"pyro4ex-{uuid.uuid4().hex[:10]}"
        self.programs: list[Program] = []
        try:
            subprocess.run(["ip", "netns", "add", self.netns], check=True, capture_output=True, timeout=10)
        except (OSError, subprocess.CalledProcessError) as exc:
            detail = getattr(exc, "stderr", b"") or b""
            raise AssertionError(
                f"cannot make a network namespace for the example (needs root and iproute2): {exc} {detail!r}"
            ) from None
        self._in_netns(["ip", "link", "set", "lo", "up"])

    def _in_netns(self, command: list[str]) -> None:
        subprocess.run(["ip", "netns", "exec", self.netns, *command], check=True, capture_output=True, timeout=10)

    def env(self, extra: Optional[dict[str, str]] = None) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("PYRO_", "PYTEST"))}
        env["PYTHONUNBUFFERED"] = "1"
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        if self.impl == "genuine":
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.sdist / "src"), env.get("PYTHONPATH")]))
        env.update(extra or {})
        return env

    def start(
        self,
        *args: str,
        env: Optional[dict[str, str]] = None,
        stdin: bool = False,
        cwd: Optional[str] = None,
    ) -> Program:
        """Start ``python <args>`` in the example's folder (or its subfolder ``cwd``), in the namespace."""
        command = ["ip", "netns", "exec", self.netns, sys.executable, *args]
        program = Program(command, self.dir / (cwd or ""), self.env(env), stdin)
        self.programs.append(program)
        return program

    def run(
        self,
        *args: str,
        input: str = "",
        env: Optional[dict[str, str]] = None,
        cwd: Optional[str] = None,
        timeout: float = PROGRAM_TIMEOUT,
        check: bool = True,
    ) -> str:
        """Run ``python <args>`` to its end with ``input`` typed at it; its output (stdout and stderr)."""
        program = self.start(*args, env=env, stdin=True, cwd=cwd)
        program.send(input)
        program.close_input()
        code = program.wait(timeout)
        if check:
            assert code == 0, f"{args} exited with {code}; output:\n{program.output}"
        return program.output

    def name_server(self, *args: str, env: Optional[dict[str, str]] = None) -> Program:
        """A name server as Pyro4's users start one: ``python -m Pyro4.naming`` (localhost:9090)."""
        ns = self.start("-m", "Pyro4.naming", *args, env=env)
        ns.wait_for("NS running")
        return ns

    def on_a_network(self) -> None:
        """Give the example's namespace what a machine on a network has, still on loopback only.

        Some examples bind to the address of the machine's hostname, or find "the address
        the outside sees" by connecting a UDP socket towards 4.2.2.2 (``getIpAddress(...,
        workaround127=True)``), which fails in a namespace without a route. So: a second
        address on ``lo`` and a default route through it, plus the hostname's own address
        when it is not a loopback one. Routes to the DNS servers are made unreachable,
        else name lookups wait for answers that never come instead of failing at once.
        """
        commands = [["ip", "addr", "add", f"{NETWORK_ADDRESS}/24", "dev", "lo"]]
        for server in nameservers():
            commands.append(["ip", "route", "add", "unreachable", f"{server}/32"])
        commands.append(["ip", "route", "add", "default", "via", NETWORK_ADDRESS, "dev", "lo"])
        host = ipaddress.ip_address(socket.gethostbyname(socket.gethostname()))
        if not host.is_loopback and str(host) != NETWORK_ADDRESS:
            commands.append(["ip", "addr", "add", f"{host}/32", "dev", "lo"])
        for command in commands:
            subprocess.run(["ip", "netns", "exec", self.netns, *command], check=True, capture_output=True, timeout=10)

    def close(self) -> None:
        for program in reversed(self.programs):
            program.stop()
        subprocess.run(["ip", "netns", "del", self.netns], capture_output=True, timeout=10)


def nameservers() -> list[str]:
    """The IPv4 DNS servers of /etc/resolv.conf other than loopback ones."""
    try:
        lines = Path("/etc/resolv.conf").read_text().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            try:
                address = ipaddress.ip_address(parts[1])
            except ValueError:
                continue
            if address.version == 4 and not address.is_loopback:
                found.append(str(address))
    return found


@pytest.fixture()
def example(pyro4_sdist: Path, tmp_path: Path) -> Iterator:
    """``example("name")`` -> an :class:`Example`; everything it started is stopped at the end."""
    made: list[Example] = []

    def make(name: str) -> Example:
        made.append(Example(name, pyro4_sdist, tmp_path))
        return made[-1]

    yield make
    for item in made:
        item.close()
