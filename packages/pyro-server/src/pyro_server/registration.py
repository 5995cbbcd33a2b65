"""How ``serveSimple`` registers its objects' names in the name server.

Without a lease as Pyro4 does (the names stay until someone removes them, so this works
with a Pyro4 name server too); with ``lease=seconds`` through a
:class:`pyro_client.LeaseKeeper`, which renews them while the daemon serves and stops
when it ends, after which the name server forgets them.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator, Optional

from pyro_client import LeaseKeeper, locateNS
from pyro_protocol.uri import URI

__all__ = ["NameServerRegistration", "nameserver_registration"]


class NameServerRegistration:
    """The name server found at once (as Pyro4's serveSimple does); ``register`` per object;
    ``serving()`` once all are registered; ``close()`` (or the with block's end) after serving."""

    def __init__(self, lease: Optional[float] = None) -> None:
        # the keeper finds the name server itself (again whenever it has to reconnect)
        self._keeper = None if lease is None else LeaseKeeper(lease)
        self._nameserver: Any = locateNS()  # fails early, before any object is registered
        if self._keeper is not None:
            self.serving()

    def register(self, name: str, uri: URI) -> None:
        if self._keeper is not None:
            self._keeper.register(name, uri)
        else:
            self._nameserver.register(name, uri)

    def serving(self) -> None:
        """Let go of the name server connection, as Pyro4 does before it serves."""
        nameserver, self._nameserver = self._nameserver, None
        if nameserver is not None:
            nameserver._pyroRelease()

    def close(self) -> None:
        """Stop renewing. Idempotent."""
        self.serving()
        if self._keeper is not None:
            self._keeper.stop()

    def __enter__(self) -> NameServerRegistration:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@contextlib.contextmanager
def nameserver_registration(ns: bool, lease: Optional[float]) -> Iterator[Optional[NameServerRegistration]]:
    """serveSimple's: a NameServerRegistration for the block if ``ns``, else None."""
    if not ns:
        yield None
        return
    with NameServerRegistration(lease) as registration:
        yield registration
