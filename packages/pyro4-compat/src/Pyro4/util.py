"""Pyro4.util: serializers (pyro_protocol.serializers), tracebacks (pyro_client.util) and the
exposure rules (pyro_server.exposure)."""

from pyro_client.util import excepthook, formatTraceback, getPyroTraceback
from pyro_protocol.serializers import (
    CloudpickleSerializer,
    DillSerializer,
    JsonSerializer,
    MarshalSerializer,
    MsgpackSerializer,
    PickleSerializer,
    SerializerBase,
    SerpentSerializer,
    get_serializer,
    get_serializer_by_id,
)
from pyro_server.exposure import (
    get_exposed_members,
    get_exposed_property_value,
    is_private_attribute,
    reset_exposed_members,
    set_exposed_property_value,
)

__all__ = [
    "getPyroTraceback",
    "formatTraceback",
    "excepthook",
    "SerializerBase",
    "PickleSerializer",
    "CloudpickleSerializer",
    "DillSerializer",
    "MarshalSerializer",
    "SerpentSerializer",
    "JsonSerializer",
    "MsgpackSerializer",
    "get_serializer",
    "get_serializer_by_id",
    "get_exposed_members",
    "get_exposed_property_value",
    "set_exposed_property_value",
    "reset_exposed_members",
    "is_private_attribute",
]
