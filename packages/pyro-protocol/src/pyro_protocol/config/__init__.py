"""The one configuration object: Pyro4 4.82's items and defaults.

Every item can be preset with an environment variable ``PYRO_<ITEM>``, read
when the config is created and on :meth:`Config.reset`. Differences from 4.82
on purpose: ``REQUIRE_EXPOSE`` defaults to False (as servers.rst documents) and
``SERIALIZERS_ACCEPTED`` also holds msgpack (every safe serializer).
"""

from __future__ import annotations

import importlib.util
import os
import pickle
import platform
import socket
import sys
from typing import Any, Optional

from .. import constants

__all__ = ["Config", "config", "ITEM_DEFAULTS", "PYRO4_DEFAULTS", "use_defaults"]

_DILL_PROTOCOL = pickle.HIGHEST_PROTOCOL if importlib.util.find_spec("dill") else -1
_USE_MSG_WAITALL = hasattr(socket, "MSG_WAITALL") and platform.system() != "Windows"

#: item name -> default value; the value's type is the item's type.
ITEM_DEFAULTS: dict[str, Any] = {
    "HOST": "localhost",
    # NS_HOST: one name server, as in Pyro4, or several, comma-separated, each "host",
    # "host:port", "[ipv6]" or "[ipv6]:port" (a port left out: NS_PORT), e.g.
    # "ns1.example.com, 10.0.0.7:9091, [::1]:9090". A PYRONAME:/PYROMETA: lookup tries them
    # in that order (the one that answered last first), each within COMMTIMEOUT, or
    # pyro_client.naming.FAILOVER_TIMEOUT (2 s) when that is 0, before the broadcast.
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
    # BROADCAST_ADDRS: where locateNS sends its GET_NSURI datagrams; "<broadcast>" stands for
    # 255.255.255.255 and (Linux) each interface's own broadcast address, which needs no route.
    "BROADCAST_ADDRS": "<broadcast>, 0.0.0.0",
    "FLAME_ENABLED": False,
    "PREFER_IP_VERSION": 4,
    "SERIALIZER": "serpent",
    "SERIALIZERS_ACCEPTED": frozenset({"serpent", "marshal", "json", "msgpack"}),
    "LOGWIRE": False,
    "PICKLE_PROTOCOL_VERSION": pickle.HIGHEST_PROTOCOL,
    "DILL_PROTOCOL_VERSION": _DILL_PROTOCOL,
    "METADATA": True,
    "REQUIRE_EXPOSE": False,
    "USE_MSG_WAITALL": _USE_MSG_WAITALL,
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

#: Pyro4 4.82's defaults where they differ from ours; the ``Pyro4`` compatibility
#: package makes them the defaults, so Pyro4 programs see the behaviour they were written for.
PYRO4_DEFAULTS: dict[str, Any] = {
    "REQUIRE_EXPOSE": True,
    "SERIALIZERS_ACCEPTED": frozenset({"serpent", "marshal", "json"}),
}

_TRUE_WORDS = {"1", "yes", "on", "true"}
_FALSE_WORDS = {"0", "no", "off", "false"}


def _convert(item: str, text: str) -> Any:
    """Convert an environment string to the type of the item's default."""
    default = ITEM_DEFAULTS[item]
    where = f"PYRO_{item}={text!r}"
    if default is None:
        return text
    if isinstance(default, bool):
        word = text.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
        raise ValueError(f"invalid boolean value: {where} (use one of 1/0, yes/no, on/off, true/false)")
    if isinstance(default, frozenset):
        return set(name.strip() for name in text.split(",") if name.strip())
    for kind in (int, float):
        if isinstance(default, kind):
            try:
                return kind(text)
            except ValueError:
                raise ValueError(f"invalid {kind.__name__} value: {where}") from None
    return text


class Config:
    """Pyro's configuration items as attributes; see ``ITEM_DEFAULTS`` for the list."""

    __slots__ = tuple(ITEM_DEFAULTS)

    HOST: str
    NS_HOST: str
    NS_PORT: int
    NS_BCPORT: int
    NS_BCHOST: Optional[str]
    NS_AUTOCLEAN: float
    NATHOST: Optional[str]
    NATPORT: int
    COMPRESSION: bool
    SERVERTYPE: str
    COMMTIMEOUT: float
    POLLTIMEOUT: float
    SOCK_REUSE: bool
    SOCK_NODELAY: bool
    ONEWAY_THREADED: bool
    DETAILED_TRACEBACK: bool
    THREADPOOL_SIZE: int
    THREADPOOL_SIZE_MIN: int
    AUTOPROXY: bool
    MAX_MESSAGE_SIZE: int
    BROADCAST_ADDRS: str
    FLAME_ENABLED: bool
    PREFER_IP_VERSION: int
    SERIALIZER: str
    SERIALIZERS_ACCEPTED: set[str]
    LOGWIRE: bool
    PICKLE_PROTOCOL_VERSION: int
    DILL_PROTOCOL_VERSION: int
    METADATA: bool
    REQUIRE_EXPOSE: bool
    USE_MSG_WAITALL: bool
    JSON_MODULE: str
    MAX_RETRIES: int
    ITER_STREAMING: bool
    ITER_STREAM_LIFETIME: float
    ITER_STREAM_LINGER: float
    SSL: bool
    SSL_SERVERCERT: str
    SSL_SERVERKEY: str
    SSL_SERVERKEYPASSWD: str
    SSL_REQUIRECLIENTCERT: bool
    SSL_CLIENTCERT: str
    SSL_CLIENTKEY: str
    SSL_CLIENTKEYPASSWD: str
    SSL_CACERTS: str

    def __init__(self, useenvironment: bool = True) -> None:
        self.reset(useenvironment)

    def reset(self, useenvironment: bool = True) -> None:
        """Back to the defaults, then (unless told otherwise) the ``PYRO_*`` environment."""
        for item, default in ITEM_DEFAULTS.items():
            setattr(self, item, default)
        if useenvironment:
            for item in ITEM_DEFAULTS:
                text = os.environ.get("PYRO_" + item)
                if text is not None:
                    setattr(self, item, _convert(item, text))

    def copy(self) -> Config:
        clone = Config(useenvironment=False)
        for item in ITEM_DEFAULTS:
            setattr(clone, item, getattr(self, item))
        return clone

    def asDict(self) -> dict[str, Any]:  # noqa: N802 - Pyro4's name
        return {item: getattr(self, item) for item in ITEM_DEFAULTS}

    def parseAddressesString(self, addresses: str) -> list[str]:  # noqa: N802 - Pyro4's name
        """The addresses of a comma-separated list such as BROADCAST_ADDRS; ``''`` stands for the empty string."""
        return ["" if part.strip() == "''" else part.strip() for part in addresses.split(",")]

    def dump(self) -> str:
        """A readable listing of the version, environment and every effective item."""
        from .. import __version__  # late: the package imports this module

        lines = [
            f"Pyro version: {__version__} (Pyro4 {constants.PYRO4_VERSION} wire protocol)",
            f"Loaded from: {os.path.dirname(os.path.dirname(os.path.abspath(__file__)))}",
            f"Python version: {platform.python_implementation()} {platform.python_version()} ({platform.system()}, {os.name})",
            f"Protocol version: {constants.PROTOCOL_VERSION}",
            "Currently active configuration settings:",
        ]
        for item, value in sorted(self.asDict().items()):
            if isinstance(value, (set, frozenset)):
                value = ",".join(sorted(value))
            lines.append(f"{item} = {value}")
        return "\n".join(lines)

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in ITEM_DEFAULTS:
            raise AttributeError(f"unknown Pyro config item: {name!r}")
        if name == "COMMTIMEOUT" and value is None:
            value = 0.0  # Pyro4 programs set None for "no timeout", which 0 says here
        if name == "SERIALIZERS_ACCEPTED":
            # a fresh mutable set, so that ``config.SERIALIZERS_ACCEPTED.add("pickle")`` works
            if isinstance(value, str):
                value = {v.strip() for v in value.split(",") if v.strip()}
            else:
                value = set(value)
        object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        return f"<pyro config with {len(ITEM_DEFAULTS)} items>"


#: The process-wide configuration every package reads.
config = Config()


def use_defaults(defaults: dict[str, Any]) -> None:
    """Make ``defaults`` the process's defaults (also for :meth:`Config.reset`).

    Items of ``config`` still at their old default take the new one; items set by
    a ``PYRO_*`` environment variable or by the program keep their value.
    """
    for item, value in defaults.items():
        if item not in ITEM_DEFAULTS:
            raise AttributeError(f"unknown Pyro config item: {item!r}")
        if type(value) is not type(ITEM_DEFAULTS[item]):
            raise TypeError(f"default of {item} must be a {type(ITEM_DEFAULTS[item]).__name__}")
        old = ITEM_DEFAULTS[item]
        ITEM_DEFAULTS[item] = value
        if getattr(config, item) == old and "PYRO_" + item not in os.environ:
            setattr(config, item, value)


def main(argv: list[str] | None = None) -> int:
    print(config.dump())
    return 0


if __name__ == "__main__":
    sys.exit(main())
