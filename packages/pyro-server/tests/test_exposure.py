import pytest

from pyro_protocol.config import config
from pyro_server import behavior, callback, expose, oneway
from pyro_server.exposure import (
    get_attribute,
    get_exposed_members,
    get_exposed_property_value,
    is_private_attribute,
    set_exposed_property_value,
)


class Plain:
    value = 42

    def method(self):
        return 1

    def __len__(self):
        return 3

    def __dunder__(self):
        pass

    def _private(self):
        pass

    def __private(self):
        pass

    @oneway
    def fire(self):
        pass

    @staticmethod
    def st():
        return "st"

    @classmethod
    def cm(cls):
        return "cm"

    @property
    def prop(self):
        return self.value

    @prop.setter
    def prop(self, v):
        self.value = v


class PyroService:
    """The partially exposed class of the servers chapter (docs/servers.md)."""

    value = 42

    def __dunder__(self):
        pass

    def _private(self):
        pass

    def __private(self):
        pass

    @expose
    def get_value(self):
        return self.value

    @expose
    @property
    def attr(self):
        return self.value

    @expose
    @attr.setter
    def attr(self, value):
        self.value = value

    def not_exposed(self):
        pass


@pytest.mark.parametrize(
    "name, private",
    [
        ("method", False),
        ("_x", True),
        ("__x", True),
        ("__len__", False),
        ("__init__", True),
        ("__call__", True),
        ("__eq__", True),
        ("____", True),
        ("___", True),
        ("__getattr__", True),
    ],
)
def test_private_names(name, private):
    assert is_private_attribute(name) is private


def test_everything_public_is_exposed_without_require_expose():
    config.REQUIRE_EXPOSE = False
    meta = get_exposed_members(Plain(), use_cache=False)
    assert meta["methods"] == {"method", "__len__", "__dunder__", "fire", "st", "cm"}
    assert meta["oneway"] == {"fire"}
    assert meta["attrs"] == {"prop"}


def test_partially_exposed_class_with_require_expose():
    config.REQUIRE_EXPOSE = True
    meta = get_exposed_members(PyroService, use_cache=False)
    assert meta["methods"] == {"get_value", "__dunder__"}
    assert meta["attrs"] == {"attr"}
    assert meta["oneway"] == set()
    service = PyroService()
    assert get_attribute(service, "get_value")() == 42
    assert get_attribute(service, "__dunder__")() is None
    with pytest.raises(AttributeError, match="unexposed attribute 'not_exposed'"):
        get_attribute(service, "not_exposed")
    with pytest.raises(AttributeError, match="private attribute '_private'"):
        get_attribute(service, "_private")
    set_exposed_property_value(service, "attr", 7)
    assert get_exposed_property_value(service, "attr") == 7


def test_plain_attributes_are_never_remote():
    config.REQUIRE_EXPOSE = False
    with pytest.raises(AttributeError, match="unexposed or unknown remote attribute 'value'"):
        get_exposed_property_value(Plain(), "value")
    with pytest.raises(AttributeError):
        get_exposed_property_value(Plain(), "nonexisting")


def test_exposed_class_exposes_own_members_only():
    config.REQUIRE_EXPOSE = True

    class Base:
        def inherited(self):
            pass

    @expose
    class Child(Base):
        def own(self):
            pass

        @oneway
        def ow(self):
            pass

        def _hidden(self):
            pass

        def __len__(self):
            return 0

    meta = get_exposed_members(Child, use_cache=False)
    assert meta["methods"] == {"own", "ow", "__len__"}
    assert meta["oneway"] == {"ow"}


def test_metadata_as_lists_and_cached():
    config.REQUIRE_EXPOSE = False
    meta = get_exposed_members(Plain, as_lists=True)
    assert isinstance(meta["methods"], list) and sorted(meta["methods"]) == meta["methods"]
    assert get_exposed_members(Plain) == get_exposed_members(Plain)


def test_expose_refuses_private_names_and_wrong_targets():
    with pytest.raises(AttributeError, match="private names"):

        @expose
        def _secret():
            pass

    with pytest.raises(TypeError, match="@expose"):
        expose(42)
    with pytest.raises(TypeError, match="only be given when exposing a class"):
        expose(lambda: None, instance_mode="single")


def test_oneway_only_on_methods():
    with pytest.raises(TypeError, match="@oneway"):
        oneway(property(lambda self: 1))


def test_behavior_and_expose_set_instance_mode():
    @behavior(instance_mode="percall")
    class A:
        pass

    @expose(instance_mode="single", instance_creator=lambda cls: cls())
    class B:
        pass

    assert A._pyroInstancing == ("percall", None)
    assert B._pyroInstancing[0] == "single"
    with pytest.raises(ValueError, match="invalid instance mode"):
        behavior(instance_mode="bogus")
    with pytest.raises(TypeError):
        behavior(instance_mode="single", instance_creator=42)
    with pytest.raises(SyntaxError):
        behavior(A)
    with pytest.raises(TypeError, match="only be used on a class"):
        behavior()(lambda: None)


def test_callback_marks_function():
    @callback
    def f():
        pass

    assert f._pyroCallback is True
