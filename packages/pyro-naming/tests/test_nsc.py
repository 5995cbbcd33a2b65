"""pyro-nsc: every command run against a genuine Pyro4 name-server proxy, exit codes, and the
``nsc_main`` entry point (which needs our client's ``locateNS``)."""

import io
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from pyro_naming import cli
from pyro_naming import nsc as nsc_module
from pyro_naming.cli import NSC_COMMANDS, nsc_main, run_nsc_command
from pyro_protocol import constants

NSC_MODULE = [sys.executable, "-m", "pyro_naming.nsc"]
NSC_SCRIPT = [str(Path(sys.executable).with_name("pyro-nsc"))]


@pytest.fixture()
def nsc(pyro4, name_server):
    """``nsc(*args, confirm=...)`` -> (exit code, output) of one command, run through a Pyro4 proxy."""
    daemon = name_server()
    daemon.nameserver.register("app.one", "PYRO:one@127.0.0.1:1001", metadata={"red", "round"})
    daemon.nameserver.register("app.two", "PYRO:two@127.0.0.1:1002", metadata={"red"})
    proxies = []

    def command(*args, confirm=lambda question: True):
        proxy = pyro4.Proxy(str(daemon.uriFor(constants.NAMESERVER_NAME)))
        proxies.append(proxy)
        out = io.StringIO()
        code = run_nsc_command(proxy, list(args), out=out, confirm=confirm)
        return code, out.getvalue()

    command.nameserver = daemon.nameserver
    yield command
    for proxy in proxies:
        proxy._pyroRelease()


def test_ping(nsc):
    assert nsc("ping") == (0, "Name server ping ok.\n")


def test_list_everything(nsc):
    code, out = nsc("list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "--------START LIST" and lines[-1] == "--------END LIST"
    assert "app.one --> PYRO:one@127.0.0.1:1001" in lines
    assert "    metadata: ['red', 'round']" in lines
    assert any(line.startswith("Pyro.NameServer --> PYRO:Pyro.NameServer@127.0.0.1:") for line in lines)
    assert lines.index("app.one --> PYRO:one@127.0.0.1:1001") < lines.index("app.two --> PYRO:two@127.0.0.1:1002")


def test_list_with_prefix_and_regex(nsc):
    code, out = nsc("list", "app.t")
    assert code == 0 and "--------START LIST - prefix 'app.t'" in out
    assert "app.two -->" in out and "app.one" not in out
    code, out = nsc("listmatching", ".*one")
    assert code == 0 and "app.one -->" in out and "app.two" not in out and "regex '.*one'" in out


def test_list_by_metadata(nsc):
    code, out = nsc("listmeta_all", "red", "round")
    assert code == 0 and "app.one -->" in out and "app.two" not in out
    code, out = nsc("listmeta_any", "round", "nothing")
    assert code == 0 and "app.one -->" in out and "app.two" not in out
    code, out = nsc("listmeta_any", "class:Pyro4.naming.NameServer")
    assert code == 0 and "Pyro.NameServer -->" in out


def test_lookup(nsc):
    assert nsc("lookup", "app.two") == (0, "PYRO:two@127.0.0.1:1002\nmetadata: ['red']\n")
    code, out = nsc("lookup", "missing")
    assert code == 1 and out == "Error: NamingError - unknown name: missing\n"


def test_register_is_safe(nsc):
    assert nsc("register", "new.name", "PYRO:new@127.0.0.1:1003") == (0, "Registered new.name\n")
    assert str(nsc.nameserver.lookup("new.name")) == "PYRO:new@127.0.0.1:1003"
    code, out = nsc("register", "new.name", "PYRO:other@127.0.0.1:1004")
    assert code == 1 and "name already registered: new.name" in out
    code, out = nsc("register", "bad", "not-a-uri")
    assert code == 1 and out.startswith("Error: PyroError - invalid uri")


def test_remove(nsc):
    assert nsc("remove", "app.one") == (0, "Removed app.one\n")
    assert nsc("remove", "app.one") == (1, "Nothing removed\n")
    assert nsc("remove", "Pyro.NameServer") == (1, "Nothing removed\n")


def test_removematching_asks_first(nsc):
    questions = []

    def refuse(question):
        questions.append(question)
        return False

    assert nsc("removematching", "app", confirm=refuse) == (1, "Nothing removed (not confirmed)\n")
    assert "Are you sure" in questions[0]
    assert nsc.nameserver.count() == 3
    assert nsc("removematching", "app") == (0, "2 items removed.\n")
    assert nsc.nameserver.count() == 1


def test_setmeta(nsc):
    assert nsc("setmeta", "app.two", "blue", "green") == (0, "Metadata updated\n")
    assert nsc.nameserver.lookup("app.two", return_metadata=True)[1] == ["blue", "green"]
    assert nsc("setmeta", "app.two") == (0, "Metadata cleared\n")
    assert nsc.nameserver.lookup("app.two", return_metadata=True)[1] == []
    code, out = nsc("setmeta", "missing", "x")
    assert code == 1 and "unknown name: missing" in out


@pytest.mark.parametrize(
    "args",
    [
        ["lookup"],
        ["lookup", "a", "b"],
        ["register", "x"],
        ["listmatching"],
        ["listmeta_all"],
        ["setmeta"],
        ["list", "a", "b"],
        ["ping", "x"],
    ],
)
def test_wrong_arguments_are_usage_errors(nsc, args):
    code, out = nsc(*args)
    assert code == 2 and out.startswith(f"Error: {args[0]} requires")


def test_unknown_command(nsc):
    code, out = nsc("frobnicate")
    assert code == 2 and "unknown command 'frobnicate'" in out
    assert nsc()[0] == 2


def test_the_command_set_is_pyro4s():
    assert sorted(NSC_COMMANDS) == sorted(
        [
            "ping",
            "list",
            "listmatching",
            "listmeta_all",
            "listmeta_any",
            "lookup",
            "register",
            "remove",
            "removematching",
            "setmeta",
        ]
    )


def test_nsc_main_rejects_unknown_commands_before_locating(capsys):
    with pytest.raises(SystemExit) as caught:
        nsc_main(["frobnicate"])
    assert caught.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def _client_locate_ns():
    client = pytest.importorskip("pyro_client")
    if not hasattr(client, "locateNS") or not hasattr(client, "Proxy"):
        pytest.skip("pyro_client has no locateNS/Proxy yet (the client package is not merged in this branch)")
    return client


def test_nsc_main_against_a_running_name_server(name_server, capsys):
    _client_locate_ns()
    daemon = name_server()
    daemon.nameserver.register("app.x", "PYRO:x@127.0.0.1:1")
    port = str(daemon.sock.getsockname()[1])
    assert nsc_main(["-n", "127.0.0.1", "-p", port, "ping"]) == 0
    assert "Name server ping ok." in capsys.readouterr().out
    assert nsc_main(["-n", "127.0.0.1", "-p", port, "-v", "lookup", "app.x"]) == 0
    out = capsys.readouterr().out
    assert "PYRO:x@127.0.0.1:1" in out and "Name server found" in out
    assert nsc_main(["-n", "127.0.0.1", "-p", port, "lookup", "nope"]) == 1
    assert nsc_main(["-n", "127.0.0.1", "-p", port, "-y", "removematching", "app"]) == 0
    assert daemon.nameserver.count() == 1


def test_nsc_main_when_no_name_server_is_there(free_port, capsys):
    _client_locate_ns()
    assert nsc_main(["-n", "127.0.0.1", "-p", str(free_port()), "ping"]) == 1
    assert capsys.readouterr().err.startswith("Error: ")


def test_nsc_main_without_a_client_package_says_what_is_missing(capsys):
    import pyro_client

    if hasattr(pyro_client, "locateNS"):
        pytest.skip("pyro_client has locateNS: the missing-client path cannot happen")
    assert nsc_main(["-n", "127.0.0.1", "-p", "1", "ping"]) == 1
    assert "needs pyro_client.locateNS" in capsys.readouterr().err


def test_nsc_main_with_pyro4s_locate_ns_standing_in_for_the_client(pyro4, name_server, monkeypatch, capsys):
    """The whole entry point, with the genuine Pyro4 locateNS (same API) in place of pyro_client's."""
    import pyro_client

    monkeypatch.setattr(pyro_client, "locateNS", pyro4.locateNS, raising=False)
    daemon = name_server()
    port = str(daemon.sock.getsockname()[1])
    assert nsc_main(["-n", "127.0.0.1", "-p", port, "-v", "register", "cli.thing", "PYRO:t@127.0.0.1:9"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Locating name server..."
    assert out[1] == f"Name server found: PYRO:Pyro.NameServer@127.0.0.1:{port}"
    assert out[2:] == ["Registered cli.thing", "Done."]
    assert nsc_main(["-n", "127.0.0.1", "-p", port, "list", "cli."]) == 0
    assert "cli.thing --> PYRO:t@127.0.0.1:9" in capsys.readouterr().out
    assert nsc_main(["-n", "127.0.0.1", "-p", port, "remove", "nothing.here"]) == 1
    with monkeypatch.context() as patch:
        patch.setenv("PYRO_HMAC_KEY", "k")
        patch.setattr(pyro4.config, "COMMTIMEOUT", 2.0)
        assert nsc_main(["-n", "127.0.0.1", "-p", port, "ping"]) == 1  # the server has no key: refused
    assert "Error" in capsys.readouterr().err


def run_tool(command, *args, stdin=""):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYRO_")}
    return subprocess.run([*command, *args], input=stdin, capture_output=True, text=True, timeout=30, env=env)


def test_python_m_nsc_against_a_running_name_server(name_server):
    daemon = name_server()
    daemon.nameserver.register("app.x", "PYRO:x@127.0.0.1:1", metadata={"tag"})
    at = ["-n", "127.0.0.1", "-p", str(daemon.sock.getsockname()[1])]
    done = run_tool(NSC_MODULE, *at, "-v", "lookup", "app.x")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "Locating name server...",
        f"Name server found: PYRO:Pyro.NameServer@{daemon.locationStr}",
        "PYRO:x@127.0.0.1:1",
        "metadata: ['tag']",
        "Done.",
    ]
    done = run_tool(NSC_MODULE, *at, "register", "app.new", "PYRO:n@127.0.0.1:2")
    assert (done.returncode, done.stdout) == (0, "Registered app.new\n")
    assert str(daemon.nameserver.lookup("app.new")) == "PYRO:n@127.0.0.1:2"
    done = run_tool(NSC_MODULE, *at, "removematching", "app.*", stdin="y\n")  # the question answered on stdin
    assert done.returncode == 0 and done.stdout.endswith("2 items removed.\n")
    assert daemon.nameserver.count() == 1


def test_python_m_nsc_is_the_pyro_nsc_command():
    assert nsc_module.main is cli.nsc_main  # one implementation
    helps = [run_tool(command, "--help") for command in (NSC_MODULE, NSC_SCRIPT)]
    assert helps[0].returncode == helps[1].returncode == 0
    assert helps[0].stdout == helps[1].stdout and "removematching" in helps[0].stdout


def test_handle_command_is_pyro4s_entry(pyro4, name_server, capsys):
    daemon = name_server()
    daemon.nameserver.register("app.one", "PYRO:one@127.0.0.1:1")
    daemon.nameserver.register("app.two", "PYRO:two@127.0.0.1:2")
    with pyro4.Proxy(str(daemon.uriFor(constants.NAMESERVER_NAME))) as proxy:
        assert nsc_module.handleCommand(proxy, None, ["lookup", "app.one"]) == 0
        assert capsys.readouterr().out == "PYRO:one@127.0.0.1:1\n"
        assert nsc_module.handleCommand(proxy, SimpleNamespace(verbose=False), ("list", "app.t")) == 0
        assert "app.two --> PYRO:two@127.0.0.1:2" in capsys.readouterr().out
        assert nsc_module.handleCommand(proxy, SimpleNamespace(yes=True), ["removematching", "app"]) == 0
        assert capsys.readouterr().out == "2 items removed.\n"
        assert nsc_module.handleCommand(proxy, None, ["lookup"]) == 2
        assert capsys.readouterr().out == "Error: lookup requires one argument: name\n"
