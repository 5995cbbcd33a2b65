"""pickle (id 4), dill (5) and cloudpickle (7), writing our classes under Pyro4's module paths."""

from __future__ import annotations

import io
import pickle
import struct
from typing import Any, Optional

from .. import constants
from ..config import config
from ..errors import PYRO_ERRORS
from .base import CALL_PARTS_MIN, SerializerBase, _require
from .classes import _pickle_classes, _pickle_names, _type_replacements

__all__ = ["PickleSerializer", "CloudpickleSerializer", "DillSerializer", "PLAIN_SCALARS"]


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
