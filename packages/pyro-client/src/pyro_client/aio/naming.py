"""``locateNS`` and ``resolve`` for asyncio programs.

Both run the sync lookup (``pyro_client.naming``) in a thread of the loop's default
executor: it is exactly the sync behaviour (NS_HOST, several name servers with
failover, the UDP broadcast, each attempt bounded), and the loop goes on meanwhile.
"""

from __future__ import annotations

import asyncio
from typing import Optional, Union

from pyro_protocol.uri import URI

from .. import naming as sync_naming
from .proxy import Proxy

__all__ = ["locateNS", "resolve"]


async def locateNS(  # noqa: N802 - Pyro4's name
    host: Optional[str] = None,
    port: Optional[int] = None,
    broadcast: bool = True,
    hmac_key: Union[str, bytes, None] = None,
) -> Proxy:
    """An aio proxy for the name server, found as :func:`pyro_client.locateNS` finds it."""
    found = await asyncio.to_thread(sync_naming.locateNS, host, port, broadcast, hmac_key)
    try:
        return Proxy(found)
    finally:
        found._pyroRelease()


async def resolve(uri: Union[str, URI], hmac_key: Union[str, bytes, None] = None) -> URI:
    """The PYRO: uri a PYRONAME: or PYROMETA: uri stands for; a PYRO: uri is returned as it is."""
    parsed = URI(uri) if isinstance(uri, str) else uri
    if isinstance(parsed, URI) and parsed.protocol == "PYRO":
        return parsed  # (nothing to look up: no thread needed)
    return await asyncio.to_thread(sync_naming.resolve, parsed, hmac_key)
