"""Flame: the server object with our client and with genuine Pyro4 4.82, the flameserver command as
a real process (ours and Pyro4's), and the rules that keep Flame off."""

from __future__ import annotations

import colorsys
import contextlib
import inspect
import io
import json.decoder
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest

from pyro_protocol import constants
from pyro_protocol.config import config
from pyro_protocol.errors import PyroError, SecurityError
from pyro_server import Daemon, flame, flameserver

#: Seconds a flame server process gets to print its uri (or to stop).
PROCESS_TIMEOUT = 20.0
CALL_TIMEOUT = 15.0
#: Everything Pyro4 4.82's Flame object exposes, no more.
FLAME_METHODS = {
    "module",
    "builtin",
    "execute",
    "evaluate",
    "sendmodule",
    "getmodule",
    "sendfile",
    "getfile",
    "console",
    "invokeBuiltin",
    "invokeModule",
}
STUFF_SOURCE = """
def doSomething(name, number):
    print("uploaded module says hello to", name)
    return [name, number * 2]
"""
CONSOLE_INPUT = """\
x = 6 * 7
print(x)
for i in range(2):
    print("loop", i)

1 // 0
raise SystemExit(3)
print("still here", x)
"""


def allow_flame(serializer: str = "pickle") -> None:
    """The configuration Flame needs (the autouse restore_config fixture undoes it)."""
    config.FLAME_ENABLED = True
    config.SERIALIZERS_ACCEPTED = {serializer}
    config.SERIALIZER = serializer
    config.COMMTIMEOUT = CALL_TIMEOUT


@contextlib.contextmanager
def flame_daemon(run: Any, hmac: Optional[str] = None) -> Iterator[tuple[Daemon, Any]]:
    daemon = Daemon(host="127.0.0.1")
    daemon._pyroHmacKey = hmac
    uri = flame.start(daemon)
    with run(daemon):
        yield daemon, uri


@pytest.fixture()
def served(run: Any) -> Iterator[tuple[Daemon, Any]]:
    """A daemon with Flame on 127.0.0.1 (any port), served in a thread."""
    allow_flame()
    with flame_daemon(run) as served:
        yield served


@pytest.fixture()
def remote(served: tuple[Daemon, Any]) -> Iterator[Any]:
    """Our client's Flame proxy for ``served``."""
    proxy = flame.connect(served[1].location)
    yield proxy
    proxy._pyroRelease()


@pytest.fixture()
def new_module_name() -> Iterator[str]:
    """A module name for a test to send to the in-process server; removed from sys.modules after."""
    name = f"flametest_{os.getpid()}_{time.monotonic_ns()}"
    yield name
    for loaded in [loaded for loaded in sys.modules if loaded == name or loaded.startswith(name + ".")]:
        del sys.modules[loaded]


def console_session(console: Any, monkeypatch: pytest.MonkeyPatch, lines: str) -> None:
    """Run ``console.interact()`` with ``lines`` as what the user types."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(lines))
    console.interact()


# -- Flame stays off unless it is allowed -----------------------------------------------------


def test_start_is_refused_while_flame_is_disabled():
    config.SERIALIZERS_ACCEPTED = {"pickle"}
    with Daemon(host="127.0.0.1") as daemon:
        with pytest.raises(SecurityError, match=r"config.FLAME_ENABLED = True.*PYRO_FLAME_ENABLED=true"):
            flame.start(daemon)
        assert constants.FLAME_NAME not in daemon.objectsById
    with pytest.raises(SecurityError, match="disabled"):
        flame.Flame()


@pytest.mark.parametrize("accepted", [{"serpent", "marshal", "json", "msgpack"}, {"serpent"}, set()])
def test_start_is_refused_unless_the_daemon_accepts_pickle(accepted):
    config.FLAME_ENABLED = True
    config.SERIALIZERS_ACCEPTED = accepted
    with Daemon(host="127.0.0.1") as daemon:
        with pytest.raises(SecurityError, match=r"SERIALIZERS_ACCEPTED.*PYRO_SERIALIZERS_ACCEPTED=pickle"):
            flame.start(daemon)
        assert constants.FLAME_NAME not in daemon.objectsById


def test_it_exposes_what_pyro4s_flame_exposes(served, remote, monkeypatch):
    config.REQUIRE_EXPOSE = True
    assert served[1] == served[0].uriFor(constants.FLAME_NAME)
    remote._pyroGetMetadata()
    assert remote._pyroMethods == FLAME_METHODS and not remote._pyroAttrs
    with remote.console() as console:
        console.remoteconsole._pyroGetMetadata()
        assert console.remoteconsole._pyroMethods == {"push_and_get_output", "get_banner", "terminate"}
        console_session(console, monkeypatch, "print(2 + 3)\n")  # and it works with REQUIRE_EXPOSE


# -- what a client can do ------------------------------------------------------------------


def test_remote_modules(remote):
    with remote.module("math") as math:
        assert math.sqrt(16) == 4.0
        assert "module 'math'" in repr(math)
    assert remote.module("os.path").join("a", "b") == os.path.join("a", "b")
    assert remote.module("json").dumps({"b": 1, "a": 2}, sort_keys=True, indent=None) == '{"a": 2, "b": 1}'
    assert remote.module("os").path.join("a", "b") == os.path.join("a", "b")  # attribute paths are followed
    with pytest.raises(ModuleNotFoundError):
        remote.module("no_such_module_here")
    with pytest.raises(AttributeError):
        remote.module("math").no_such_function()


def test_remote_builtins(remote):
    assert remote.builtin("max")(3, 9, 4) == 9
    assert remote.builtin("sorted")([3, 1, 2], reverse=True) == [3, 2, 1]
    with pytest.raises(AttributeError, match="no builtin named 'no_such_builtin'"):
        remote.builtin("no_such_builtin")


def test_wrappers_made_from_the_registered_flame_object(served):
    """Pyro4's own tests build FlameBuiltin/FlameModule from the server-side Flame object."""
    daemon, uri = served
    server_side = daemon.objectsById[uri.object]
    with flame.FlameBuiltin(server_side, "max") as builtin:
        assert builtin(3, 9, 4) == 9
    with flame.FlameModule(server_side, "os.path") as module:
        assert module.join("a", "b") == os.path.join("a", "b")


def test_execute_and_evaluate_share_a_namespace(remote):
    assert remote.execute("import math\nroot = math.sqrt(500)\n\n   \n") is None  # trailing blanks are fine
    assert remote.evaluate("round(root, 3)") == 22.361
    remote.execute("def twice(x):\n    return 2 * x\n")
    assert remote.evaluate("twice(21)") == 42
    assert remote.evaluate("os.sep, sys.platform") == (os.sep, sys.platform)  # as in Pyro4's flame module
    with pytest.raises(ZeroDivisionError):
        remote.evaluate("1 // 0")
    with pytest.raises(SyntaxError):
        remote.execute("def broken(:")


def test_sendmodule_makes_a_module_to_call(remote, new_module_name):
    name = f"{new_module_name}.stuff"
    remote.sendmodule(name, STUFF_SOURCE)
    assert remote.module(name).doSomething("hello", 21) == ["hello", 42]
    assert sys.modules[new_module_name].stuff is sys.modules[name]  # the parent package was made
    remote.sendmodule(name, "def doSomething(name, number):\n    return 'replaced'\n")
    assert remote.module(name).doSomething("hello", 21) == "replaced"


def test_create_module_binds_the_top_package_into_a_namespace_and_checks_names(new_module_name):
    namespace: dict[str, Any] = {}
    module = flame.createModule(f"{new_module_name}.inner", "VALUE = 7\n", namespace=namespace)
    assert module.VALUE == 7 and namespace[new_module_name].inner is module
    for bad in ("", "a..b", "a.1b", "a-b"):
        with pytest.raises(ValueError, match="invalid module name"):
            flame.createModule(bad, "")


def test_getmodule_gives_the_source(remote):
    assert remote.getmodule("json.decoder") == inspect.getsource(json.decoder)  # that module, not its package
    with pytest.raises(ModuleNotFoundError):
        remote.getmodule("no_such_module_here")


def test_sendfile_and_getfile(remote, tmp_path):
    target = tmp_path / "sent.bin"
    data = bytes(range(256)) * 4096  # 1 MiB
    remote.sendfile(str(target), data)
    assert target.read_bytes() == data
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    existing = tmp_path / "existing.txt"
    existing.write_text("old contents that are longer")
    existing.chmod(0o644)
    remote.sendfile(str(existing), b"new")
    assert existing.read_bytes() == b"new" and stat.S_IMODE(existing.stat().st_mode) == 0o600
    assert remote.getfile(str(target)) == data
    with pytest.raises(FileNotFoundError):
        remote.getfile(str(tmp_path / "missing"))


def test_remote_console(served, remote, monkeypatch, capsys):
    daemon, uri = served
    with remote.console() as console:
        console_session(console, monkeypatch, CONSOLE_INPUT)
        assert len(daemon.objectsById) == 3  # the daemon object, Flame and this session
    assert len(daemon.objectsById) == 2  # closing the session removed it
    out, err = capsys.readouterr()
    assert f"(Remote console on {uri.location})" in err
    assert ">>> 42\n" in out and "loop 0\nloop 1\n" in out  # (the prompts go to stdout too)
    assert "ZeroDivisionError" in out
    assert "SystemExit(3) ignored" in out
    assert "still here 42\n" in out
    assert out.endswith("(Remote session ended)\n")
    with remote.console() as second:  # a new session starts afresh
        console_session(second, monkeypatch, "print('x' in dir())\n")
    assert "False\n" in capsys.readouterr().out


@pytest.mark.parametrize("serializer", flame.FLAME_SERIALIZERS)
def test_each_pickle_family_serializer_works(run, serializer):
    allow_flame(serializer)
    with flame_daemon(run) as (_daemon, uri), flame.connect(uri.location) as remote:
        assert remote.module("math").factorial(5) == 120
        assert remote.evaluate("[1, 2]") == [1, 2]


def test_hmac_key(run):
    allow_flame()
    with flame_daemon(run, hmac="secret") as (_daemon, uri):
        with pytest.raises(PyroError):
            flame.connect(uri.location)
        with flame.connect(uri.location, hmac_key="secret") as remote:
            # the wrappers come without the key (the server does not send it): the client gives them its own
            assert remote.module("math").sqrt(9) == 3.0
            assert remote.builtin("abs")(-2) == 2


# -- genuine Pyro4 4.82 as the client of our Flame -----------------------------------------


def test_genuine_pyro4_client(served, pyro4, monkeypatch, capsys, tmp_path, new_module_name):
    import Pyro4.utils.flame

    pyro4.config.SERIALIZER = "pickle"
    pyro4.config.COMMTIMEOUT = CALL_TIMEOUT
    remote = Pyro4.utils.flame.connect(served[1].location)
    try:
        module = remote.module("os.path")
        assert type(module) is Pyro4.utils.flame.FlameModule
        assert module.join("a", "b") == os.path.join("a", "b")
        assert remote.builtin("max")(1, 5, 2) == 5
        remote.execute("import math")
        assert remote.evaluate("math.sqrt(16)") == 4.0
        remote.sendmodule(new_module_name, STUFF_SOURCE)
        assert remote.module(new_module_name).doSomething("pyro4", 1) == ["pyro4", 2]
        assert remote.getmodule("json.decoder") == inspect.getsource(json.decoder)
        remote.sendfile(str(tmp_path / "f"), b"\x00\x01data")
        assert remote.getfile(str(tmp_path / "f")) == b"\x00\x01data"
        with remote.console() as console:
            assert type(console) is Pyro4.utils.flame.RemoteInteractiveConsole
            console_session(console, monkeypatch, "print(6 * 7)\n")
        assert ">>> 42\n" in capsys.readouterr().out
        module.flameserver._pyroRelease()
    finally:
        remote._pyroRelease()


# -- the flameserver command as a process ---------------------------------------------------


class FlameProcess:
    """A flame server command in a child process, writing its output (stdout and stderr) to a file."""

    def __init__(self, command: list[str], env: dict[str, str], output: Path) -> None:
        environment = {name: value for name, value in os.environ.items() if not name.startswith("PYRO_")}
        environment.update(PYTHONUNBUFFERED="1", **env)
        self.output = output
        with open(output, "wb") as sink:  # the child has its own copy of the file descriptor
            self.popen = subprocess.Popen(
                command, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=environment
            )

    @property
    def lines(self) -> list[str]:
        return self.output.read_text().splitlines()

    def wait_for(self, prefix: str) -> str:
        """The first output line starting with ``prefix``; fails after PROCESS_TIMEOUT or when the process ends."""
        deadline = time.monotonic() + PROCESS_TIMEOUT
        while True:
            ended = self.popen.poll() is not None  # (read after this: the last lines are in the file by then)
            found = [line for line in self.lines if line.startswith(prefix)]
            if found:
                return found[0]
            if ended or time.monotonic() > deadline:
                raise AssertionError(f"no line starting with {prefix!r} in:\n{self.output.read_text()}")
            time.sleep(0.02)

    @property
    def uri(self) -> str:
        return self.wait_for("server uri: ").split(": ", 1)[1]

    @property
    def location(self) -> str:
        return self.uri.split("@", 1)[1]

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Send ``sig`` to the process by its pid and wait (kill after PROCESS_TIMEOUT); its exit code."""
        if self.popen.poll() is None:
            os.kill(self.popen.pid, sig)
        try:
            return self.popen.wait(PROCESS_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            return self.popen.wait(PROCESS_TIMEOUT)


@pytest.fixture()
def flame_process(tmp_path: Path) -> Iterator[Any]:
    """``flame_process(command, env={})`` starts a child; every one is stopped when the test ends."""
    started: list[FlameProcess] = []

    def start(command: list[str], env: Optional[dict[str, str]] = None) -> FlameProcess:
        process = FlameProcess(command, env or {}, tmp_path / f"output-{len(started)}.txt")
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop(signal.SIGKILL)


OUR_SERVER = [sys.executable, "-m", "pyro_server.flameserver"]
PYRO4_SERVER = [sys.executable, "-m", "Pyro4.utils.flameserver"]
ENABLED = {"PYRO_FLAME_ENABLED": "true"}


def exercise_flame_server(remote: Any, process: FlameProcess, tmp_path: Path, monkeypatch: Any, capsys: Any) -> None:
    """Every Flame operation through ``remote``, proving that it runs in ``process``."""
    assert remote.module("os").getpid() == process.popen.pid
    assert remote.builtin("len")([1, 2, 3]) == 3
    remote.execute("import math\nroot = math.sqrt(16)")
    assert remote.evaluate("root") == 4.0
    remote.sendmodule("flameexample.stuff", STUFF_SOURCE)
    assert remote.module("flameexample.stuff").doSomething("hello", 21) == ["hello", 42]
    assert process.wait_for("uploaded module says hello to hello")  # its print() went to the server's stdout
    assert remote.getmodule("colorsys") == inspect.getsource(colorsys)  # (Pyro4's gives a package for "a.b")
    sent = tmp_path / "sent.bin"
    remote.sendfile(str(sent), b"\x00flame\xff")
    assert sent.read_bytes() == b"\x00flame\xff"
    assert remote.getfile(str(sent)) == b"\x00flame\xff"
    with remote.console() as console:
        console_session(console, monkeypatch, "import os\nprint('pid', os.getpid())\n")
    assert f"pid {process.popen.pid}\n" in capsys.readouterr().out


def test_flameserver_command(flame_process, tmp_path, monkeypatch, capsys):
    allow_flame()
    process = flame_process([*OUR_SERVER, "-H", "127.0.0.1", "-p", "0"], ENABLED)
    uri = process.uri
    assert uri.startswith("PYRO:Pyro.Flame@127.0.0.1:")
    process.wait_for("server is running.")
    assert process.lines == [
        "Starting Pyro Flame server.",
        "Warning: HMAC key not set. Anyone can connect to this server!",
        f"server uri: {uri}",
        "server is running.",
    ]
    with flame.connect(process.location) as remote:
        exercise_flame_server(remote, process, tmp_path, monkeypatch, capsys)
    assert process.stop() == -signal.SIGTERM


def test_flameserver_main_in_process(monkeypatch, capsys):
    monkeypatch.delenv("PYRO_HMAC_KEY", raising=False)
    config.FLAME_ENABLED = True
    config.SERIALIZERS_ACCEPTED = {"serpent", "dill"}
    daemon, uri = flameserver.main(["-H", "127.0.0.1", "-k", "secret"], returnWithoutLooping=True)
    with daemon:
        assert uri == daemon.uriFor(constants.FLAME_NAME) and uri.host == "127.0.0.1"
        assert daemon._pyroHmacKey == b"secret"
        assert {"dill"} == config.SERIALIZERS_ACCEPTED  # only the pickle family is of use to Flame
    out, err = capsys.readouterr()
    assert out.splitlines() == ["Starting Pyro Flame server.", f"server uri: {uri}", "server is running."]
    assert "use PYRO_HMAC_KEY" in err
    monkeypatch.setenv("PYRO_HMAC_KEY", "other")
    with pytest.raises(SystemExit, match="don't use -k and PYRO_HMAC_KEY at the same time"):
        flameserver.main(["-k", "secret"], returnWithoutLooping=True)


def test_flameserver_refuses_to_start_while_flame_is_disabled(flame_process):
    process = flame_process([*OUR_SERVER, "-H", "127.0.0.1", "-p", "0"])
    assert process.popen.wait(PROCESS_TIMEOUT) == 1
    assert process.wait_for("error: cannot start the Flame server: Flame is disabled")
    assert "PYRO_FLAME_ENABLED=true" in process.lines[-1]


def test_flameserver_console_script_on_a_unix_socket_with_hmac_quietly(flame_process, tmp_path):
    allow_flame()
    script = Path(sys.executable).parent / "pyro-flameserver"
    path = tmp_path / "flame.sock"
    process = flame_process([str(script), "-u", str(path), "-q"], {**ENABLED, "PYRO_HMAC_KEY": "sesame"})
    deadline = time.monotonic() + PROCESS_TIMEOUT
    while not path.exists() and time.monotonic() < deadline and process.popen.poll() is None:
        time.sleep(0.05)
    assert path.exists(), process.output.read_text()
    with pytest.raises(PyroError):
        flame.connect(f"./u:{path}")
    with flame.connect(f"./u:{path}", hmac_key="sesame") as remote:
        assert remote.module("os").getpid() == process.popen.pid
    assert process.stop(signal.SIGINT) == 0  # Ctrl-C closes the daemon: the socket file goes
    assert not [line for line in process.lines if line.startswith(("Starting", "Warning", "server"))]  # -q
    assert not path.exists()


def test_genuine_pyro4_client_with_our_flameserver(flame_process, pyro4, monkeypatch, capsys, tmp_path):
    import Pyro4.utils.flame

    pyro4.config.SERIALIZER = "pickle"
    pyro4.config.COMMTIMEOUT = CALL_TIMEOUT
    process = flame_process([*OUR_SERVER, "-H", "127.0.0.1", "-p", "0"], ENABLED)
    remote = Pyro4.utils.flame.connect(process.location)
    try:
        exercise_flame_server(remote, process, tmp_path, monkeypatch, capsys)
    finally:
        remote._pyroRelease()


def test_our_client_with_genuine_pyro4_flameserver(flame_process, tmp_path, monkeypatch, capsys):
    allow_flame()
    process = flame_process([*PYRO4_SERVER, "-H", "127.0.0.1", "-p", "0"], ENABLED)
    with flame.connect(process.location) as remote:
        exercise_flame_server(remote, process, tmp_path, monkeypatch, capsys)


def test_our_client_with_genuine_pyro4_flameserver_and_hmac(flame_process):
    allow_flame()
    process = flame_process([*PYRO4_SERVER, "-H", "127.0.0.1", "-p", "0"], {**ENABLED, "PYRO_HMAC_KEY": "sesame"})
    with flame.connect(process.location, hmac_key="sesame") as remote:
        # Pyro4's own client fails here (its wrappers lack the key); ours hands them its key
        assert remote.module("os").getpid() == process.popen.pid
        assert remote.evaluate("1 + 1") == 2
