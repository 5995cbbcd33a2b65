"""The error hierarchy (protocol 3.8), the package's public names, and the per-thread call context."""

from __future__ import annotations

import threading
import traceback
import uuid

import pytest

import pyro_protocol
from pyro_protocol import errors, serializers
from pyro_protocol.context import CallContext, current_context

HIERARCHY = {
    "PyroError": Exception,
    "CommunicationError": errors.PyroError,
    "ConnectionClosedError": errors.CommunicationError,
    "TimeoutError": errors.CommunicationError,
    "ProtocolError": errors.CommunicationError,
    "MessageTooLargeError": errors.ProtocolError,
    "SerializeError": errors.ProtocolError,
    "NamingError": errors.PyroError,
    "DaemonError": errors.PyroError,
    "SecurityError": errors.PyroError,
}


@pytest.mark.parametrize("name, parent", HIERARCHY.items())
def test_error_hierarchy(name, parent):
    cls = getattr(errors, name)
    assert cls.__bases__ == (parent,)
    assert errors.PYRO_ERRORS[name] is cls
    assert getattr(pyro_protocol, name) is cls


def test_pyro_errors_lists_exactly_the_wire_names():
    assert set(errors.PYRO_ERRORS) == set(HIERARCHY)


def test_pyro_timeout_error_is_not_the_builtin():
    assert errors.TimeoutError is not TimeoutError
    assert not issubclass(errors.TimeoutError, OSError)


@pytest.fixture()
def errors_shown_as_pyro4():
    errors.name_errors_module("Pyro4.errors")
    yield
    errors.name_errors_module("pyro_protocol.errors")


def last_traceback_line(exc: BaseException) -> str:
    return traceback.format_exception(exc)[-1]


def test_errors_show_their_own_module_by_default():
    assert (
        last_traceback_line(errors.DaemonError("unknown object"))
        == "pyro_protocol.errors.DaemonError: unknown object\n"
    )


def test_name_errors_module_is_what_tracebacks_and_reprs_print(errors_shown_as_pyro4):
    assert last_traceback_line(errors.DaemonError("unknown object")) == "Pyro4.errors.DaemonError: unknown object\n"
    assert repr(errors.NamingError) == "<class 'Pyro4.errors.NamingError'>"
    assert {cls.__module__ for cls in errors.PYRO_ERRORS.values()} == {"Pyro4.errors"}


@pytest.mark.parametrize("shown_as", ["pyro_protocol.errors", "Pyro4.errors"])
def test_the_wire_name_of_an_error_does_not_depend_on_the_module_shown(shown_as):
    class NamingError(Exception):  # a class of another module that has a Pyro error's name
        pass

    try:
        errors.name_errors_module(shown_as)
        assert serializers.class_to_dict(errors.TimeoutError("t"))["__class__"] == "Pyro4.errors.TimeoutError"
        assert serializers.class_to_dict(NamingError("n"))["__class__"] == f"{__name__}.{NamingError.__qualname__}"
        for name in ("serpent", "json", "marshal", "msgpack", "pickle", "cloudpickle", "dill"):
            serializer = serializers.get_serializer(name)
            back = serializer.loads(serializer.dumps(errors.SecurityError("s")))
            assert type(back) is errors.SecurityError and back.args == ("s",)
    finally:
        errors.name_errors_module("pyro_protocol.errors")


def test_exception_wrapper():
    wrapper = errors.ExceptionWrapper(ValueError("v"))
    assert repr(wrapper) == "<ExceptionWrapper ValueError('v')>"
    with pytest.raises(ValueError, match="v"):
        wrapper.raiseIt()
    assert wrapper.__getstate__() == {"exception": wrapper.exception}


def test_public_names_exist():
    for name in pyro_protocol.__all__:
        assert hasattr(pyro_protocol, name), name
    assert pyro_protocol.__version__ == "0.1.0"


def test_call_context_defaults():
    context = CallContext()
    assert (context.client, context.seq, context.msg_flags, context.serializer_id) == (None, 0, 0, 0)
    assert context.annotations == {} and context.response_annotations == {}
    assert context.correlation_id is None


def test_call_context_is_per_thread():
    current_context.correlation_id = uuid.UUID(int=1)
    seen = []
    thread = threading.Thread(target=lambda: seen.append(current_context.correlation_id))
    thread.start()
    thread.join(10)
    try:
        assert seen == [None]
        assert current_context.correlation_id == uuid.UUID(int=1)
    finally:
        current_context.correlation_id = None


def test_call_context_carried_to_another_thread():
    source = CallContext()
    source.seq = 9
    source.annotations = {"XTRA": b"1"}
    snapshot = source.to_global()
    seen = []

    def worker() -> None:
        target = CallContext()
        target.from_global(snapshot)
        seen.append((target.seq, target.annotations))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(10)
    assert seen == [(9, {"XTRA": b"1"})]


def test_track_resource_needs_a_server_client():
    context = CallContext()
    with pytest.raises(RuntimeError, match="only possible inside a call on a server"):
        context.track_resource(object())

    class Client:
        def __init__(self) -> None:
            self.tracked_resources: set[object] = set()

    client = context.client = Client()
    resource = object()
    context.track_resource(resource)
    assert resource in client.tracked_resources
    context.untrack_resource(resource)
    assert resource not in client.tracked_resources


def test_correlation_ids_are_unique_version_4_uuids():
    import threading
    import uuid

    from pyro_protocol.context import new_correlation_bytes

    made: list[bytes] = []

    def make() -> None:
        made.extend(new_correlation_bytes() for _ in range(5000))

    threads = [threading.Thread(target=make) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(made) == len(set(made)) == 20000
    for value in made[:100]:
        assert len(value) == 16
        as_uuid = uuid.UUID(bytes=value)
        assert (as_uuid.version, as_uuid.variant) == (4, uuid.RFC_4122)
