"""The interface every format implements, and finding a format by its name or wire id."""

from __future__ import annotations

import importlib
import struct
from typing import Any, Optional, Union

from ..errors import SecurityError, SerializeError
from ..message import DEFAULT_MAX_INFLATED_SIZE, compress_payload, inflate
from .classes import (
    class_to_dict,
    dict_to_class,
    recreate_classes,
    register_class_to_dict,
    register_dict_to_class,
    register_type_replacement,
    unregister_class_to_dict,
    unregister_dict_to_class,
)

__all__ = [
    "SerializerBase",
    "CallTuple",
    "SCALAR_TYPES",
    "CALL_PARTS_MIN",
    "SERIALIZER_IDS",
    "get_serializer",
    "get_serializer_by_id",
    "serializer_name",
]

#: serializer name -> Pyro4 id (these numbers are on the wire)
SERIALIZER_IDS = {"serpent": 1, "json": 2, "marshal": 3, "pickle": 4, "dill": 5, "msgpack": 6, "cloudpickle": 7}
_SERIALIZER_NAMES = {number: name for name, number in SERIALIZER_IDS.items()}
_OPTIONAL_PACKAGES = {"msgpack": "msgpack", "cloudpickle": "cloudpickle", "dill": "dill"}

CallTuple = tuple[str, str, Any, Optional[dict[str, Any]]]

#: The exact types of single, immutable values: every format writes them without naming a class
#: (pickle too), and a value made of them only can be kept and handed out again (the handshake caches).
SCALAR_TYPES = frozenset({type(None), bool, int, float, complex, str, bytes})

#: A call whose positional arguments hold one bytes object at least this long can be
#: sent in parts, that object as it is (:meth:`SerializerBase.call_parts`).
CALL_PARTS_MIN = 256 * 1024
#: Stands in for that object while the rest of the call is serialized: a bytes object long
#: enough that every format writes it in the form it has for the real one (over 64 KiB: pickle
#: writes it outside its frames, msgpack as bin 32). It is found by its head (short needles are
#: found fast); the head must occur just once in the serialized call. A new one is made for every
#: call: marshal and pickle write an object they meet again as a reference to the first.
_CALL_MARKER_SIZE = 69_857
_CALL_MARKER_HEAD = b"\x00\xffpyro_protocol call_parts stand-in\xfe\x01"
_CALL_MARKER_FILL = bytes(_CALL_MARKER_SIZE - len(_CALL_MARKER_HEAD))


#: operation -> (the message when the data is nested too deeply, the message for any other error)
_ERROR_MESSAGES = {
    "dumps": ("{name}: data is nested too deeply to serialize", "{name} cannot serialize {subject}: {exc}"),
    "dumpsCall": (
        "{name}: call arguments are nested too deeply to serialize",
        "{name} cannot serialize the call arguments: {exc}",
    ),
    "loads": ("{name}: received data is nested too deeply", "{name}: invalid data received: {subject}: {exc}"),
    "loadsCall": ("{name}: received call is nested too deeply", "{name}: invalid call data received: {subject}: {exc}"),
}


#: The operations a format may do itself for its common values (see SerializerBase.__init_subclass__)
_OPERATIONS = ("dumps", "loads", "dumpsCall", "loadsCall", "call_payload")


def translate_error(exc: Exception, name: str, operation: str, data: Any = None) -> Exception:
    """What a serializer raises when its format raised ``exc`` during ``operation`` (a key of
    _ERROR_MESSAGES): Pyro's own errors as they are, anything else as a SerializeError that
    says what failed, caused by ``exc`` when a value of ours could not be serialized (its error
    explains why) and by nothing for received data (the peer's doing)."""
    received = operation.startswith("loads")
    if isinstance(exc, SerializeError) or (received and isinstance(exc, SecurityError)):
        return exc
    nested, other = _ERROR_MESSAGES[operation]
    if isinstance(exc, RecursionError):
        error = SerializeError(nested.format(name=name))
    else:
        subject = type(exc if received else data).__name__
        error = SerializeError(other.format(name=name, subject=subject, exc=exc))
    error.__cause__ = None if received or isinstance(exc, RecursionError) else exc
    error.__suppress_context__ = True  # (as "raise ... from": the cause, if any, tells it)
    return error


def checked_call(name: str, obj: Any, method: Any, vargs: Any, kwargs: Any) -> CallTuple:
    """The call tuple, after the checks every received call passes."""
    if not isinstance(obj, str) or not isinstance(method, str):
        raise SerializeError(f"{name}: invalid call: object id and method name must be strings")
    if kwargs is not None and not isinstance(kwargs, dict):
        raise SerializeError(f"{name}: invalid call: keyword arguments must be a map")
    if not isinstance(vargs, (list, tuple)):
        raise SerializeError(f"{name}: invalid call: positional arguments must be a sequence")
    return obj, method, vargs, kwargs


class SerializerBase:
    """One wire format. Subclasses implement the four ``_dump``/``_load`` hooks."""

    serializer_id = 0
    name = ""
    #: True if :meth:`loads` reads any bytes-like object (a memoryview too), not just bytes.
    reads_buffers = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A format's own dumps/loads/dumpsCall/loadsCall handle its commonest values without its
        # _dumps/... hooks; a subclass, which may change those hooks, gets the general methods
        # (which call them) unless it defines its own.
        for operation in _OPERATIONS:
            general = getattr(SerializerBase, operation)
            if operation not in vars(cls) and getattr(cls, operation) is not general:
                setattr(cls, operation, general)
        cls.dumps_call, cls.loads_call = cls.dumpsCall, cls.loadsCall

    # Pyro4 spelled these on SerializerBase; kept so its recipes port unchanged.
    register_class_to_dict = staticmethod(register_class_to_dict)
    unregister_class_to_dict = staticmethod(unregister_class_to_dict)
    register_dict_to_class = staticmethod(register_dict_to_class)
    unregister_dict_to_class = staticmethod(unregister_dict_to_class)

    # The four operations. A format overrides _dumps/_loads/_dumps_call/_loads_call; one may also
    # override these for its commonest values, falling back to SerializerBase's for the rest.

    def dumps(self, data: Any) -> bytes:
        try:
            return self._dumps(data)
        except Exception as exc:
            raise translate_error(exc, self.name, "dumps", data)

    def loads(self, data: bytes) -> Any:
        if type(data) is not bytes and not self.reads_buffers:
            data = bytes(data)  # a large payload may arrive as a view of a receive buffer
        try:
            return self._loads(data)
        except Exception as exc:
            raise translate_error(exc, self.name, "loads")

    def dumpsCall(self, obj: str, method: str, vargs: Any, kwargs: Optional[dict[str, Any]]) -> bytes:  # noqa: N802
        try:
            return self._dumps_call(obj, method, vargs, kwargs)
        except Exception as exc:
            raise translate_error(exc, self.name, "dumpsCall")

    def loadsCall(self, data: bytes) -> CallTuple:  # noqa: N802
        if type(data) is not bytes and not self.reads_buffers:
            data = bytes(data)  # a large payload may arrive as a view of a receive buffer
        try:
            obj, method, vargs, kwargs = self._loads_call(data)
        except Exception as exc:
            raise translate_error(exc, self.name, "loadsCall")
        return checked_call(self.name, obj, method, vargs, kwargs)

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

    def call_payload(
        self, obj: str, method: str, vargs: Any, kwargs: Optional[dict[str, Any]]
    ) -> Union[bytes, tuple[bytes, bytes, bytes]]:
        """The payload of a call's INVOKE message: :meth:`call_parts` when the call has one large bytes
        object among its positional arguments (sent without a serialized copy), else :meth:`dumpsCall`."""
        limit = self.call_parts_min
        if limit and type(vargs) is tuple:
            for value in vargs:
                if type(value) is bytes and len(value) >= limit:
                    parts = self.call_parts(obj, method, vargs, kwargs)
                    if parts is not None:
                        return parts
                    break
        return self.dumpsCall(obj, method, vargs, kwargs)

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


def _require(module_name: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except ImportError:
        raise SerializeError(
            f"the {module_name} serializer needs the '{_OPTIONAL_PACKAGES[module_name]}' package: "
            f"pip install {_OPTIONAL_PACKAGES[module_name]} (or pyro-protocol[{module_name}])"
        ) from None


#: serializer name -> (module of this package, class), imported when the serializer is first asked for
_SERIALIZER_CLASSES: dict[str, tuple[str, str]] = {
    "serpent": ("serpent_format", "SerpentSerializer"),
    "json": ("json_format", "JsonSerializer"),
    "marshal": ("marshal_format", "MarshalSerializer"),
    "pickle": ("pickle_format", "PickleSerializer"),
    "dill": ("pickle_format", "DillSerializer"),
    "msgpack": ("msgpack_format", "MsgpackSerializer"),
    "cloudpickle": ("pickle_format", "CloudpickleSerializer"),
}
_instances: dict[str, SerializerBase] = {}


def get_serializer(name: str) -> SerializerBase:
    """The serializer called ``name``; SerializeError for an unknown or uninstalled one."""
    instance = _instances.get(name)
    if instance is None:
        where = _SERIALIZER_CLASSES.get(name)
        if where is None:
            raise SerializeError(
                f"serializer '{name}' is unknown or not available (known: {', '.join(SERIALIZER_IDS)})"
            )
        module = importlib.import_module(f"{__package__}.{where[0]}")
        instance = _instances[name] = getattr(module, where[1])()
    return instance


def get_serializer_by_id(serializer_id: int) -> SerializerBase:
    name = _SERIALIZER_NAMES.get(serializer_id)
    if name is None:
        raise SerializeError(f"no serializer available for id {serializer_id}")
    return get_serializer(name)


def serializer_name(serializer_id: int) -> str:
    return _SERIALIZER_NAMES.get(serializer_id, f"unknown serializer {serializer_id}")
