"""The attribute façade's pieces: remote method objects and the dunder methods a proxy forwards.

``proxy.name`` is a :class:`RemoteMethod`; the proxy caches it in its own ``__dict__`` as a
:class:`CachedRemoteMethod`, which refers to the proxy weakly (no reference cycle: a dropped
proxy closes its connection at once, as in Pyro4). :class:`RemoteDunders` gives the Proxy
the container and iterator protocol of the remote object, where its metadata has them.
"""

from __future__ import annotations

import weakref
from typing import Any

from pyro_protocol.errors import PyroError

__all__ = ["RemoteMethod", "CachedRemoteMethod", "RemoteDunders"]


class RemoteMethod:
    """``proxy.name``: calling it invokes the remote method (holds the proxy strongly)."""

    __slots__ = ("_proxy", "_name")

    def __init__(self, proxy: Any, name: str) -> None:
        self._proxy = proxy
        self._name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        proxy = self._proxy
        if proxy._pyroMaxRetries:
            return proxy._pyro_call_retrying(self._name, args, kwargs)
        return proxy._pyroInvoke(self._name, args, kwargs)

    def __repr__(self) -> str:
        return f"<remote method {self._name!r} of {self._proxy!r}>"


class CachedRemoteMethod:
    """The cached form of a remote method: refers to its proxy weakly."""

    __slots__ = ("_proxy_ref", "_name")

    def __init__(self, proxy: Any, name: str) -> None:
        self._proxy_ref = weakref.ref(proxy)
        self._name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        proxy = self._proxy_ref()
        if proxy is None:
            raise PyroError(
                f"the proxy of remote method {self._name!r} no longer exists; keep a reference to the proxy"
            )
        if proxy._pyroMaxRetries:
            return proxy._pyro_call_retrying(self._name, args, kwargs)
        return proxy._pyroInvoke(self._name, args, kwargs)

    def __repr__(self) -> str:
        return f"<remote method {self._name!r} of {self._proxy_ref()!r}>"


class RemoteDunders:
    """``len(proxy)``, ``proxy[key]``, ``key in proxy``, ``iter(proxy)``... forwarded (the Proxy's base)."""

    _pyroUri: Any

    def _pyro_may_call(self, name: str) -> bool:
        raise NotImplementedError

    def _pyroInvoke(self, methodname: str, vargs: Any, kwargs: Any, flags: int = 0, objectId: Any = None) -> Any:  # noqa: N802,N803
        raise NotImplementedError

    def _pyro_dunder_method(self, name: str) -> RemoteMethod:
        """``proxy.__name__`` for a dunder method the remote object may expose (as Pyro4: metadata decides)."""
        if not self._pyro_may_call(name):
            raise AttributeError(f"remote object '{self._pyroUri}' has no exposed method '{name}'")
        return RemoteMethod(self, name)

    def _pyro_dunder(self, name: str, args: tuple[Any, ...], type_error: str) -> Any:
        if not self._pyro_may_call(name):
            raise TypeError(type_error)
        return self._pyroInvoke(name, args, {})

    def __bool__(self) -> bool:
        # A proxy is always true; without this, truth testing would call a remote __len__.
        return True

    def __len__(self) -> int:
        return self._pyro_dunder("__len__", (), "object of type 'Proxy' has no len()")  # type: ignore[no-any-return]

    def __getitem__(self, key: Any) -> Any:
        return self._pyro_dunder("__getitem__", (key,), "'Proxy' object is not subscriptable")

    def __setitem__(self, key: Any, value: Any) -> None:
        self._pyro_dunder(
            "__setitem__",
            (key, value),
            "'Proxy' object does not support item assignment",
        )

    def __delitem__(self, key: Any) -> None:
        self._pyro_dunder("__delitem__", (key,), "'Proxy' object does not support item deletion")

    def __contains__(self, item: Any) -> bool:
        if not self._pyro_may_call("__contains__"):
            return any(element is item or element == item for element in self)
        return bool(self._pyroInvoke("__contains__", (item,), {}))

    def __iter__(self) -> Any:
        return self._pyro_dunder("__iter__", (), "'Proxy' object is not iterable")

    def __next__(self) -> Any:
        return self._pyro_dunder("__next__", (), "'Proxy' object is not an iterator")
