"""Batched calls for aio proxies: queue calls on one object, send them as one message, ``await`` the results."""

from __future__ import annotations

from typing import Any, Iterator, Optional

from pyro_protocol.names import is_dunder

from ..batch import _BatchedRemoteMethod, _results  # (how calls are recorded and results given: the sync batch's)

__all__ = ["BatchProxy", "batch"]


class BatchProxy:
    """``b = batch(proxy); b.m1(); b.m2(); results = await b()``: the results in call order, as an
    iterator; a call that failed raises its exception when its result is reached (the daemon stops
    at the first failure). ``await b(oneway=True)`` sends without waiting for results.
    """

    def __init__(self, proxy: Any) -> None:
        self._proxy = proxy
        self._calls: list[tuple[str, Any, Any]] = []

    def __getattr__(self, name: str) -> _BatchedRemoteMethod:
        if name[:1] == "_" and not (is_dunder(name) and name in self._proxy._pyroMethods):
            raise AttributeError(name)  # (private names and the dunder probes of tools are not calls)
        return _BatchedRemoteMethod(self._calls, name)

    def __enter__(self) -> BatchProxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass

    async def __call__(self, oneway: bool = False) -> Optional[Iterator[Any]]:
        # take the queued calls: the batch proxy can be reused afterwards
        calls, self._calls = self._calls, []
        results = await self._proxy._pyroInvokeBatch(calls, oneway)
        return None if oneway else _results(results)

    def __repr__(self) -> str:
        return f"<aio BatchProxy with {len(self._calls)} queued calls for {self._proxy!r}>"


def batch(proxy: Any) -> BatchProxy:
    """A BatchProxy for an aio ``proxy`` (the same as ``proxy._pyroBatch()``)."""
    return BatchProxy(proxy)
