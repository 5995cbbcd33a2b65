"""The decorators a Pyro class uses: ``expose``, ``oneway``, ``behavior``, ``callback``."""

from __future__ import annotations

import inspect
from typing import Any, Callable, Optional

from .exposure import is_private_attribute

__all__ = ["expose", "oneway", "behavior", "callback", "INSTANCE_MODES"]

INSTANCE_MODES = ("session", "single", "percall")


def _mark(member: Any, flag: str) -> None:
    """Set ``flag`` on the function behind a function, classmethod, staticmethod or property."""
    if isinstance(member, (classmethod, staticmethod)):
        setattr(member.__func__, flag, True)
    elif isinstance(member, property):
        for accessor in (member.fget, member.fset, member.fdel):
            if accessor is not None:
                setattr(accessor, flag, True)
    else:
        setattr(member, flag, True)


def _member_name(member: Any) -> str:
    if isinstance(member, property):
        accessor = member.fget or member.fset or member.fdel
        return getattr(accessor, "__name__", "")
    if isinstance(member, (classmethod, staticmethod)):
        return getattr(member.__func__, "__name__", "")
    return getattr(member, "__name__", "")


def _check_instancing(instance_mode: str, instance_creator: Optional[Callable[..., Any]]) -> None:
    if instance_mode not in INSTANCE_MODES:
        raise ValueError(f"invalid instance mode {instance_mode!r}: use one of {', '.join(INSTANCE_MODES)}")
    if instance_creator is not None and not callable(instance_creator):
        raise TypeError("instance_creator must be a callable")


def _expose_class(cls: type) -> type:
    for name, member in vars(cls).items():
        if is_private_attribute(name):
            continue
        if inspect.isfunction(member) or isinstance(member, (classmethod, staticmethod, property)):
            _mark(member, "_pyroExposed")
    cls._pyroExposed = True  # type: ignore[attr-defined]
    return cls


def expose(
    method_or_class: Any = None,
    instance_mode: Optional[str] = None,
    instance_creator: Optional[Callable[..., Any]] = None,
) -> Any:
    """Mark a method, classmethod/staticmethod, property or whole class as remotely accessible.

    On a class it may also set the instance mode: ``@expose(instance_mode="percall")``.
    """
    if method_or_class is None:

        def decorate(target: Any) -> Any:
            return expose(target, instance_mode, instance_creator)

        return decorate
    if inspect.isclass(method_or_class):
        if instance_mode is not None or instance_creator is not None:
            _check_instancing(instance_mode or "session", instance_creator)
            cls: Any = method_or_class  # (mypy narrows an Any class to type[object])
            cls._pyroInstancing = (instance_mode or "session", instance_creator)
        return _expose_class(method_or_class)
    if instance_mode is not None or instance_creator is not None:
        raise TypeError("instance_mode and instance_creator can only be given when exposing a class")
    if not (callable(method_or_class) or isinstance(method_or_class, (classmethod, staticmethod, property))):
        raise TypeError(
            f"@expose can only decorate a class, function, classmethod, staticmethod or property, "
            f"not {type(method_or_class).__name__} (check the order of your decorators: @expose goes outermost)"
        )
    name = _member_name(method_or_class)
    if is_private_attribute(name):
        raise AttributeError("exposing private names (starting with _) is not allowed")
    _mark(method_or_class, "_pyroExposed")
    return method_or_class


def oneway(method: Any) -> Any:
    """Mark a method as oneway: clients call it without waiting for (or getting) a result."""
    if (
        inspect.isclass(method)
        or isinstance(method, property)
        or not (callable(method) or isinstance(method, (classmethod, staticmethod)))
    ):
        raise TypeError(f"@oneway can only decorate methods, not {type(method).__name__}")
    _mark(method, "_pyroOneway")
    return method


def callback(method: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a method a client offers for callbacks: its exceptions are also raised in the serving daemon."""
    if not callable(method):
        raise TypeError("@callback can only decorate methods")
    method._pyroCallback = True  # type: ignore[attr-defined]
    return method


def behavior(
    instance_mode: Any = "session", instance_creator: Optional[Callable[..., Any]] = None
) -> Callable[[type], type]:
    """Set how a registered class gets its instances: per ``session``, ``single`` or ``percall``."""
    if not isinstance(instance_mode, str):
        raise SyntaxError("@behavior must be called with arguments: @behavior(instance_mode='...')")
    _check_instancing(instance_mode, instance_creator)

    def decorate(cls: type) -> type:
        if not inspect.isclass(cls):
            raise TypeError("@behavior can only be used on a class")
        cls._pyroInstancing = (instance_mode, instance_creator)  # type: ignore[attr-defined]
        return cls

    return decorate
