"""Flame's client half on its own: the serializer rule, the wrappers' wire form (Pyro4's), no server import."""

import pickle
import subprocess
import sys

import pytest

from pyro_client import flame
from pyro_protocol.config import config
from pyro_protocol.errors import SerializeError
from pyro_protocol.serializers import get_serializer

FLAME_URI = "PYRO:Pyro.Flame@127.0.0.1:4444"


@pytest.mark.parametrize("serializer", ["serpent", "json", "marshal", "msgpack"])
def test_connect_wants_a_pickle_serializer_before_it_connects(serializer):
    config.SERIALIZER = serializer
    # nothing listens on port 1: a connection attempt would fail with a CommunicationError instead
    with pytest.raises(SerializeError, match=r'config.SERIALIZER = "pickle".*PYRO_SERIALIZER=pickle'):
        flame.connect("127.0.0.1:1")


def test_a_remote_module_makes_callables_for_names_and_none_for_dunders():
    module = flame.FlameModule(FLAME_URI, "os.path")
    function = module.join
    assert callable(function)
    assert "'os.path.join' at 127.0.0.1:4444" in repr(function)
    assert "module 'os.path' at 127.0.0.1:4444" in repr(module)
    assert "'os.path.sep.join'" in repr(module.sep.join)  # attribute paths, as Pyro4's remote methods have
    with pytest.raises(AttributeError):
        module.__wrapped__  # noqa: B018 - protocol probes must not look like remote functions
    half_built = flame.FlameModule.__new__(flame.FlameModule)
    with pytest.raises(AttributeError):
        half_built.join  # noqa: B018 - no endless recursion either
    module.flameserver._pyroRelease()


def _ours(kind, uri):
    if kind is flame.RemoteInteractiveConsole:
        return kind(uri)
    return kind(uri, "os" if kind is flame.FlameModule else "len")


@pytest.mark.parametrize("kind", [flame.FlameModule, flame.FlameBuiltin, flame.RemoteInteractiveConsole])
def test_wrappers_travel_as_pyro4s_classes(kind):
    import Pyro4.utils.flame

    ours = _ours(kind, FLAME_URI)
    theirs = pickle.loads(get_serializer("pickle").dumps(ours))  # plain pickle imports Pyro4's classes
    assert type(theirs) is getattr(Pyro4.utils.flame, kind.__name__)
    assert set(vars(theirs)) == set(vars(ours))
    for name, value in vars(theirs).items():
        if isinstance(value, Pyro4.core.Proxy):
            assert str(value._pyroUri) == FLAME_URI
        else:
            assert value == vars(ours)[name]

    back = get_serializer("pickle").loads(pickle.dumps(theirs))
    assert type(back) is kind
    assert {name: str(getattr(value, "_pyroUri", value)) for name, value in vars(back).items()} == {
        name: str(getattr(value, "_pyroUri", value)) for name, value in vars(ours).items()
    }


def test_the_client_half_does_not_import_the_server():
    check = "import sys, pyro_client.flame; print(sorted(m for m in sys.modules if m.startswith('pyro_')))"
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "pyro_client.flame" in result.stdout
    assert "pyro_server" not in result.stdout
