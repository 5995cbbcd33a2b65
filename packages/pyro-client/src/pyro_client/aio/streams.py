"""Remote iterators for aio proxies: a call that returned an iterator or generator on the
server (an async generator too, on our asyncio server) gives an async iterator here."""

from __future__ import annotations

import asyncio
from typing import Any, Optional

from pyro_protocol import constants
from pyro_protocol.errors import PyroError
from pyro_protocol.message import FLAGS_EXCEPTION, FLAGS_ONEWAY

__all__ = ["AsyncStreamResultIterator"]


class AsyncStreamResultIterator:
    """``async for item in await proxy.generator()``: fetches the items one by one over the proxy's connection.

    Each step calls ``Pyro.Daemon.get_next_stream_item``; the remote StopIteration ends it.
    ``await it.aclose()`` (or dropping it) tells the daemon to drop the stream early.
    """

    def __init__(self, stream_id: str, proxy: Any) -> None:
        self.streamId = stream_id
        self.proxy: Optional[Any] = proxy

    def __aiter__(self) -> AsyncStreamResultIterator:
        return self

    async def __anext__(self) -> Any:
        proxy = self.proxy
        if proxy is None:
            raise StopAsyncIteration
        msg, value = await proxy._pyroInvoke(
            "get_next_stream_item", [self.streamId], {}, 0, constants.DAEMON_NAME, raw=True
        )
        if not msg.flags & FLAGS_EXCEPTION:
            return value
        # the stream ended (StopIteration) or its iterator raised: the daemon has dropped it already
        self.proxy = None
        if isinstance(value, StopIteration):
            raise StopAsyncIteration
        return proxy._pyro_special_result(msg, value)

    async def aclose(self) -> None:
        """Tell the daemon we are done with the stream (oneway); harmless when it has ended."""
        proxy, self.proxy = self.proxy, None
        if proxy is not None and proxy._pyroConnection is not None:
            try:
                await proxy._pyroInvoke("close_stream", [self.streamId], {}, FLAGS_ONEWAY, constants.DAEMON_NAME)
            except PyroError:
                pass  # the daemon drops the streams of closed connections by itself

    def __del__(self) -> None:
        proxy = self.proxy
        conn = proxy._pyroConnection if proxy is not None else None
        if proxy is None or conn is None:
            return
        try:
            if asyncio.get_running_loop() is conn.loop:  # a oneway call needs no waiting: send it now
                payload = proxy._pyro_serializer().dumpsCall(constants.DAEMON_NAME, "close_stream", [self.streamId], {})
                conn.send(conn.session.invoke(payload, FLAGS_ONEWAY, None, None, False)[1])
        except Exception:  # noqa: S110 - nothing sensible to do while being collected
            pass
