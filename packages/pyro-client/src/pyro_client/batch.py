"""Batched calls (protocol 2.6): queue several calls on one object and send them as one message."""

from __future__ import annotations

from typing import Any, Iterator, Optional

from pyro_protocol.errors import ExceptionWrapper, PyroError
from pyro_protocol.names import is_dunder

from .futures import FutureResult, submit

__all__ = ["BatchProxy", "batch"]


class _BatchedRemoteMethod:
    """Calling it only records the call in the batch."""

    __slots__ = ("_calls", "_name")

    def __init__(self, calls: list[tuple[str, Any, Any]], name: str) -> None:
        self._calls = calls
        self._name = name

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        self._calls.append((self._name, args, kwargs))


class BatchProxy:
    """Records method calls made on it; calling the BatchProxy itself sends them all.

    ``with batch(proxy) as b: b.m1(); b.m2(); results = b()`` gives a generator of
    the results in call order; a call that failed raises its exception when its
    result is reached (the daemon stops at the first failure). ``b(oneway=True)``
    sends without waiting; ``b(asynchronous=True)`` returns a FutureResult whose
    value is that generator.
    """

    def __init__(self, proxy: Any) -> None:
        self.__proxy = proxy
        self.__calls: list[tuple[str, Any, Any]] = []

    def __getattr__(self, name: str) -> _BatchedRemoteMethod:
        if name.startswith("_"):
            if not is_dunder(name):
                raise AttributeError(name)
            if name not in self.__proxy._pyroMethods:
                raise AttributeError(name)  # dunder probes by tools are not calls
        return _BatchedRemoteMethod(self.__calls, name)

    def __enter__(self) -> BatchProxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass

    def __copy__(self) -> BatchProxy:
        clone = type(self)(self.__proxy)
        clone.__calls = list(self.__calls)
        return clone

    def __call__(self, oneway: bool = False, asynchronous: bool = False) -> Optional[Any]:
        if oneway and asynchronous:
            raise PyroError("async oneway calls make no sense")
        # take the queued calls: the batch proxy can be reused afterwards
        calls, self.__calls = self.__calls, []
        if asynchronous:
            result = FutureResult()
            submit(_run_batch, self.__proxy, calls, result)
            return result
        results = self.__proxy._pyroInvokeBatch(calls, oneway)
        if oneway:
            return None
        return _results(results)

    def __repr__(self) -> str:
        return f"<BatchProxy with {len(self.__calls)} queued calls for {self.__proxy!r}>"


def _results(results: Any) -> Iterator[Any]:
    for result in results:
        if isinstance(result, ExceptionWrapper):
            result.raiseIt()
        yield result


def _run_batch(proxy: Any, calls: list[tuple[str, Any, Any]], result: FutureResult) -> None:
    try:
        results = proxy._pyroInvokeBatch(calls)
    except Exception as exc:
        result.value = ExceptionWrapper(exc)
    else:
        result.value = _results(results)


def batch(proxy: Any) -> BatchProxy:
    """A BatchProxy for ``proxy`` (the same as ``proxy._pyroBatch()``)."""
    return proxy._pyroBatch()  # type: ignore[no-any-return]
