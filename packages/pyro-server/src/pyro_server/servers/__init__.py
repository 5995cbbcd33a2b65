"""The server types behind one declared interface (``pyro_server.contract``): ``thread``
(a worker pool fed by a selector; idle connections hold no worker), ``multiplex``
(one thread, reads never block) and ``asyncio`` (one event loop; ``async def`` methods
run on it, plain ones in worker threads)."""

from __future__ import annotations

import socket
from typing import Any, Callable, Optional

from pyro_protocol.errors import PyroError

from ..contract import RequestHandler
from .base import ServerBase
from .multiplex import MultiplexServer
from .thread import WORKER_IDLE_EXIT, WORKER_LINGER, ThreadServer

__all__ = [
    "make_server",
    "ServerBase",
    "ThreadServer",
    "MultiplexServer",
    "SERVER_TYPES",
    "WORKER_LINGER",
    "WORKER_IDLE_EXIT",
]


def _asyncio_server(*args: Any, **kwargs: Any) -> ServerBase:
    from .aio import AsyncioServer  # (only daemons that use it import asyncio)

    return AsyncioServer(*args, **kwargs)


#: SERVERTYPE -> its class (the asyncio server's: a function that imports it when used, ``servers.aio``).
SERVER_TYPES: dict[str, Callable[..., ServerBase]] = {
    "thread": ThreadServer,
    "multiplex": MultiplexServer,
    "asyncio": _asyncio_server,
}


def make_server(
    handler: RequestHandler,
    servertype: str,
    host: Optional[str],
    port: int,
    unixsocket: Optional[str],
    connected_socket: Optional[socket.socket],
) -> ServerBase:
    """The server of type ``servertype`` (config SERVERTYPE) for a daemon's ``handler``."""
    kind = SERVER_TYPES.get(servertype)
    if kind is None:
        raise PyroError(f"invalid server type {servertype!r}: use {', '.join(repr(k) for k in SERVER_TYPES)}")
    return kind(handler, host, port, unixsocket, connected_socket)
