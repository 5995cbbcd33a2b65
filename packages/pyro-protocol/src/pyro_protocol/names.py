"""Which attribute names are special to Pyro, on both ends of a connection."""

from __future__ import annotations

__all__ = ["is_dunder", "NEVER_REMOTED", "LOCAL_PROBES"]


def is_dunder(name: str) -> bool:
    """``__name__``-shaped: such methods are remoted though they start with an underscore."""
    return len(name) > 4 and name[:2] == "__" and name[-2:] == "__"


#: Dunder names that are never remoted: the proxy needs them for itself.
NEVER_REMOTED = frozenset(
    [
        "__init__",
        "__init_subclass__",
        "__class__",
        "__module__",
        "__weakref__",
        "__call__",
        "__new__",
        "__del__",
        "__repr__",
        "__unicode__",
        "__str__",
        "__format__",
        "__nonzero__",
        "__bool__",
        "__coerce__",
        "__cmp__",
        "__eq__",
        "__ne__",
        "__hash__",
        "__ge__",
        "__gt__",
        "__le__",
        "__lt__",
        "__dir__",
        "__enter__",
        "__exit__",
        "__copy__",
        "__deepcopy__",
        "__sizeof__",
        "__getattr__",
        "__setattr__",
        "__hasattr__",
        "__getattribute__",
        "__delattr__",
        "__instancecheck__",
        "__subclasscheck__",
        "__getinitargs__",
        "__getnewargs__",
        "__getstate__",
        "__setstate__",
        "__reduce__",
        "__reduce_ex__",
        "__getstate_for_dict__",
        "__setstate_from_dict__",
        "__subclasshook__",
    ]
)


#: Dunder names that tools look up on any object (pickle, copy, inspect, typing, numpy):
#: a proxy answers them locally, without connecting, though the server never refuses them.
LOCAL_PROBES = NEVER_REMOTED | frozenset(
    [
        "__getnewargs_ex__",
        "__wrapped__",
        "__signature__",
        "__name__",
        "__qualname__",
        "__origin__",
        "__args__",
        "__parameters__",
        "__array__",
        "__array_interface__",
        "__array_struct__",
        "__array_priority__",
    ]
)
