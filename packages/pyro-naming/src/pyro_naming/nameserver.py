"""The name server itself: the Pyro object registered as ``Pyro.NameServer``.

A flat name space of ``name -> (uri, metadata)``. Arguments, defaults, return
values and error messages are Pyro4 4.82's (protocol 6.2): ``lookup``
returns a URI object, ``list`` returns URI strings, metadata goes out as
(sorted) lists, and ``Pyro.NameServer`` itself can never be removed.
Every change is one atomic operation of the storage, so calls arriving on
concurrent worker threads, or at other name servers sharing the storage, never
lose an update.

Leases are ours: ``register(..., lease=seconds)`` makes a registration that
disappears after that long unless ``renew`` is called for it in time. Pyro4
clients never send a lease, and their registrations stay until removed.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, Optional, Pattern, Union

from pyro_protocol.constants import NAMESERVER_NAME
from pyro_protocol.errors import NamingError
from pyro_protocol.uri import URI
from pyro_server import expose

from .storage import Entry, MemoryStorage, Storage

__all__ = ["NameServer", "MIN_LEASE", "MAX_LEASE"]

log = logging.getLogger("pyro.naming")

ListResult = dict[str, Any]

#: The shortest lease: a renewal needs a round trip or two, and a keeper renews a few
#: times per lease, so a shorter one would expire between renewals on any real network.
MIN_LEASE = 0.1
#: The longest lease (a year): beyond that, register without one. It also keeps every
#: storage's timestamp arithmetic far from its limits.
MAX_LEASE = 365 * 24 * 3600.0


def _check_name(name: Any) -> str:
    if not isinstance(name, str):
        raise TypeError("name must be a str")
    return name


def _uri_text(uri: Any) -> str:
    """The text of a URI given as a URI object or a string (validated by parsing it)."""
    if isinstance(uri, URI):
        return uri.asString()
    if not isinstance(uri, str):
        raise TypeError("only URIs or strings can be registered")
    return URI(uri).asString()


def _metadata_set(metadata: Any, argument: str = "metadata") -> frozenset[str]:
    """Metadata as a frozenset of str; None means none. A str is refused (it is not a collection)."""
    if metadata is None:
        return frozenset()
    if isinstance(metadata, (str, bytes)):
        raise TypeError(f"{argument} should not be a str, but another iterable (set, list, etc)")
    if not isinstance(metadata, Iterable):
        raise TypeError(f"{argument} should be an iterable of str (set, list, etc), not {type(metadata).__name__}")
    items = frozenset(metadata)
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"{argument} items must be str, not {type(item).__name__}: {item!r}")
    return items


def _lease_seconds(lease: Any) -> Optional[float]:
    if lease is None:
        return None
    if isinstance(lease, bool) or not isinstance(lease, (int, float)):
        raise TypeError(f"lease must be a number of seconds, not {type(lease).__name__}")
    if not (math.isfinite(lease) and MIN_LEASE <= lease <= MAX_LEASE):
        raise ValueError(f"lease must be between {MIN_LEASE:g} and {MAX_LEASE:g} seconds, got {lease!r}")
    return float(lease)


def _renewals(names: Any) -> dict[str, Optional[str]]:
    """renew()'s argument as {name: uri text or None (any uri)}."""
    if isinstance(names, Mapping):
        return {_check_name(name): _uri_text(uri) for name, uri in names.items()}
    if isinstance(names, (str, bytes)) or not isinstance(names, Iterable):
        raise TypeError("renew needs a collection of names, or a dict {name: uri}")
    return {_check_name(name): None for name in names}


def _compile(regex: Any) -> Pattern[str]:
    if not isinstance(regex, str):
        raise TypeError("regex must be a str")
    try:
        return re.compile(regex)
    except re.error as exc:
        raise NamingError(f"invalid regex: {exc}") from None


def _as_result(entries: dict[str, Entry], return_metadata: bool) -> ListResult:
    if return_metadata:
        return {name: (entry.uri, sorted(entry.metadata)) for name, entry in entries.items()}
    return {name: entry.uri for name, entry in entries.items()}


@expose
class NameServer:
    """Maps logical names to Pyro URIs (with optional metadata tags), over a pluggable storage."""

    def __init__(self, storageProvider: Optional[Storage] = None) -> None:  # noqa: N803 - Pyro4's name
        self.storage: Storage = storageProvider if storageProvider is not None else MemoryStorage()

    def count(self) -> int:
        """The number of registrations, the name server's own included."""
        return self.storage.count()

    def lookup(self, name: str, return_metadata: bool = False) -> Union[URI, tuple[URI, list[str]]]:
        """The URI registered under ``name`` (with ``return_metadata``: ``(uri, metadata list)``)."""
        entry = self.storage.get(_check_name(name))
        if entry is None:
            raise NamingError(f"unknown name: {name}")
        uri = URI(entry.uri)
        if return_metadata:
            return uri, sorted(entry.metadata)
        return uri

    def register(
        self,
        name: str,
        uri: Union[URI, str],
        safe: bool = False,
        metadata: Any = None,
        lease: Optional[float] = None,
    ) -> None:
        """Register ``name`` for ``uri``. An existing name is overwritten, unless ``safe``.

        With a ``lease`` (seconds) the registration disappears that long after it was made,
        or last renewed (see :meth:`renew`); without one it stays until removed.
        """
        text = _uri_text(uri)
        _check_name(name)
        entry = Entry(text, _metadata_set(metadata), _lease_seconds(lease))
        if safe:
            if not self.storage.add(name, entry):
                raise NamingError(f"name already registered: {name}")
        else:
            self.storage.put(name, entry)
        log.debug("registered %s -> %s (lease %s)", name, text, lease)

    def renew(self, names: Any) -> list[str]:
        """Start the leases of these registrations over, each with its own lease time.

        ``names`` is a collection of names, or a dict ``{name: uri}``: then a name is renewed
        only while it is still registered for that uri. Returns the names that were not
        renewed (unknown, expired, or registered for another uri), sorted, so the caller can
        register them again. A registration without a lease counts as renewed.
        """
        wanted = _renewals(names)
        renewed = set(self.storage.renew(wanted))
        return sorted(name for name in wanted if name not in renewed)

    def set_metadata(self, name: str, metadata: Any) -> None:
        """Replace the metadata of an existing registration (None or empty clears it)."""
        _check_name(name)
        if not self.storage.set_metadata(name, _metadata_set(metadata)):
            raise NamingError(f"unknown name: {name}")

    def remove(self, name: Optional[str] = None, prefix: Optional[str] = None, regex: Optional[str] = None) -> int:
        """Remove one name, or every name with a prefix or matching a regex. Returns the number removed."""
        if name and self._delete([name]):
            return 1
        if prefix:
            return self._delete(self.list(prefix=prefix))
        if regex:
            return self._delete(self.list(regex=regex))
        return 0

    def list(
        self,
        prefix: Optional[str] = None,
        regex: Optional[str] = None,
        metadata_all: Any = None,
        metadata_any: Any = None,
        return_metadata: bool = False,
    ) -> ListResult:
        """Registrations as ``{name: uri string}`` (or ``{name: (uri, metadata list)}``), filtered by
        at most one of: name prefix, regex (``re.match``), all of, or any of some metadata."""
        given = [x for x in (prefix, regex, metadata_all, metadata_any) if x is not None]
        if len(given) > 1:
            raise ValueError("you can only filter on one thing at a time")
        entries = self.storage.entries()
        if prefix:
            if not isinstance(prefix, str):
                raise TypeError("prefix must be a str")
            entries = {n: e for n, e in entries.items() if n.startswith(prefix)}
        elif regex:
            pattern = _compile(regex)
            entries = {n: e for n, e in entries.items() if pattern.match(n)}
        elif metadata_all is not None:
            wanted = _metadata_set(metadata_all, "metadata_all")
            entries = {n: e for n, e in entries.items() if wanted <= e.metadata}
        elif metadata_any is not None:
            wanted = _metadata_set(metadata_any, "metadata_any")
            if wanted:
                entries = {n: e for n, e in entries.items() if wanted & e.metadata}
        return _as_result(entries, return_metadata)

    def ping(self) -> None:
        """Does nothing; a successful call shows the name server is there."""

    # -- local helpers (private: not remotely callable) --------------------------------

    def _delete(self, names: Iterable[str]) -> int:
        doomed = [name for name in names if name != NAMESERVER_NAME]
        removed = self.storage.delete(doomed)
        if removed:
            log.debug("removed %d registration(s)", removed)
        return removed

    def _remove_if_unchanged(self, name: str, uri: str) -> bool:
        """Remove ``name`` only if it still points to ``uri`` (for the autocleaner)."""
        return name != NAMESERVER_NAME and self.storage.delete_unchanged(name, uri)
