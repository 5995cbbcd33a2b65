"""Serializers with Pyro4's ids and wire forms, and the class <-> dict registry.

Every serializer turns a call ``(object_id, method, args, kwargs)`` and any
reply value into bytes and back. Objects the format cannot carry natively
(URIs, proxies, exceptions, user classes) travel as dicts with a ``__class__``
key, exactly as Pyro4 writes them; :func:`dict_to_class` turns such dicts back
into objects on receipt and refuses unknown classes with a SerializeError.
"""

from __future__ import annotations

import array
import builtins
import datetime
import decimal
import functools
import importlib
import io
import json
import marshal
import numbers
import pickle
import struct
import sys
import uuid
from typing import Any, Callable, Optional

import serpent  # type: ignore[import-untyped]

from . import constants, fastserpent
from .config import config
from .errors import PYRO_ERRORS, ExceptionWrapper, PyroError, SecurityError, SerializeError
from .message import DEFAULT_MAX_INFLATED_SIZE, compress_payload, inflate
from .uri import URI

__all__ = [
    "SerializerBase",
    "SerpentSerializer",
    "JsonSerializer",
    "MarshalSerializer",
    "MsgpackSerializer",
    "PickleSerializer",
    "CloudpickleSerializer",
    "DillSerializer",
    "SERIALIZER_IDS",
    "get_serializer",
    "get_serializer_by_id",
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
]

#: serializer name -> Pyro4 id (these numbers are on the wire)
SERIALIZER_IDS = {"serpent": 1, "json": 2, "marshal": 3, "pickle": 4, "dill": 5, "msgpack": 6, "cloudpickle": 7}
_SERIALIZER_NAMES = {number: name for name, number in SERIALIZER_IDS.items()}
_OPTIONAL_PACKAGES = {"msgpack": "msgpack", "cloudpickle": "cloudpickle", "dill": "dill"}

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

# ---------------------------------------------------------------------------------------
# The serializers
# ---------------------------------------------------------------------------------------

CallTuple = tuple[str, str, Any, Optional[dict[str, Any]]]

#: A call whose positional arguments hold one bytes object at least this long can be
#: sent in parts, that object as it is (:meth:`SerializerBase.call_parts`).
CALL_PARTS_MIN = 256 * 1024
#: Stands in for that object while the rest of the call is serialized: a bytes object
#: longer than pickle's frame size target (64 KiB), so that pickle writes it outside its
#: frames just as it writes the real one. It is found by its head (short needles are found
#: fast); the head must occur just once in the serialized call. A new one is made for every
#: call: marshal and pickle write an object they meet again as a reference to the first.
_CALL_MARKER_HEAD = b"\x00\xffpyro_protocol call_parts stand-in\xfe\x01"
_CALL_MARKER_FILL = bytes(64 * 1024 + 4321 - len(_CALL_MARKER_HEAD))
_CALL_MARKER_SIZE = len(_CALL_MARKER_HEAD) + len(_CALL_MARKER_FILL)


class SerializerBase:
    """One wire format. Subclasses implement the four ``_dump``/``_load`` hooks."""

    serializer_id = 0
    name = ""
    #: True if :meth:`loads` reads any bytes-like object (a memoryview too), not just bytes.
    reads_buffers = False

    # Pyro4 spelled these on SerializerBase; kept so its recipes port unchanged.
    register_class_to_dict = staticmethod(register_class_to_dict)
    unregister_class_to_dict = staticmethod(unregister_class_to_dict)
    register_dict_to_class = staticmethod(register_dict_to_class)
    unregister_dict_to_class = staticmethod(unregister_dict_to_class)

    def dumps(self, data: Any) -> bytes:
        try:
            return self._dumps(data)
        except SerializeError:
            raise
        except RecursionError:
            raise SerializeError(f"{self.name}: data is nested too deeply to serialize") from None
        except Exception as exc:
            raise SerializeError(f"{self.name} cannot serialize {type(data).__name__}: {exc}") from exc

    def loads(self, data: bytes) -> Any:
        if type(data) is not bytes and not self.reads_buffers:
            data = bytes(data)  # a large payload may arrive as a view of a receive buffer
        try:
            return self._loads(data)
        except (SerializeError, SecurityError):
            raise
        except RecursionError:
            raise SerializeError(f"{self.name}: received data is nested too deeply") from None
        except Exception as exc:
            raise SerializeError(f"{self.name}: invalid data received: {type(exc).__name__}: {exc}") from None

    def dumpsCall(self, obj: str, method: str, vargs: Any, kwargs: Optional[dict[str, Any]]) -> bytes:  # noqa: N802
        try:
            return self._dumps_call(obj, method, vargs, kwargs)
        except SerializeError:
            raise
        except RecursionError:
            raise SerializeError(f"{self.name}: call arguments are nested too deeply to serialize") from None
        except Exception as exc:
            raise SerializeError(f"{self.name} cannot serialize the call arguments: {exc}") from exc

    def loadsCall(self, data: bytes) -> CallTuple:  # noqa: N802
        if type(data) is not bytes and not self.reads_buffers:
            data = bytes(data)  # a large payload may arrive as a view of a receive buffer
        try:
            obj, method, vargs, kwargs = self._loads_call(data)
        except (SerializeError, SecurityError):
            raise
        except RecursionError:
            raise SerializeError(f"{self.name}: received call is nested too deeply") from None
        except Exception as exc:
            raise SerializeError(f"{self.name}: invalid call data received: {type(exc).__name__}: {exc}") from None
        if not isinstance(obj, str) or not isinstance(method, str):
            raise SerializeError(f"{self.name}: invalid call: object id and method name must be strings")
        if kwargs is not None and not isinstance(kwargs, dict):
            raise SerializeError(f"{self.name}: invalid call: keyword arguments must be a map")
        if not isinstance(vargs, (list, tuple)):
            raise SerializeError(f"{self.name}: invalid call: positional arguments must be a sequence")
        return obj, method, vargs, kwargs

    dumps_call = dumpsCall
    loads_call = loadsCall

    # -- Pyro4 4.82's spellings, with its optional zlib compression -------------------------

    register_type_replacement = staticmethod(register_type_replacement)

    def serializeData(self, data: Any, compress: bool = False) -> tuple[bytes, bool]:  # noqa: N802
        """``(bytes, compressed)`` for ``data``; compressed only when that makes it smaller."""
        serialized = self.dumps(data)
        return compress_payload(serialized) if compress else (serialized, False)

    def deserializeData(self, data: bytes, compressed: bool = False) -> Any:  # noqa: N802
        return self.loads(inflate(data, DEFAULT_MAX_INFLATED_SIZE) if compressed else data)

    def serializeCall(  # noqa: N802
        self, obj: str, method: str, vargs: Any, kwargs: Optional[dict[str, Any]], compress: bool = False
    ) -> tuple[bytes, bool]:
        serialized = self.dumpsCall(obj, method, vargs, kwargs)
        return compress_payload(serialized) if compress else (serialized, False)

    def deserializeCall(self, data: bytes, compressed: bool = False) -> CallTuple:  # noqa: N802
        return self.loadsCall(inflate(data, DEFAULT_MAX_INFLATED_SIZE) if compressed else data)

    @staticmethod
    def class_to_dict(obj: Any) -> dict[str, Any]:
        return class_to_dict(obj)

    @staticmethod
    def dict_to_class(data: dict[str, Any]) -> Any:
        return dict_to_class(data)

    @staticmethod
    def recreate_classes(literal: Any) -> Any:
        return recreate_classes(literal)

    def bytes_prefix(self, value: bytes) -> Optional[bytes]:
        """For a large bytes value: what ``dumps(value)`` writes before the value's own bytes
        (``dumps(value) == prefix + value``), so it can be sent without copying it; None if
        this serializer cannot say."""
        return None

    def bytes_parts(self, value: bytes) -> Optional[tuple[bytes, bytes]]:
        """Like :meth:`bytes_prefix`, with what comes after: ``dumps(value) == prefix + value + suffix``."""
        prefix = self.bytes_prefix(value)
        return None if prefix is None else (prefix, b"")

    #: :meth:`call_parts` looks for positional bytes arguments at least this long; 0: it never applies
    call_parts_min = 0

    def call_parts(
        self, obj: str, method: str, vargs: Any, kwargs: Optional[dict[str, Any]]
    ) -> Optional[tuple[bytes, bytes, bytes]]:
        """For a call with one large bytes object among its positional arguments:
        ``(prefix, big, suffix)`` with ``prefix + big + suffix == dumpsCall(obj, method, vargs, kwargs)``
        where ``big`` is that very object, so the call can be sent without a serialized copy
        of it. None when this does not apply (then use :meth:`dumpsCall`)."""
        return None

    def _split_call(
        self,
        obj: str,
        method: str,
        vargs: Any,
        kwargs: Optional[dict[str, Any]],
        codes: bytes,
        size_format: str,
        size_limit: int,
    ) -> Optional[tuple[bytes, bytes, bytes]]:
        """:meth:`call_parts` for a format that writes a bytes object as one of the type ``codes``, its
        size packed with ``size_format``, then its bytes: the call is serialized with a stand-in in place
        of the large object, and the stand-in's size field and bytes are cut out of the result. Sizes
        from ``size_limit`` up need another form: None."""
        limit = self.call_parts_min
        kind = type(vargs)
        if not limit or (kind is not tuple and kind is not list):
            return None
        index = -1
        for position, value in enumerate(vargs):
            if type(value) is bytes and len(value) >= limit:
                if index >= 0:
                    return None  # more than one: the ordinary way
                index = position
        if index < 0:
            return None
        big = vargs[index]
        if len(big) >= size_limit:
            return None
        size_length = struct.calcsize(size_format)
        marker = _CALL_MARKER_HEAD + _CALL_MARKER_FILL
        stand_in = list(vargs)
        stand_in[index] = marker
        data = self.dumpsCall(obj, method, tuple(stand_in) if kind is tuple else stand_in, kwargs)
        start = data.find(_CALL_MARKER_HEAD)
        size_at = start - size_length
        if (
            size_at < 1
            or data.find(_CALL_MARKER_HEAD, start + 1) >= 0  # only the stand-in may hold it
            or not data.startswith(marker, start)
            or data[size_at - 1] not in codes
            or data[size_at:start] != struct.pack(size_format, _CALL_MARKER_SIZE)
        ):
            return None
        return data[:size_at] + struct.pack(size_format, len(big)), big, data[start + _CALL_MARKER_SIZE :]

    def _dumps(self, data: Any) -> bytes:
        raise NotImplementedError

    def _loads(self, data: bytes) -> Any:
        raise NotImplementedError

    def _dumps_call(self, obj: str, method: str, vargs: Any, kwargs: Optional[dict[str, Any]]) -> bytes:
        return self._dumps((obj, method, vargs, kwargs))

    def _loads_call(self, data: bytes) -> CallTuple:
        obj, method, vargs, kwargs = self._loads(data)
        return obj, method, vargs, kwargs

    def __repr__(self) -> str:
        return f"<{type(self).__name__} id={self.serializer_id}>"


class SerpentSerializer(SerializerBase):
    """The default: Python literal expressions. Bytes arrive as a ``{'data','encoding'}`` dict.

    Common values go through :mod:`fastserpent` (byte-identical to serpent 1.43);
    everything else, and anything the fast path is unsure of, through serpent itself.
    """

    serializer_id = 1
    name = "serpent"

    def _dumps(self, data: Any) -> bytes:
        try:
            return fastserpent.dumps(data)
        except Exception:  # Unsupported, or an error serpent will report in its own words
            return serpent.dumps(data, module_in_classname=True)  # type: ignore[no-any-return]

    def _serpent_loads(self, data: bytes) -> Any:
        if b"\x00" in data:
            raise SerializeError("serpent: data contains NUL bytes")
        try:
            return fastserpent.loads(data)
        except Exception:  # Unsupported, or an error serpent will report in its own words
            return serpent.loads(data)

    def _loads(self, data: bytes) -> Any:
        return recreate_classes(self._serpent_loads(data))

    def _dumps_call(self, obj: str, method: str, vargs: Any, kwargs: Optional[dict[str, Any]]) -> bytes:
        try:
            return fastserpent.dumps_call(obj, method, vargs, kwargs)
        except Exception:  # Unsupported, or an error serpent will report in its own words
            return serpent.dumps((obj, method, vargs, kwargs), module_in_classname=True)  # type: ignore[no-any-return]

    def _loads_call(self, data: bytes) -> CallTuple:
        if b"\x00" in data:
            raise SerializeError("serpent: data contains NUL bytes")
        try:
            plain = fastserpent.plain_call(data)
            if plain is not None:
                return plain  # scalars only: no class dicts to turn into objects
            call = fastserpent.loads(data)
        except Exception:  # Unsupported, or an error serpent will report in its own words
            call = serpent.loads(data)
        obj, method, vargs, kwargs = call
        return obj, method, recreate_classes(vargs), recreate_classes(kwargs)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    if isinstance(obj, uuid.UUID) or isinstance(obj, decimal.Decimal):
        return str(obj)
    if isinstance(obj, (datetime.datetime, datetime.date)):
        return obj.isoformat()
    if isinstance(obj, array.array):
        return obj.tounicode() if obj.typecode == "u" else obj.tolist()
    if isinstance(obj, (bytes, bytearray, memoryview)):
        raise SerializeError("json cannot serialize bytes; use serpent, marshal or msgpack for binary data")
    return class_to_dict(obj)


#: json.dumps(..., ensure_ascii=False, default=_json_default) builds an encoder per call; one does.
_json_encode = json.JSONEncoder(ensure_ascii=False, default=_json_default).encode


def _json_functions(module_name: str) -> tuple[Callable[[Any], str], Callable[[str], Any]]:
    """(encode, decode) of the JSON_MODULE: the standard library's, or a module with its
    ``dumps(obj, ensure_ascii=, default=)`` and ``loads(text)`` (simplejson, for one)."""
    if module_name == "json":
        return _json_encode, json.loads
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SerializeError(
            f"config item JSON_MODULE names {module_name!r}, which cannot be imported ({exc}); "
            "install it, or set JSON_MODULE (PYRO_JSON_MODULE) to 'json'"
        ) from None
    dumps, loads = getattr(module, "dumps", None), getattr(module, "loads", None)
    if not callable(dumps) or not callable(loads):
        raise SerializeError(f"JSON_MODULE {module_name!r} has no dumps and loads functions like json's")
    return functools.partial(dumps, ensure_ascii=False, default=_json_default), loads


class JsonSerializer(SerializerBase):
    """JSON, UTF-8. Tuples and sets arrive as lists; bytes cannot be sent.

    The JSON module is config.JSON_MODULE as it is when the serializer is made (for
    :func:`get_serializer`: the process's first json message); SerializeError if it
    cannot be imported.
    """

    serializer_id = 2
    name = "json"

    def __init__(self) -> None:
        self._encode, self._decode = _json_functions(str(config.JSON_MODULE))

    def _dumps(self, data: Any) -> bytes:
        return self._encode(data).encode("utf-8")

    def _loads(self, data: bytes) -> Any:
        return recreate_classes(self._decode(data.decode("utf-8")))

    def _dumps_call(self, obj: str, method: str, vargs: Any, kwargs: Optional[dict[str, Any]]) -> bytes:
        call = {"object": obj, "method": method, "params": vargs, "kwargs": kwargs}
        return self._encode(call).encode("utf-8")

    def _loads_call(self, data: bytes) -> CallTuple:
        call = self._decode(data.decode("utf-8"))
        if not isinstance(call, dict):
            raise SerializeError("json: a call must be an object with keys object, method, params, kwargs")
        return call["object"], call["method"], recreate_classes(call["params"]), recreate_classes(call["kwargs"])


#: marshal's type code for a bytes object that is referenced elsewhere too (as any call's result is)
_MARSHAL_PROBE = b"a bytes object referenced twice"
_MARSHAL_BYTES_TYPE = marshal.dumps(_MARSHAL_PROBE)[:1]
_MARSHAL_BYTES_CODES = bytes((ord("s"), ord("s") | 0x80))
_MARSHAL_ATOMS = (type(None), bool, int, float, complex, str, bytes, bytearray)
_MARSHAL_NATIVE = frozenset(_MARSHAL_ATOMS + (list, tuple, dict, set, frozenset))


def _marshallable(value: Any) -> Any:
    """Convert what marshal cannot carry (at any depth) into its Pyro dict form."""
    kind = type(value)
    if kind in _MARSHAL_ATOMS:
        return value
    if kind is list:
        return [_marshallable(item) for item in value]
    if kind is tuple:
        return tuple(_marshallable(item) for item in value)
    if kind is dict:
        return {key: _marshallable(item) for key, item in value.items()}
    if kind in (set, frozenset):
        return kind(_marshallable(item) for item in value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, array.array):
        return value.tounicode() if value.typecode == "u" else value.tolist()
    if kind is memoryview:
        return value.tobytes()
    if kind in (datetime.datetime, datetime.date, datetime.time, datetime.timedelta, decimal.Decimal):
        raise SerializeError(f"marshal cannot serialize {kind.__name__}")
    return _marshallable(class_to_dict(value))


# What check_marshal does after each type code (flag bit 0x80 masked off): a number >= 0 is a
# fixed size to skip; the negative ones are the kinds below; anything else is refused.
_M_LEN4, _M_COUNT4, _M_LONG, _M_LEN1, _M_SMALL_TUPLE, _M_DICT, _M_COMPLEX, _M_NULL, _M_REFUSED = range(-1, -10, -1)
_M_SIZED = frozenset({_M_LEN4, _M_COUNT4, _M_LONG})  # a 4-byte size follows the type code
_M_ACTION = [_M_REFUSED] * 128
for _code, _action in {
    **{code: size for code, size in zip(b"NFTirIgy", (0, 0, 0, 4, 4, 8, 8, 16))},
    **dict.fromkeys(b"stuaA", _M_LEN4),  # 4-byte length, then that many bytes
    **dict.fromkeys(b"([<>", _M_COUNT4),  # 4-byte element count, then the elements
    **dict.fromkeys(b"zZf", _M_LEN1),  # 1-byte length, then that many bytes
    ord("l"): _M_LONG,  # a 4-byte digit count (signed), then 2 bytes a digit
    ord(")"): _M_SMALL_TUPLE,  # 1-byte element count
    ord("{"): _M_DICT,  # key, value pairs until a NULL
    ord("x"): _M_COMPLEX,  # two short float strings
    ord("0"): _M_NULL,
}.items():
    _M_ACTION[_code] = _action
del _code, _action


def check_marshal(data: bytes) -> None:
    """Refuse marshal data that would make ``marshal.loads`` allocate far more than it holds.

    marshal trusts the element counts of tuples, lists and sets (and digit counts of
    ints) and allocates them before reading the elements: 5 bytes could ask for 16 GB.
    Every element needs at least one byte, so a count larger than the bytes left is a
    lie. Code objects and other exotic types are refused: Pyro never sends them.
    """
    size = len(data)
    pos = 0
    left = 1  # objects still to read in the innermost open container; -1: a dict, until its NULL
    outer: list[int] = []  # the same for the containers around it
    actions = _M_ACTION
    while True:
        if not left:
            if not outer:
                return
            left = outer.pop()
            continue
        if pos >= size:
            raise SerializeError("marshal: data too short")
        code = data[pos] & 0x7F
        action = actions[code]
        pos += 1
        if action >= 0:
            pos += action
            if left > 0:
                left -= 1
            continue
        if action == _M_NULL:  # ends a dict
            if left != -1:
                raise SerializeError("marshal: unexpected NULL in data")
            left = outer.pop()  # (a dict's '{' put its parent's count there)
            continue
        if left > 0:
            left -= 1
        if action in _M_SIZED:
            count = int.from_bytes(data[pos : pos + 4], "little", signed=True)
            pos += 4
            if action == _M_LONG:
                count = abs(count) * 2
            if count < 0 or count > size - pos:
                raise SerializeError(f"marshal: a size of {count} does not fit in {size - pos} remaining bytes")
            if action == _M_COUNT4:
                outer.append(left)
                left = count
            else:
                pos += count
        elif action == _M_LEN1:
            pos += 1 + (data[pos] if pos < size else 0)
        elif action == _M_SMALL_TUPLE:
            outer.append(left)
            left = data[pos] if pos < size else 0
            pos += 1
        elif action == _M_DICT:
            outer.append(left)
            left = -1
        elif action == _M_COMPLEX:
            for _ in range(2):
                pos += 1 + (data[pos] if pos < size else 0)
        else:
            raise SerializeError(f"marshal: type code {chr(code)!r} is not accepted")


class MarshalSerializer(SerializerBase):
    """CPython's marshal: fast, only builtin types; others travel as class dicts."""

    reads_buffers = True

    serializer_id = 3
    name = "marshal"

    def _dumps(self, data: Any) -> bytes:
        if type(data) not in _MARSHAL_NATIVE:
            # marshal would write array.array, memoryview and other buffers as bytes
            data = _marshallable(data)
        try:
            return marshal.dumps(data)
        except ValueError:
            return marshal.dumps(_marshallable(data))

    def _loads(self, data: bytes) -> Any:
        check_marshal(data)
        return recreate_classes(marshal.loads(data))

    def bytes_prefix(self, value: bytes) -> Optional[bytes]:
        # marshal writes a bytes object as its type code and a 4-byte little-endian size
        if type(value) is bytes and len(value) < 2**31:
            return _MARSHAL_BYTES_TYPE + struct.pack("<i", len(value))
        return None

    call_parts_min = CALL_PARTS_MIN

    def call_parts(
        self, obj: str, method: str, vargs: Any, kwargs: Optional[dict[str, Any]]
    ) -> Optional[tuple[bytes, bytes, bytes]]:
        # 's' and a 4-byte little-endian signed size (0x80 on the code: the object is in marshal's ref table)
        if type(self) is not MarshalSerializer:
            return None
        return self._split_call(obj, method, vargs, kwargs, _MARSHAL_BYTES_CODES, "<i", 2**31)

    def _dumps_call(self, obj: str, method: str, vargs: Any, kwargs: Optional[dict[str, Any]]) -> bytes:
        # like Pyro4, every top-level argument is made marshallable (array.array -> list or str, ...)
        args = [value if type(value) in _MARSHAL_NATIVE else _marshallable(value) for value in vargs]
        if kwargs:
            kwargs = {
                key: value if type(value) in _MARSHAL_NATIVE else _marshallable(value) for key, value in kwargs.items()
            }
        call = (obj, method, args, kwargs)
        try:
            return marshal.dumps(call)
        except ValueError:
            return marshal.dumps(_marshallable(call))

    def _loads_call(self, data: bytes) -> CallTuple:
        check_marshal(data)
        obj, method, vargs, kwargs = marshal.loads(data)
        return obj, method, recreate_classes(vargs), recreate_classes(kwargs)


def _require(module_name: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except ImportError:
        raise SerializeError(
            f"the {module_name} serializer needs the '{_OPTIONAL_PACKAGES[module_name]}' package: "
            f"pip install {_OPTIONAL_PACKAGES[module_name]} (or pyro-protocol[{module_name}])"
        ) from None


_MSGPACK_COMPLEX, _MSGPACK_BIGINT, _MSGPACK_DATETIME, _MSGPACK_DATE = 0x30, 0x31, 0x32, 0x33


class MsgpackSerializer(SerializerBase):
    """msgpack with Pyro4's ext types: complex 0x30, big int 0x31, datetime 0x32, date 0x33."""

    reads_buffers = True

    serializer_id = 6
    name = "msgpack"

    def __init__(self) -> None:
        self.msgpack = _require("msgpack")

    def _default(self, obj: Any) -> Any:
        msgpack = self.msgpack
        if isinstance(obj, (set, frozenset)):
            return tuple(obj)
        if isinstance(obj, complex):
            return msgpack.ExtType(_MSGPACK_COMPLEX, struct.pack("dd", obj.real, obj.imag))
        if isinstance(obj, datetime.datetime):
            if obj.tzinfo:
                raise SerializeError("msgpack cannot serialize datetime with timezone info")
            return msgpack.ExtType(_MSGPACK_DATETIME, struct.pack("d", obj.timestamp()))
        if isinstance(obj, datetime.date):
            return msgpack.ExtType(_MSGPACK_DATE, struct.pack("l", obj.toordinal()))
        if isinstance(obj, decimal.Decimal) or isinstance(obj, uuid.UUID):
            return str(obj)
        if isinstance(obj, int):
            return msgpack.ExtType(_MSGPACK_BIGINT, str(obj).encode("ascii"))
        if isinstance(obj, numbers.Number):
            return msgpack.ExtType(_MSGPACK_BIGINT, str(obj).encode("ascii"))
        if isinstance(obj, array.array):
            return obj.tounicode() if obj.typecode == "u" else obj.tolist()
        return class_to_dict(obj)

    def _ext_hook(self, code: int, data: bytes) -> Any:
        if code == _MSGPACK_COMPLEX:
            real, imag = struct.unpack("dd", data)
            return complex(real, imag)
        if code == _MSGPACK_BIGINT:
            return int(data)
        if code == _MSGPACK_DATETIME:
            return datetime.datetime.fromtimestamp(struct.unpack("d", data)[0])
        if code == _MSGPACK_DATE:
            return datetime.date.fromordinal(struct.unpack("l", data)[0])
        raise SerializeError(f"invalid ext code for msgpack: {code}")

    @staticmethod
    def _object_hook(data: dict[str, Any]) -> Any:
        return dict_to_class(data) if "__class__" in data else data

    def _dumps(self, data: Any) -> bytes:
        return self.msgpack.packb(data, use_bin_type=True, default=self._default)  # type: ignore[no-any-return]

    def _loads(self, data: bytes) -> Any:
        return self.msgpack.unpackb(
            data, raw=False, strict_map_key=False, ext_hook=self._ext_hook, object_hook=self._object_hook
        )

    def bytes_prefix(self, value: bytes) -> Optional[bytes]:
        # bin 32: 0xc6 and a 4-byte big-endian size (msgpack's form for 64 KiB up to 4 GiB)
        if type(value) is bytes and 65536 <= len(value) < 2**32:
            return b"\xc6" + struct.pack(">I", len(value))
        return None


class _Pyro4NamesNeeded(Exception):
    """Raised inside the fast pickler when the data holds a class with a Pyro4 wire name."""


def _needs_pyro4_names(obj: Any) -> bool:
    kind = type(obj)
    if kind in _pickle_names or kind in _type_replacements:
        return True
    return kind is type and obj in _pickle_names


class _FastPickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        if _needs_pyro4_names(obj):
            raise _Pyro4NamesNeeded
        return NotImplemented


class _Pyro4NamesMixin:
    """For pure-Python picklers: write our URI/Proxy/error classes under Pyro4's module paths.

    Classes are caught in :meth:`save` itself, not in ``save_global``: dill replaces
    the pure-Python pickler's type dispatch process-wide on import, and its
    replacement calls ``pickle._Pickler.save_global`` directly.
    """

    def save(self, obj: Any, save_persistent_id: bool = True) -> None:
        replacer = _type_replacements.get(type(obj))
        if replacer is not None:
            obj = replacer(obj)
        if type(obj) is type and obj in _pickle_names:
            self._save_wire_class(obj)
            return
        super().save(obj, save_persistent_id)  # type: ignore[misc]

    def _save_wire_class(self, cls: type) -> None:
        memo = self.memo  # type: ignore[attr-defined]
        known = memo.get(id(cls))
        if known is not None:
            self.write(self.get(known[0]))  # type: ignore[attr-defined]
            return
        module, qualname = _pickle_names[cls]
        if self.proto >= 4:  # type: ignore[attr-defined]
            super().save(module)  # type: ignore[misc]
            super().save(qualname)  # type: ignore[misc]
            self.write(pickle.STACK_GLOBAL)  # type: ignore[attr-defined]
        else:
            self.write(pickle.GLOBAL + module.encode("utf-8") + b"\n" + qualname.encode("utf-8") + b"\n")  # type: ignore[attr-defined]
        self.memoize(cls)  # type: ignore[attr-defined]


class _Pyro4NamesPickler(_Pyro4NamesMixin, pickle._Pickler):
    """Pure-Python pickler that writes our URI/Proxy/error classes under Pyro4's module paths."""


def _find_wire_class(module: str, name: str) -> Optional[type]:
    ours = _pickle_classes.get((module, name))
    if ours is not None:
        return ours
    if module == constants.WIRE_ERRORS_MODULE:
        return PYRO_ERRORS.get(name)
    return None


class _BufferReader:
    """A read-only file over any buffer, for the unpickler: io.BytesIO would copy a memoryview first."""

    __slots__ = ("_view", "_pos")

    def __init__(self, data: Any) -> None:
        self._view = memoryview(data).cast("B")
        self._pos = 0

    def read(self, size: int = -1) -> bytes:
        start = self._pos
        end = len(self._view) if size is None or size < 0 else min(start + size, len(self._view))
        self._pos = end
        return self._view[start:end].tobytes()

    def readinto(self, target: Any) -> int:
        start = self._pos
        count = min(len(target), len(self._view) - start)
        target[:count] = self._view[start : start + count]
        self._pos = start + count
        return count

    def readline(self, size: int = -1) -> bytes:
        view = self._view
        start = self._pos
        end = len(view) if size is None or size < 0 else min(start + size, len(view))
        stop = end
        pos = start
        while pos < end:  # in small steps: a line is short, the buffer may be huge
            step = view[pos : min(pos + 256, end)].tobytes()
            newline = step.find(b"\n")
            if newline >= 0:
                stop = pos + newline + 1
                break
            pos += len(step)
        self._pos = stop
        return view[start:stop].tobytes()


def _reader(data: Any) -> Any:
    return io.BytesIO(data) if type(data) is bytes else _BufferReader(data)


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        return _find_wire_class(module, name) or super().find_class(module, name)


#: pickle writes bytes at least this long outside its frames (the pickle module's frame size target)
_PICKLE_FRAME_SIZE = 64 * 1024
_pickled_bytes_forms: dict[int, Optional[tuple[bytes, bytes]]] = {}


def _pickled_bytes_form(protocol: int) -> Optional[tuple[bytes, bytes]]:
    """How our pickler writes a large bytes object with ``protocol``: (bytes before the 4-byte size, bytes
    after the data), learnt once from a probe; None when it is not that simple shape."""
    if protocol not in _pickled_bytes_forms:
        form = None
        if protocol >= 4:
            probe = bytes(range(256)) * (_PICKLE_FRAME_SIZE // 256 + 1)
            stream = io.BytesIO()
            _FastPickler(stream, protocol).dump(probe)
            pickled = stream.getvalue()
            start = pickled.find(probe)
            size = struct.pack("<I", len(probe))
            if start >= 4 and pickled[start - 4 : start] == size and pickled.count(probe) == 1:
                form = (pickled[: start - 4], pickled[start + len(probe) :])
        _pickled_bytes_forms[protocol] = form
    return _pickled_bytes_forms[protocol]


#: Types of plain, immutable single values: they pickle without naming any class, and a
#: value made of them only can be kept and handed out again (the handshake caches).
PLAIN_SCALARS = frozenset({type(None), bool, int, float, complex, str, bytes})


class PickleSerializer(SerializerBase):
    """pickle: any Python object, and unsafe with untrusted peers (a daemon refuses it by default)."""

    reads_buffers = True

    serializer_id = 4
    name = "pickle"

    def _protocol(self) -> int:
        return int(config.PICKLE_PROTOCOL_VERSION)

    def _dumps(self, data: Any) -> bytes:
        if type(data) in PLAIN_SCALARS and type(self) is PickleSerializer:
            return pickle.dumps(data, self._protocol())  # the same bytes, without a stream and our pickler
        stream = io.BytesIO()
        try:
            _FastPickler(stream, self._protocol()).dump(data)
        except _Pyro4NamesNeeded:
            stream = io.BytesIO()
            _Pyro4NamesPickler(stream, self._protocol()).dump(data)
        return stream.getvalue()

    def _loads(self, data: bytes) -> Any:
        return _Unpickler(_reader(data)).load()

    def _dumps_call(self, obj: str, method: str, vargs: Any, kwargs: Optional[dict[str, Any]]) -> bytes:
        call = (obj, method, vargs, kwargs)
        if (
            type(self) is PickleSerializer
            and type(vargs) is tuple
            and not kwargs
            and all(type(value) in PLAIN_SCALARS for value in vargs)
        ):
            return pickle.dumps(call, self._protocol())  # plain arguments name no class: the same bytes
        return self._dumps(call)

    def bytes_parts(self, value: bytes) -> Optional[tuple[bytes, bytes]]:
        if (
            type(value) is not bytes
            or not _PICKLE_FRAME_SIZE <= len(value) < 2**32
            or type(self) is not PickleSerializer
        ):
            return None
        form = _pickled_bytes_form(self._protocol())
        if form is None:
            return None
        head, suffix = form
        return head + struct.pack("<I", len(value)), suffix

    call_parts_min = CALL_PARTS_MIN

    def call_parts(
        self, obj: str, method: str, vargs: Any, kwargs: Optional[dict[str, Any]]
    ) -> Optional[tuple[bytes, bytes, bytes]]:
        # BINBYTES and a 4-byte little-endian size (protocol 3 and up; 4 and up write it outside any frame)
        if type(self) is not PickleSerializer or self._protocol() < 3:
            return None
        return self._split_call(obj, method, vargs, kwargs, pickle.BINBYTES, "<I", 2**32)


def _cloudpickle_picklers(cloudpickle: Any) -> tuple[type, type]:
    """cloudpickle's (C) pickler with the wire-name check, and a pure-Python one with Pyro4 names.

    cloudpickle only customizes pickling through ``reducer_override`` (functions and
    classes by value) and its ``dispatch_table``; the pure-Python pickler honours
    both, so it borrows them to write cloudpickle's forms plus Pyro4's class paths.
    """
    base = cloudpickle.Pickler

    class FastCloudPickler(base):  # type: ignore[misc,valid-type]
        def reducer_override(self, obj: Any) -> Any:
            if _needs_pyro4_names(obj):
                raise _Pyro4NamesNeeded
            return super().reducer_override(obj)

    helpers = {
        name: value
        for name, value in vars(base).items()
        if callable(value) and name.startswith("_") and not name.startswith("__")
    }

    class CloudPyro4NamesPickler(_Pyro4NamesPickler):
        dispatch_table = base.dispatch_table

        def __init__(self, file: Any, protocol: int) -> None:
            super().__init__(file, protocol)
            self.globals_ref: dict[int, Any] = {}

        def reducer_override(self, obj: Any) -> Any:
            return base.reducer_override(self, obj)

    for name, helper in helpers.items():
        setattr(CloudPyro4NamesPickler, name, helper)
    return FastCloudPickler, CloudPyro4NamesPickler


class CloudpickleSerializer(PickleSerializer):
    """cloudpickle: like pickle, and can send functions and classes by value."""

    serializer_id = 7
    name = "cloudpickle"
    call_parts_min = 0

    def __init__(self) -> None:
        self.cloudpickle = _require("cloudpickle")
        self._fast_pickler, self._names_pickler = _cloudpickle_picklers(self.cloudpickle)

    def _dumps(self, data: Any) -> bytes:
        stream = io.BytesIO()
        try:
            self._fast_pickler(stream, self._protocol()).dump(data)
        except _Pyro4NamesNeeded:
            stream = io.BytesIO()
            self._names_pickler(stream, self._protocol()).dump(data)
        return stream.getvalue()


class DillSerializer(PickleSerializer):
    """dill: like pickle, with a wider range of Python types."""

    serializer_id = 5
    name = "dill"
    call_parts_min = 0

    def __init__(self) -> None:
        self.dill = _require("dill")

        class DillPyro4NamesPickler(_Pyro4NamesMixin, self.dill.Pickler):  # type: ignore[misc,name-defined]
            pass

        class DillUnpickler(self.dill.Unpickler):  # type: ignore[misc,name-defined]
            def find_class(self, module: str, name: str) -> Any:
                return _find_wire_class(module, name) or super().find_class(module, name)

        self._pickler = DillPyro4NamesPickler
        self._unpickler = DillUnpickler

    def _dumps(self, data: Any) -> bytes:
        stream = io.BytesIO()
        self._pickler(stream, int(config.DILL_PROTOCOL_VERSION)).dump(data)
        return stream.getvalue()

    def _loads(self, data: bytes) -> Any:
        return self._unpickler(_reader(data)).load()


_SERIALIZER_CLASSES: dict[str, type[SerializerBase]] = {
    "serpent": SerpentSerializer,
    "json": JsonSerializer,
    "marshal": MarshalSerializer,
    "pickle": PickleSerializer,
    "dill": DillSerializer,
    "msgpack": MsgpackSerializer,
    "cloudpickle": CloudpickleSerializer,
}
_instances: dict[str, SerializerBase] = {}


def get_serializer(name: str) -> SerializerBase:
    """The serializer called ``name``; SerializeError for an unknown or uninstalled one."""
    instance = _instances.get(name)
    if instance is None:
        cls = _SERIALIZER_CLASSES.get(name)
        if cls is None:
            raise SerializeError(
                f"serializer '{name}' is unknown or not available (known: {', '.join(SERIALIZER_IDS)})"
            )
        instance = _instances[name] = cls()
    return instance


def get_serializer_by_id(serializer_id: int) -> SerializerBase:
    name = _SERIALIZER_NAMES.get(serializer_id)
    if name is None:
        raise SerializeError(f"no serializer available for id {serializer_id}")
    return get_serializer(name)


def serializer_name(serializer_id: int) -> str:
    return _SERIALIZER_NAMES.get(serializer_id, f"unknown serializer {serializer_id}")


__all__ += ["serializer_name", "recreate_classes", "PLAIN_SCALARS"]
