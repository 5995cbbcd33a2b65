"""The configuration: Pyro4 4.82's items and defaults, PYRO_* environment overrides, the CLI."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

import pyro_protocol
from pyro_protocol import Config, config
from pyro_protocol.config import ITEM_DEFAULTS

#: protocol section 8 (Pyro4 4.82's defaults), with the two deliberate differences (REQUIRE_EXPOSE, SERIALIZERS_ACCEPTED)
SPEC_DEFAULTS = {
    "HOST": "localhost",
    "NS_HOST": "localhost",
    "NS_PORT": 9090,
    "NS_BCPORT": 9091,
    "NS_BCHOST": None,
    "NS_AUTOCLEAN": 0.0,
    "NATHOST": None,
    "NATPORT": 0,
    "COMPRESSION": False,
    "SERVERTYPE": "thread",
    "COMMTIMEOUT": 0.0,
    "POLLTIMEOUT": 2.0,
    "SOCK_REUSE": True,
    "SOCK_NODELAY": False,
    "ONEWAY_THREADED": True,
    "DETAILED_TRACEBACK": False,
    "THREADPOOL_SIZE": 40,
    "THREADPOOL_SIZE_MIN": 4,
    "AUTOPROXY": True,
    "MAX_MESSAGE_SIZE": 0,
    "BROADCAST_ADDRS": "<broadcast>, 0.0.0.0",
    "FLAME_ENABLED": False,
    "PREFER_IP_VERSION": 4,
    "SERIALIZER": "serpent",
    "SERIALIZERS_ACCEPTED": {"serpent", "marshal", "json", "msgpack"},
    "LOGWIRE": False,
    "PICKLE_PROTOCOL_VERSION": pickle.HIGHEST_PROTOCOL,
    "DILL_PROTOCOL_VERSION": pickle.HIGHEST_PROTOCOL,  # dill is installed in the test environment
    "METADATA": True,
    "REQUIRE_EXPOSE": False,
    "USE_MSG_WAITALL": sys.platform != "win32",
    "JSON_MODULE": "json",
    "MAX_RETRIES": 0,
    "ITER_STREAMING": True,
    "ITER_STREAM_LIFETIME": 0.0,
    "ITER_STREAM_LINGER": 30.0,
    "SSL": False,
    "SSL_SERVERCERT": "",
    "SSL_SERVERKEY": "",
    "SSL_SERVERKEYPASSWD": "",
    "SSL_REQUIRECLIENTCERT": False,
    "SSL_CLIENTCERT": "",
    "SSL_CLIENTKEY": "",
    "SSL_CLIENTKEYPASSWD": "",
    "SSL_CACERTS": "",
}


@pytest.fixture
def clean_env(monkeypatch):
    """No PYRO_* variables from the surrounding environment."""
    for name in list(os.environ):
        if name.startswith("PYRO_"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_there_are_45_items():
    assert len(SPEC_DEFAULTS) == 45
    assert set(ITEM_DEFAULTS) == set(SPEC_DEFAULTS)


@pytest.mark.parametrize("item", sorted(SPEC_DEFAULTS))
def test_default_value_and_type(item, clean_env):
    value = getattr(Config(), item)
    expected = SPEC_DEFAULTS[item]
    assert value == expected
    assert type(value) is type(expected)


def test_global_config_is_a_config():
    assert isinstance(config, Config)
    assert pyro_protocol.config is config
    assert repr(config) == "<pyro config with 45 items>"


@pytest.mark.parametrize("word", ["1", "yes", "on", "true", "TRUE", "Yes", " on "])
def test_env_true_words(word, clean_env):
    clean_env.setenv("PYRO_COMPRESSION", word)
    assert Config().COMPRESSION is True


@pytest.mark.parametrize("word", ["0", "no", "off", "false", "False", "OFF"])
def test_env_false_words(word, clean_env):
    clean_env.setenv("PYRO_SOCK_REUSE", word)
    assert Config().SOCK_REUSE is False


@pytest.mark.parametrize(
    "variable, text, kind",
    [
        ("PYRO_COMPRESSION", "maybe", "boolean"),
        ("PYRO_METADATA", "", "boolean"),
        ("PYRO_NS_PORT", "90.5", "int"),
        ("PYRO_THREADPOOL_SIZE", "many", "int"),
        ("PYRO_COMMTIMEOUT", "fast", "float"),
    ],
)
def test_env_bad_values_name_the_variable(variable, text, kind, clean_env):
    clean_env.setenv(variable, text)
    with pytest.raises(ValueError, match=f"invalid {kind} value: {variable}={text!r}"):
        Config()


def test_env_int_float_and_str(clean_env):
    clean_env.setenv("PYRO_NS_PORT", "1234")
    clean_env.setenv("PYRO_COMMTIMEOUT", "1.5")
    clean_env.setenv("PYRO_POLLTIMEOUT", "3")
    clean_env.setenv("PYRO_HOST", "example.org")
    clean_env.setenv("PYRO_SERIALIZER", "json")
    cfg = Config()
    assert cfg.NS_PORT == 1234 and type(cfg.NS_PORT) is int
    assert cfg.COMMTIMEOUT == 1.5
    assert cfg.POLLTIMEOUT == 3.0 and type(cfg.POLLTIMEOUT) is float
    assert cfg.HOST == "example.org"
    assert cfg.NS_HOST == "localhost"  # not copied from PYRO_HOST
    assert cfg.SERIALIZER == "json"


def test_env_items_with_none_default_take_the_text(clean_env):
    clean_env.setenv("PYRO_NATHOST", "nat.example.org")
    clean_env.setenv("PYRO_NS_BCHOST", "0.0.0.0")
    cfg = Config()
    assert cfg.NATHOST == "nat.example.org"
    assert cfg.NS_BCHOST == "0.0.0.0"


def test_env_serializers_accepted_is_a_comma_list(clean_env):
    clean_env.setenv("PYRO_SERIALIZERS_ACCEPTED", "json,pickle")
    assert {"json", "pickle"} == Config().SERIALIZERS_ACCEPTED
    clean_env.setenv("PYRO_SERIALIZERS_ACCEPTED", "serpent, json ,")
    assert {"serpent", "json"} == Config().SERIALIZERS_ACCEPTED  # stripped (Pyro4 keeps the spaces)


def test_env_only_settings_are_not_items(clean_env):
    clean_env.setenv("PYRO_LOGLEVEL", "DEBUG")
    clean_env.setenv("PYRO_HMAC_KEY", "secret")
    cfg = Config()
    assert not hasattr(cfg, "LOGLEVEL")
    assert "HMAC_KEY" not in cfg.asDict()


def test_reset_rereads_the_environment(clean_env):
    cfg = Config()
    cfg.NS_PORT = 1
    clean_env.setenv("PYRO_NS_PORT", "4321")
    cfg.reset()
    assert cfg.NS_PORT == 4321
    cfg.reset(useenvironment=False)
    assert cfg.NS_PORT == 9090
    assert Config(useenvironment=False).NS_PORT == 9090


def test_copy_is_independent(clean_env):
    cfg = Config()
    cfg.NS_PORT = 1111
    clone = cfg.copy()
    assert clone.asDict() == cfg.asDict()
    assert clone is not cfg
    clone.NS_PORT = 2222
    clone.SERIALIZERS_ACCEPTED.add("pickle")
    assert cfg.NS_PORT == 1111
    assert "pickle" not in cfg.SERIALIZERS_ACCEPTED


def test_copy_ignores_the_environment(clean_env):
    cfg = Config()
    clean_env.setenv("PYRO_NS_PORT", "4321")
    assert cfg.copy().NS_PORT == 9090


def test_as_dict(clean_env):
    values = Config().asDict()
    assert values == SPEC_DEFAULTS
    values["NS_PORT"] = 1
    assert Config().NS_PORT == 9090


def test_unknown_items_are_refused():
    cfg = Config(useenvironment=False)
    with pytest.raises(AttributeError, match="unknown Pyro config item: 'NS_PROT'"):
        cfg.NS_PROT = 1
    with pytest.raises(AttributeError):
        cfg.__dict__  # noqa: B018 - slots only


def test_serializers_accepted_is_a_fresh_mutable_set():
    cfg = Config(useenvironment=False)
    other = Config(useenvironment=False)
    cfg.SERIALIZERS_ACCEPTED.add("pickle")
    assert "pickle" not in other.SERIALIZERS_ACCEPTED
    cfg.SERIALIZERS_ACCEPTED = "json, marshal"
    assert {"json", "marshal"} == cfg.SERIALIZERS_ACCEPTED
    cfg.SERIALIZERS_ACCEPTED = ("serpent",)
    assert {"serpent"} == cfg.SERIALIZERS_ACCEPTED


def test_dump_lists_every_item(clean_env):
    cfg = Config()
    cfg.NS_PORT = 7777
    text = cfg.dump()
    lines = text.splitlines()
    assert lines[0] == f"Pyro version: {pyro_protocol.__version__} (Pyro4 4.82 wire protocol)"
    assert "Protocol version: 48" in lines
    assert "NS_PORT = 7777" in lines
    assert "SERIALIZERS_ACCEPTED = json,marshal,msgpack,serpent" in lines
    assert "NATHOST = None" in lines
    for item in SPEC_DEFAULTS:
        assert sum(line.startswith(f"{item} = ") for line in lines) == 1


CONFIG_MODULE = [sys.executable, "-m", "pyro_protocol.config"]
CHECK_CONFIG_SCRIPT = [str(Path(sys.executable).with_name("pyro-check-config"))]


def run_config_module(env_overrides: dict[str, str], command: list[str] = CONFIG_MODULE) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYRO_")}
    env.update(env_overrides)
    return subprocess.run(
        command,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_config_module_prints_effective_values():
    done = run_config_module({"PYRO_NS_PORT": "1234", "PYRO_COMPRESSION": "yes"})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "NS_PORT = 1234" in lines
    assert "COMPRESSION = True" in lines
    assert "REQUIRE_EXPOSE = False" in lines
    assert "SERIALIZERS_ACCEPTED = json,marshal,msgpack,serpent" in lines
    assert sum(" = " in line for line in lines) == 45


def test_config_module_fails_clearly_on_a_bad_value():
    done = run_config_module({"PYRO_NS_PORT": "lots"})
    assert done.returncode != 0
    assert "ValueError: invalid int value: PYRO_NS_PORT='lots'" in done.stderr


def test_parse_addresses_string():
    assert config.parseAddressesString("<broadcast>, 0.0.0.0") == ["<broadcast>", "0.0.0.0"]
    assert config.parseAddressesString("'', 10.0.0.255") == ["", "10.0.0.255"]


def test_use_defaults_switches_items_still_at_their_default(clean_env):
    code = (
        "from pyro_protocol.config import config, use_defaults, PYRO4_DEFAULTS\n"
        "config.SERIALIZERS_ACCEPTED.add('pickle')\n"  # set by the program: kept
        "use_defaults(PYRO4_DEFAULTS)\n"
        "print(config.REQUIRE_EXPOSE, sorted(config.SERIALIZERS_ACCEPTED))\n"
        "config.reset()\n"
        "print(config.REQUIRE_EXPOSE, sorted(config.SERIALIZERS_ACCEPTED))\n"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYRO_")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.splitlines() == [
        "True ['json', 'marshal', 'msgpack', 'pickle', 'serpent']",
        "True ['json', 'marshal', 'serpent']",
    ]
    env["PYRO_REQUIRE_EXPOSE"] = "no"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.splitlines()[1].startswith("False")  # the environment still wins


def test_use_defaults_refuses_unknown_items_and_wrong_types():
    from pyro_protocol.config import use_defaults

    with pytest.raises(AttributeError, match="unknown Pyro config item"):
        use_defaults({"NO_SUCH_ITEM": 1})
    with pytest.raises(TypeError, match="default of REQUIRE_EXPOSE must be a bool"):
        use_defaults({"REQUIRE_EXPOSE": "yes"})


def test_pyro_check_config_prints_what_the_module_prints():
    settings = {"PYRO_NS_PORT": "4321", "PYRO_JSON_MODULE": "simplejson"}
    script, module = run_config_module(settings, CHECK_CONFIG_SCRIPT), run_config_module(settings)
    assert script.returncode == module.returncode == 0, script.stderr
    assert script.stdout == module.stdout
    assert "NS_PORT = 4321" in script.stdout.splitlines() and "JSON_MODULE = simplejson" in script.stdout.splitlines()


def test_commtimeout_none_means_no_timeout():
    cfg = Config(useenvironment=False)
    cfg.COMMTIMEOUT = None  # as Pyro4 programs write it
    assert cfg.COMMTIMEOUT == 0.0
