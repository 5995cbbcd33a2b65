"""The class <-> dict registry: how objects the formats cannot carry travel, and how they come back.

Objects a format cannot carry natively (URIs, proxies, exceptions, user classes) travel
as dicts with a ``__class__`` key, exactly as Pyro4 writes them; :func:`dict_to_class`
turns such dicts back into objects on receipt and refuses unknown classes with a
SerializeError. Registrations are mirrored into serpent's own class registry, and the
pickle family's wire names (Pyro4's module paths for our classes) are kept here too.
"""

from __future__ import annotations

import builtins
import importlib
import sys
from typing import Any, Callable, Optional

import serpent  # type: ignore[import-untyped]

from .. import constants, fastserpent
from ..errors import PYRO_ERRORS, ExceptionWrapper, PyroError, SecurityError, SerializeError
from ..uri import URI

__all__ = [
    "register_class_to_dict",
    "unregister_class_to_dict",
    "register_dict_to_class",
    "unregister_dict_to_class",
    "register_type_replacement",
    "unregister_type_replacement",
    "register_pickle_name",
    "unregister_pickle_name",
    "class_to_dict",
    "dict_to_class",
    "exception_to_dict",
    "exception_class_name",
    "recreate_classes",
]

# ---------------------------------------------------------------------------------------
# The registries
# ---------------------------------------------------------------------------------------

_class_to_dict_registry: dict[type, Callable[[Any], dict[str, Any]]] = {}
_dict_to_class_registry: dict[str, Callable[[str, dict[str, Any]], Any]] = {}
_type_replacements: dict[type, Callable[[Any], Any]] = {}
#: our class -> (module, name) it is pickled as; and the reverse for unpickling
_pickle_names: dict[type, tuple[str, str]] = {}
_pickle_classes: dict[tuple[str, str], type] = {}


#: serpent class converter we registered -> the plain function giving the value it writes
#: (lets the serpent fast path write our classes exactly as serpent would).
_serpent_values: dict[Any, Callable[[Any], Any]] = {}


def register_class_to_dict(clazz: type, converter: Callable[[Any], dict[str, Any]], serpent_too: bool = True) -> None:
    """Serialize instances of ``clazz`` (and subclasses) as the dict ``converter(obj)`` returns."""
    _class_to_dict_registry[clazz] = converter
    if serpent_too:

        def serpent_converter(obj: Any, serializer: Any, stream: Any, level: int) -> None:
            serializer._serialize(converter(obj), stream, level)

        _register_serpent(clazz, serpent_converter, converter)


#: Types serpent handles itself before it consults its class registry.
_SERPENT_BEFORE_REGISTRY = frozenset(getattr(serpent, "_translate_types", {})) | {
    type(None),
    bool,
    int,
    float,
    complex,
    str,
    bytes,
    bytearray,
    memoryview,
    tuple,
    list,
    dict,
    set,
    frozenset,
}


def _serpent_class_value(obj: Any) -> Any:
    """What serpent writes for ``obj``: the value of the first registered class it is an instance of.

    serpent consults its registry in registration order; a converter that is not one
    of ours (serpent's own, or a user's) sends the whole value back to serpent.
    """
    kind = type(obj)
    try:
        registry = serpent._special_classes_registry
    except AttributeError:
        raise fastserpent.Unsupported("no serpent registry") from None
    cached = _serpent_class_cache.get(kind)
    if cached is not None and len(registry) == cached[0] and registry.get(cached[1]) is cached[2]:
        return cached[3](obj)
    if kind in _SERPENT_BEFORE_REGISTRY:
        raise fastserpent.Unsupported("serpent writes this type before looking at its registry")
    for clazz, serpent_converter in registry.items():
        if isinstance(obj, clazz):
            value = _serpent_values.get(serpent_converter)
            if value is None:
                raise fastserpent.Unsupported("not our converter")
            # isinstance on abstract classes is slow: remember the answer for this type
            _serpent_class_cache[kind] = (len(registry), clazz, serpent_converter, value)
            return value(obj)
    raise fastserpent.Unsupported(kind.__name__)


#: type -> (registry size, registered class, its serpent converter, value function), checked on use
_serpent_class_cache: dict[type, tuple[int, type, Any, Callable[[Any], Any]]] = {}


def unregister_class_to_dict(clazz: type) -> None:
    _class_to_dict_registry.pop(clazz, None)
    _unregister_serpent(clazz)


def _register_serpent(clazz: type, serpent_converter: Any, value: Callable[[Any], Any]) -> None:
    _unregister_serpent(clazz)
    _serpent_values[serpent_converter] = value
    serpent.register_class(clazz, serpent_converter)


def _unregister_serpent(clazz: type) -> None:
    previous = getattr(serpent, "_special_classes_registry", {}).get(clazz)
    if previous is not None:
        _serpent_values.pop(previous, None)
    serpent.unregister_class(clazz)


def register_dict_to_class(classname: str, converter: Callable[[str, dict[str, Any]], Any]) -> None:
    """Turn received dicts whose ``__class__`` is ``classname`` into ``converter(classname, dict)``."""
    _dict_to_class_registry[classname] = converter


def unregister_dict_to_class(classname: str) -> None:
    _dict_to_class_registry.pop(classname, None)


def register_type_replacement(clazz: type, replacer: Callable[[Any], Any]) -> None:
    """Before serializing an instance of exactly ``clazz``, replace it with ``replacer(obj)``.

    The daemon uses this for autoproxy: a registered object goes out as a proxy.
    """
    if not isinstance(clazz, type) or clazz is type:
        raise ValueError(f"a type replacement needs a class other than 'type' itself, not {clazz!r}")
    _type_replacements[clazz] = replacer

    def serpent_value(obj: Any) -> Any:
        replacement = replacer(obj)
        return _object_dict(obj) if replacement is obj else replacement

    def serpent_converter(obj: Any, serializer: Any, stream: Any, level: int) -> None:
        serializer._serialize(serpent_value(obj), stream, level)

    _register_serpent(clazz, serpent_converter, serpent_value)


def unregister_type_replacement(clazz: type) -> None:
    if _type_replacements.pop(clazz, None) is not None:
        _unregister_serpent(clazz)


def register_pickle_name(clazz: type, module: str, name: str) -> None:
    """Pickle ``clazz`` as the global ``module.name`` and map that name back to it on unpickling."""
    _pickle_names[clazz] = (module, name)
    _pickle_classes[(module, name)] = clazz


def unregister_pickle_name(clazz: type) -> None:
    """Undo :func:`register_pickle_name` for ``clazz``."""
    wire_name = _pickle_names.pop(clazz, None)
    if wire_name is not None and _pickle_classes.get(wire_name) is clazz:
        del _pickle_classes[wire_name]


# ---------------------------------------------------------------------------------------
# Objects -> dicts
# ---------------------------------------------------------------------------------------


def exception_class_name(exc_type: type) -> str:
    if PYRO_ERRORS.get(exc_type.__name__) is exc_type:  # (whatever module it shows: name_errors_module)
        return f"{constants.WIRE_ERRORS_MODULE}.{exc_type.__name__}"
    return f"{exc_type.__module__}.{exc_type.__qualname__}"


def exception_to_dict(exc: BaseException) -> dict[str, Any]:
    return {
        "__class__": exception_class_name(type(exc)),
        "__exception__": True,
        "args": exc.args,
        "attributes": dict(vars(exc)),
    }


def _object_dict(obj: Any) -> dict[str, Any]:
    """The fallback: an object's state as a dict, tagged with its class name."""
    state = getattr(obj, "__getstate__", None)
    if state is not None and type(obj).__getstate__ is not getattr(object, "__getstate__", None):
        value = state()
        if isinstance(value, dict):
            return value
    try:
        value = dict(vars(obj))
    except TypeError:
        slots = getattr(type(obj), "__slots__", None)
        if slots is None:
            raise SerializeError(f"don't know how to serialize class {type(obj)} using serializer") from None
        value = {name: getattr(obj, name) for name in slots if hasattr(obj, name)}
    value["__class__"] = f"{type(obj).__module__}.{type(obj).__qualname__}"
    return value


def class_to_dict(obj: Any) -> dict[str, Any]:
    """The dict form of an object that the serializer cannot carry natively."""
    cls = type(obj)
    replacer = _type_replacements.get(cls)
    if replacer is not None:
        replacement = replacer(obj)
        if replacement is not obj:
            return class_to_dict(replacement)
    converter = _class_to_dict_registry.get(cls)
    if converter is None:
        for registered, candidate in _class_to_dict_registry.items():
            if isinstance(obj, registered):
                converter = candidate
                break
    if converter is not None:
        return converter(obj)
    if isinstance(obj, BaseException):
        return exception_to_dict(obj)
    return _object_dict(obj)


def _uri_to_dict(uri: URI) -> dict[str, Any]:
    state = uri.__getstate__()
    if uri.protocol == "PYROMETA":
        state = (state[0], set(state[1])) + state[2:]
    return {"__class__": constants.WIRE_CLASS_URI, "state": state}


def _wrapper_to_dict(wrapper: ExceptionWrapper) -> dict[str, Any]:
    return {"__class__": constants.WIRE_CLASS_EXCEPTION_WRAPPER, "exception": class_to_dict(wrapper.exception)}


register_class_to_dict(URI, _uri_to_dict)
register_class_to_dict(ExceptionWrapper, _wrapper_to_dict)
register_class_to_dict(PyroError, exception_to_dict)
for _error in PYRO_ERRORS.values():
    register_pickle_name(_error, constants.WIRE_ERRORS_MODULE, _error.__name__)
fastserpent.class_hook = _serpent_class_value
register_pickle_name(URI, "Pyro4.core", "URI")
register_pickle_name(ExceptionWrapper, "Pyro4.futures", "_ExceptionWrapper")

# ---------------------------------------------------------------------------------------
# Dicts -> objects
# ---------------------------------------------------------------------------------------


def _known_exception_class(classname: str) -> Optional[type[BaseException]]:
    module, _, name = classname.rpartition(".")
    if module in ("builtins", "exceptions", ""):
        candidate = getattr(builtins, name, None) or PYRO_ERRORS.get(name)
    elif module == constants.WIRE_ERRORS_MODULE:
        candidate = PYRO_ERRORS.get(name)
    elif module == "sqlite3" and name.endswith("Error"):
        candidate = getattr(importlib.import_module("sqlite3"), name, None)
    else:
        # an exception class of a module this process has already imported (never imports anything)
        loaded = sys.modules.get(module)
        candidate = getattr(loaded, name, None) if loaded is not None else None
    if isinstance(candidate, type) and issubclass(candidate, BaseException):
        return candidate
    return None


def _make_exception(exc_type: type[BaseException], data: dict[str, Any]) -> BaseException:
    args = data.get("args") or ()
    try:
        exc = exc_type(*args)
    except Exception:
        exc = exc_type.__new__(exc_type)
        exc.args = tuple(args)
    for name, value in (data.get("attributes") or {}).items():
        try:
            setattr(exc, name, recreate_classes(value))
        except AttributeError:
            pass
    return exc


def dict_to_class(data: dict[str, Any]) -> Any:
    """Rebuild the object a ``__class__`` dict stands for, by Pyro4's rules."""
    classname = data.get("__class__", "<unknown>")
    if isinstance(classname, bytes):
        classname = classname.decode("utf-8", "replace")
    if not isinstance(classname, str):
        raise SerializeError(f"unsupported serialized class: {classname!r}")
    converter = _dict_to_class_registry.get(classname)
    if converter is not None:
        return converter(classname, data)
    if "__" in classname:
        raise SecurityError(f"refused to deserialize types with double underscores in their name: {classname}")
    if classname == constants.WIRE_CLASS_URI:
        uri = URI.__new__(URI)
        try:
            uri.__setstate__(tuple(data["state"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise SerializeError(f"invalid state for {classname}: {exc}") from None
        return uri
    if classname == constants.WIRE_CLASS_EXCEPTION_WRAPPER:
        exception = data.get("exception")
        if isinstance(exception, BaseException):
            # msgpack's object hook converts the inner map before the wrapper's
            return ExceptionWrapper(exception)
        if not isinstance(exception, dict):
            raise SerializeError(f"invalid {classname}: no exception dict")
        return ExceptionWrapper(dict_to_class(exception))
    if classname.startswith(constants.WIRE_ERRORS_MODULE + "."):
        error_type = PYRO_ERRORS.get(classname.rpartition(".")[2])
        if error_type is not None:
            return _make_exception(error_type, data)
    elif data.get("__exception__"):
        exc_type = _known_exception_class(classname)
        if exc_type is not None:
            return _make_exception(exc_type, data)
    elif classname == "float" and data.get("value") in ("nan", "-nan"):
        return float("nan")
    raise SerializeError(f"unsupported serialized class: {classname}")


def recreate_classes(value: Any) -> Any:
    """Walk containers and turn every ``__class__`` dict into its object."""
    kind = type(value)
    if kind is dict:
        if "__class__" in value:
            return dict_to_class(value)
        for key, item in value.items():
            if type(item) in _CONTAINERS:
                value[key] = recreate_classes(item)
        return value
    if kind is list:
        for index, item in enumerate(value):
            if type(item) in _CONTAINERS:
                value[index] = recreate_classes(item)
        return value
    if kind is tuple:
        if any(type(item) in _CONTAINERS for item in value):
            return tuple(recreate_classes(item) for item in value)
        return value
    if kind is set:
        if any(type(item) in _CONTAINERS for item in value):
            return {recreate_classes(item) for item in value}
        return value
    return value


_CONTAINERS = frozenset({dict, list, tuple, set})
