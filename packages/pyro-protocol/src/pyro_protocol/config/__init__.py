"""The one configuration object: Pyro4 4.82's items and defaults.

Every item can be preset with an environment variable ``PYRO_<ITEM>``, read
when the config is created and on :meth:`Config.reset`. Differences from 4.82
on purpose: ``REQUIRE_EXPOSE`` defaults to False (as the servers chapter of Pyro4's manual documents) and
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

__all__ = [
    "Config",
    "config",
    "ITEM_DEFAULTS",
    "ITEM_DESCRIPTIONS",
    "ENVIRONMENT_SETTINGS",
    "PYRO4_DEFAULTS",
    "use_defaults",
]

_DILL_PROTOCOL = pickle.HIGHEST_PROTOCOL if importlib.util.find_spec("dill") else -1
_USE_MSG_WAITALL = hasattr(socket, "MSG_WAITALL") and platform.system() != "Windows"

#: item name -> default value; the value's type is the item's type.
ITEM_DEFAULTS: dict[str, Any] = {
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

#: item name -> what it does, in a sentence or two. The manual's configuration table is made
#: from this, ``ITEM_DEFAULTS`` and the annotations of :class:`Config`; a test checks that every
#: item has a description.
ITEM_DESCRIPTIONS: dict[str, str] = {
    "HOST": "Host name or address that daemons bind to when none is given.",
    "NS_HOST": "Where clients look for the name server: one host, as in Pyro4, or several, comma-separated, "
    "each ``host``, ``host:port``, ``[ipv6]`` or ``[ipv6]:port`` (without a port: ``NS_PORT``), e.g. "
    '``"ns1.example.com, 10.0.0.7:9091, [::1]:9090"``. A lookup tries them in that order (the one that '
    "answered last first), each within ``COMMTIMEOUT`` (``pyro_client.naming.FAILOVER_TIMEOUT`` when that is 0), before "
    "the broadcast. "
    "Name servers bind to ``HOST``.",
    "NS_PORT": "TCP port of the name server.",
    "NS_BCPORT": "UDP port of the name server's broadcast responder.",
    "NS_BCHOST": "Address the broadcast responder binds to; None means every interface.",
    "NS_AUTOCLEAN": "Seconds between the name server's checks for registrations whose daemon is gone "
    "(0 turns autoclean off; otherwise at least 3).",
    "NATHOST": "Host name that daemons put in the URIs they hand out, when clients reach them through NAT.",
    "NATPORT": "Port that daemons put in the URIs they hand out (0: the port they listen on).",
    "COMPRESSION": "Compress payloads of at least 200 bytes with zlib when that makes them shorter.",
    "SERVERTYPE": "Request loop of new daemons: ``thread`` (a worker pool) or ``multiplex`` (one thread).",
    "COMMTIMEOUT": "Socket timeout in seconds for proxies and daemon connections; 0 (or None) waits forever.",
    "POLLTIMEOUT": "Seconds a server loop waits for events before it does its housekeeping.",
    "SOCK_REUSE": "Set ``SO_REUSEADDR`` on listening sockets, so a restarted server can bind its port at once.",
    "SOCK_NODELAY": "Kept for Pyro4 programs, which set ``TCP_NODELAY`` only with it; here every TCP socket has it.",
    "ONEWAY_THREADED": "Run oneway calls on a worker thread, so the connection can take its next request at once.",
    "DETAILED_TRACEBACK": "Remote tracebacks also list the local variables of every frame (never on an open network).",
    "THREADPOOL_SIZE": "Most worker threads of the ``thread`` server (requests running at once).",
    "THREADPOOL_SIZE_MIN": "Worker threads the ``thread`` server keeps even when idle.",
    "AUTOPROXY": "Send a proxy instead of a copy when a result or argument is an object registered in the daemon.",
    "MAX_MESSAGE_SIZE": "Largest message (payload and annotations, in bytes) sent or accepted; 0 is no limit.",
    "BROADCAST_ADDRS": "Comma-separated addresses that a client looking for the name server sends its "
    "``GET_NSURI`` datagrams to; ``<broadcast>`` stands for 255.255.255.255 and (on Linux) each "
    "interface's own broadcast address, which needs no route.",
    "FLAME_ENABLED": "Allow Flame, remote access to the whole Python of a server (see the security chapter).",
    "PREFER_IP_VERSION": "IP version for host names that resolve to both: 4, 6, or 0 (let the system choose).",
    "SERIALIZER": "Serializer that proxies use: serpent, json, marshal, msgpack, pickle, cloudpickle or dill.",
    "SERIALIZERS_ACCEPTED": "Serializers a daemon accepts from clients (in the environment: a comma-separated list).",
    "LOGWIRE": "Log every message sent and received, bytes included, to the ``pyro.wire`` logger.",
    "PICKLE_PROTOCOL_VERSION": "Pickle protocol used when sending with pickle or cloudpickle.",
    "DILL_PROTOCOL_VERSION": "Pickle protocol used when sending with dill (-1 when dill is not installed).",
    "METADATA": "Proxies ask for the object's metadata when they connect and check names locally.",
    "REQUIRE_EXPOSE": "Daemons only publish members marked with ``@expose``; False publishes every public member.",
    "USE_MSG_WAITALL": "Blocking reads of a known length ask the system for all bytes at once (``MSG_WAITALL``).",
    "JSON_MODULE": "Module that the json serializer uses (any module with ``json``'s ``dumps``/``loads``).",
    "MAX_RETRIES": "Times a proxy sends a call again after the connection was lost or timed out.",
    "ITER_STREAMING": "Daemons stream iterator and generator results item by item instead of refusing them.",
    "ITER_STREAM_LIFETIME": "Seconds an item stream may live at most; 0 is no limit.",
    "ITER_STREAM_LINGER": "Seconds an item stream survives its client's disconnect, so a reconnecting client can go on.",
    "SSL": "Use TLS on every connection (daemons, proxies and the name server).",
    "SSL_SERVERCERT": "File of the daemon's certificate (PEM).",
    "SSL_SERVERKEY": "File of the daemon's private key (PEM), if not in the certificate file.",
    "SSL_SERVERKEYPASSWD": "Password of the daemon's private key.",
    "SSL_REQUIRECLIENTCERT": "Daemons require a client certificate (two-way TLS).",
    "SSL_CLIENTCERT": "File of the client's certificate (PEM), for two-way TLS.",
    "SSL_CLIENTKEY": "File of the client's private key (PEM), if not in the certificate file.",
    "SSL_CLIENTKEYPASSWD": "Password of the client's private key.",
    "SSL_CACERTS": "File or folder of CA certificates that verify the peer; empty uses the system's.",
}

#: Settings read from the environment only (they are not config items), with what they do.
ENVIRONMENT_SETTINGS: dict[str, str] = {
    "PYRO_LOGLEVEL": "Turns on Pyro's logging at this level (``DEBUG``, ``INFO``, ...) when the program "
    "has not configured logging itself.",
    "PYRO_LOGFILE": "Where that log goes: a file name (default ``pyro.log``) or ``{stderr}``.",
    "PYRO_HMAC_KEY": "HMAC key of the name server, ``pyro-nsc``, the echo server, the Flame server and the "
    "HTTP gateway (safer than a command-line option, which the process list shows).",
    "PYRO_SPIN_TIME": "Microseconds a waiting proxy or worker polls its socket before it blocks "
    "(default 100; 0 turns polling off). Read at import.",
    "PYRO_HTTPGATEWAY_KEY": "Key that every request to the HTTP gateway must carry.",
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
