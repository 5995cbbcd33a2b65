"""Serializers with Pyro4's ids and wire forms, and the class <-> dict registry.

Every serializer turns a call ``(object_id, method, args, kwargs)`` and any
reply value into bytes and back. Objects the format cannot carry natively
(URIs, proxies, exceptions, user classes) travel as dicts with a ``__class__``
key, exactly as Pyro4 writes them; :func:`dict_to_class` turns such dicts back
into objects on receipt and refuses unknown classes with a SerializeError.

The modules: ``base`` (the interface, and finding a serializer by name or id),
``classes`` (the registry and the dict forms), and one module per format:
``serpent_format``, ``json_format``, ``marshal_format``, ``msgpack_format`` and
``pickle_format`` (pickle, dill, cloudpickle).
"""

from __future__ import annotations

# (serpent, URI, ExceptionWrapper and SerializeError were importable from here when this was one
# module; callers use them so)
import serpent  # type: ignore[import-untyped]

from ..errors import ExceptionWrapper, SerializeError
from ..uri import URI
from . import base, classes, pickle_format
from .base import (
    CALL_PARTS_MIN,
    SCALAR_TYPES,
    SERIALIZER_IDS,
    CallTuple,
    SerializerBase,
    get_serializer,
    get_serializer_by_id,
    serializer_name,
)
from .classes import (
    class_to_dict,
    dict_to_class,
    exception_class_name,
    exception_to_dict,
    recreate_classes,
    register_class_to_dict,
    register_dict_to_class,
    register_pickle_name,
    register_type_replacement,
    unregister_class_to_dict,
    unregister_dict_to_class,
    unregister_pickle_name,
    unregister_type_replacement,
)
from .json_format import JsonSerializer
from .marshal_format import MarshalSerializer, check_marshal
from .msgpack_format import MsgpackSerializer
from .pickle_format import CloudpickleSerializer, DillSerializer, PickleSerializer
from .serpent_format import SerpentSerializer

# Private names that tests read from here, as when this was one module (the same objects).
_CALL_MARKER_HEAD = base._CALL_MARKER_HEAD
_CALL_MARKER_FILL = base._CALL_MARKER_FILL
_CALL_MARKER_SIZE = base._CALL_MARKER_SIZE
_dict_to_class_registry = classes._dict_to_class_registry
_pickle_names = classes._pickle_names
_pickle_classes = classes._pickle_classes
_FastPickler = pickle_format._FastPickler
_PICKLE_FRAME_SIZE = pickle_format._PICKLE_FRAME_SIZE

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
    "serializer_name",
    "recreate_classes",
    "SCALAR_TYPES",
    # importable from here before the split, and imported so by other packages and tests
    "exception_class_name",
    "check_marshal",
    "CALL_PARTS_MIN",
    "CallTuple",
    "serpent",
    "URI",
    "ExceptionWrapper",
    "SerializeError",
]
