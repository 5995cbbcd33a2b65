"""Pyro URIs: ``PYRO:obj@host:port``, ``PYRONAME:name[@host[:port]]``,
``PYROMETA:m1,m2[@host[:port]]``, IPv6 hosts in brackets and ``./u:path``
unix socket locations."""

from __future__ import annotations

import re
from typing import Any, Optional, Union

from .errors import PyroError

__all__ = ["URI", "PROTOCOLS"]

PROTOCOLS = ("PYRO", "PYRONAME", "PYROMETA")
_UNIX_PREFIX = "./u:"
_PROTOCOL_RE = re.compile(r"[Pp][Yy][Rr][Oo][A-Za-z]*\Z")
_IPV6_RE = re.compile(r"[0-9a-fA-F:%]+\Z")

UriState = tuple[str, Any, Optional[str], Optional[str], Optional[int]]


def _bad(uri: str, part: str) -> PyroError:
    return PyroError(f"invalid uri {uri!r}: {part}")


#: Recently parsed PYRO uri texts -> their fields (name server lookups and proxies parse the same few).
_parsed: dict[str, tuple[Any, ...]] = {}
_PARSED_MAX = 1024


class URI:
    """A parsed Pyro URI. Equal URIs hash equal; ``str()`` gives the canonical text."""

    __slots__ = ("protocol", "object", "sockname", "host", "port")

    protocol: str
    object: Any  # str, or a frozenset of str for PYROMETA
    sockname: Optional[str]
    host: Optional[str]
    port: Optional[int]

    def __init__(self, uri: Union[str, URI]) -> None:
        if isinstance(uri, URI):
            self.__setstate__(uri.__getstate__())
            return
        if not isinstance(uri, str):
            raise TypeError("uri parameter object is of wrong type")
        state = _parsed.get(uri)
        if state is not None:
            self.protocol, self.object, self.sockname, self.host, self.port = state
            return
        self.sockname = self.host = self.port = None
        self._parse(uri)
        if self.protocol == "PYRO":  # (the others may depend on config.NS_PORT: never cached)
            if len(_parsed) >= _PARSED_MAX:
                _parsed.clear()
            _parsed[uri] = (self.protocol, self.object, self.sockname, self.host, self.port)

    def _parse(self, text: str) -> None:
        protocol, colon, rest = text.partition(":")
        if not colon:
            raise _bad(text, "no ':' after the protocol (expected e.g. PYRO:objectid@host:port)")
        if not _PROTOCOL_RE.match(protocol):
            raise _bad(text, f"the protocol {protocol!r} is not PYRO, PYRONAME or PYROMETA")
        protocol = protocol.upper()
        if protocol not in PROTOCOLS:
            raise PyroError(f"invalid uri (protocol) {text!r}: unknown protocol {protocol!r}")
        self.protocol = protocol
        obj, at, location = rest.partition("@")
        if not obj:
            raise _bad(text, "the object part is empty")
        if any(ch.isspace() for ch in obj):
            raise _bad(text, f"the object part {obj!r} contains whitespace")
        if protocol == "PYROMETA":
            self.object = frozenset(item.strip() for item in obj.split(",") if item.strip())
            if not self.object:
                raise _bad(text, "no metadata items given")
        else:
            self.object = obj
        if not at:
            if protocol == "PYRO":
                raise _bad(text, "a PYRO uri needs a location: PYRO:objectid@host:port or @./u:socketpath")
            return
        if not location:
            raise _bad(text, "the location after '@' is empty")
        self._parse_location(text, location)

    def _parse_location(self, text: str, location: str) -> None:
        if location.startswith(_UNIX_PREFIX):
            path = location[len(_UNIX_PREFIX) :]
            if not path or ":" in path:
                raise PyroError(f"invalid uri (location) {text!r}: unix socket path must be non-empty without ':'")
            if self.protocol != "PYRO":
                raise _bad(text, "a unix socket location is only allowed in a PYRO uri")
            self.sockname = path
            return
        if location.startswith("[["):
            raise PyroError(f"invalid ipv6 address: enclosed in too many brackets ({text!r})")
        if location.startswith("["):
            host, bracket, after = location[1:].partition("]")
            if not bracket or not _IPV6_RE.match(host):
                raise PyroError(
                    f"invalid ipv6 address: the part between brackets must be a numeric ipv6 address ({text!r})"
                )
            if after and not after.startswith(":"):
                raise _bad(text, f"unexpected {after!r} after the ipv6 address")
            port_text: Optional[str] = after[1:] if after else None
        else:
            host, colon, port_text_raw = location.partition(":")
            port_text = port_text_raw if colon else None
            if not host:
                raise _bad(text, "the host part is empty")
        self.host = host
        if port_text is None:
            if self.protocol == "PYRO":
                raise PyroError(f"invalid port in uri, port=None ({text!r}: a PYRO uri needs host:port)")
            from .config import config  # late: config is the only global we read here

            self.port = config.NS_PORT
            return
        if not port_text.strip().isdigit():
            raise PyroError(f"invalid port in uri, port={port_text} ({text!r})")
        port = int(port_text)
        if port > 65535:
            raise PyroError(f"invalid port in uri, port={port_text} ({text!r}: above 65535)")
        self.port = port

    # -- presentation ------------------------------------------------------------------

    @property
    def location(self) -> Optional[str]:
        """``host:port``, ``[ipv6]:port`` or ``./u:path``; None without a location."""
        if self.sockname:
            return _UNIX_PREFIX + self.sockname
        if self.host:
            host = f"[{self.host}]" if ":" in self.host else self.host
            return f"{host}:{self.port}" if self.port is not None else host
        return None

    def asString(self) -> str:  # noqa: N802 - Pyro4's name
        obj = ",".join(sorted(self.object)) if self.protocol == "PYROMETA" else self.object
        location = self.location
        return f"{self.protocol}:{obj}@{location}" if location else f"{self.protocol}:{obj}"

    __str__ = asString

    def __repr__(self) -> str:
        return f"<pyro_protocol.uri.URI at 0x{id(self):x}; {self.asString()}>"

    @staticmethod
    def isUnixsockLocation(location: str) -> bool:  # noqa: N802 - Pyro4's name
        return location.startswith(_UNIX_PREFIX)

    # -- identity ----------------------------------------------------------------------

    def __getstate__(self) -> UriState:
        return (self.protocol, self.object, self.sockname, self.host, self.port)

    def __setstate__(self, state: Any) -> None:
        protocol, obj, sockname, host, port = state
        if protocol == "PYROMETA" and not isinstance(obj, frozenset):
            obj = frozenset(obj)
        self.protocol, self.object, self.sockname, self.host, self.port = protocol, obj, sockname, host, port

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, URI):
            return NotImplemented
        return self.__getstate__() == other.__getstate__()

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __hash__(self) -> int:
        return hash(self.__getstate__())

    def __copy__(self) -> URI:
        clone = URI.__new__(URI)
        clone.__setstate__(self.__getstate__())
        return clone
