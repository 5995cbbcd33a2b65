"""Which members of a Pyro object are remotely reachable (protocol 7.1; the servers chapter, docs/servers.md).

- Private names (starting with ``_``) are never reachable, except "dunder" names
  such as ``__len__``; a fixed list of dunders is never remoted because the
  proxy itself depends on them.
- With ``REQUIRE_EXPOSE = False`` (our default) every other method and property
  is exposed. With ``True`` only members marked by ``@expose`` (directly or by
  exposing their class) are, plus undecorated public dunder methods, as the
  partially exposed example of the servers chapter shows.
- Properties are remote attributes; plain class or instance attributes never are.
"""

from __future__ import annotations

import inspect
import threading
from typing import Any, Optional

from pyro_protocol.config import config
from pyro_protocol.names import NEVER_REMOTED, is_dunder

__all__ = [
    "is_private_attribute",
    "is_exposed",
    "get_attribute",
    "get_exposed_members",
    "get_exposed_property_value",
    "set_exposed_property_value",
    "reset_metadata_cache",
    "reset_exposed_members",
]


def is_private_attribute(name: str) -> bool:
    if name in NEVER_REMOTED:
        return True
    return name[:1] == "_" and not is_dunder(name)


def is_exposed(member: Any) -> bool:
    """True if ``@expose`` marked this function, descriptor or property."""
    if isinstance(member, (classmethod, staticmethod)):
        member = member.__func__
    if isinstance(member, property):
        accessor = member.fget or member.fset or member.fdel
        return bool(getattr(accessor, "_pyroExposed", False))
    return bool(getattr(member, "_pyroExposed", False))


def get_attribute(obj: Any, name: str) -> Any:
    """The attribute a remote call may use, or AttributeError saying why not."""
    if name in NEVER_REMOTED or (name[:1] == "_" and not is_dunder(name)):  # (is_private_attribute, inlined)
        raise AttributeError(f"attempt to access private attribute '{name}'")
    value = getattr(obj, name)
    if config.REQUIRE_EXPOSE and not is_dunder(name):
        member = inspect.getattr_static(obj, name, value)
        if not (is_exposed(member) or is_exposed(value)):
            raise AttributeError(f"attempt to access unexposed attribute '{name}'")
    return value


_cache: dict[tuple[type, bool], dict[str, frozenset[str]]] = {}
_cache_lock = threading.Lock()


def reset_metadata_cache(cls: Optional[type] = None) -> None:
    """Forget the cached members of one class (for both REQUIRE_EXPOSE settings), or of every class."""
    with _cache_lock:
        if cls is None:
            _cache.clear()
        else:
            _cache.pop((cls, False), None)
            _cache.pop((cls, True), None)


def reset_exposed_members(obj: Any, only_exposed: bool = True, as_lists: bool = False) -> None:
    """Pyro4's name: forget the cached members of ``obj``'s class (both settings; the flags are Pyro4's)."""
    reset_metadata_cache(obj if inspect.isclass(obj) else type(obj))


def _compute_members(cls: type, only_exposed: bool) -> dict[str, frozenset[str]]:
    methods: set[str] = set()
    oneway: set[str] = set()
    attrs: set[str] = set()
    for name in dir(cls):
        if is_private_attribute(name):
            continue
        member = inspect.getattr_static(cls, name, None)
        if isinstance(member, property):
            if not only_exposed or is_exposed(member):
                attrs.add(name)
            continue
        if not (inspect.isfunction(member) or isinstance(member, (classmethod, staticmethod))):
            continue
        if only_exposed and not (is_exposed(member) or is_dunder(name)):
            continue
        methods.add(name)
        func = member.__func__ if isinstance(member, (classmethod, staticmethod)) else member
        if getattr(func, "_pyroOneway", False):
            oneway.add(name)
    return {"methods": frozenset(methods), "oneway": frozenset(oneway), "attrs": frozenset(attrs)}


def get_exposed_members(
    obj: Any, only_exposed: Optional[bool] = None, as_lists: bool = False, use_cache: bool = True
) -> dict[str, Any]:
    """Metadata of an object or class: ``{"methods", "oneway", "attrs"}`` as sets (or lists)."""
    cls = obj if inspect.isclass(obj) else type(obj)
    if only_exposed is None:
        only_exposed = bool(config.REQUIRE_EXPOSE)
    key = (cls, only_exposed)
    members = _cache.get(key) if use_cache else None
    if members is None:
        members = _compute_members(cls, only_exposed)
        if use_cache:
            with _cache_lock:
                _cache[key] = members
    if as_lists:
        return {name: sorted(value) for name, value in members.items()}
    return {name: set(value) for name, value in members.items()}


def _exposed_property(obj: Any, name: str, need: str) -> property:
    if is_private_attribute(name):
        raise AttributeError(f"attempt to access private attribute '{name}'")
    cls = obj if inspect.isclass(obj) else type(obj)
    member = inspect.getattr_static(cls, name)  # AttributeError for an unknown name
    if isinstance(member, property) and getattr(member, need) is not None:
        if not config.REQUIRE_EXPOSE or is_exposed(member):
            return member
    raise AttributeError(f"attempt to access unexposed or unknown remote attribute '{name}'")


def get_exposed_property_value(obj: Any, name: str) -> Any:
    _exposed_property(obj, name, "fget")
    return getattr(obj, name)


def set_exposed_property_value(obj: Any, name: str, value: Any) -> None:
    _exposed_property(obj, name, "fset")
    setattr(obj, name, value)
