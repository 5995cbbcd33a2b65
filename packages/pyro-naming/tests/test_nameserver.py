"""The NameServer object called locally: every method, its defaults, results and errors (protocol 6.2)."""

import threading

import pytest

from pyro_naming import NameServer
from pyro_naming.nameserver import NAMESERVER_NAME
from pyro_protocol.errors import NamingError, PyroError
from pyro_protocol.uri import URI

NS_URI = "PYRO:Pyro.NameServer@127.0.0.1:9090"


@pytest.fixture()
def ns(storage):
    """A NameServer over each storage kind, with its own registration as a daemon would add it."""
    server = NameServer(storage)
    server.register(NAMESERVER_NAME, NS_URI, metadata={"class:Pyro4.naming.NameServer"})
    return server


def fill(ns):
    ns.register("app.one", "PYRO:one@127.0.0.1:1001", metadata={"red", "round"})
    ns.register("app.two", URI("PYRO:two@127.0.0.1:1002"), metadata=["red"])
    ns.register("other.three", "PYRO:three@127.0.0.1:1003")


def test_defaults_to_memory_storage():
    assert type(NameServer().storage).__name__ == "MemoryStorage"


def test_ping_and_count(ns):
    assert ns.ping() is None
    assert ns.count() == 1
    fill(ns)
    assert ns.count() == 4


def test_lookup_returns_a_uri_object(ns):
    fill(ns)
    uri = ns.lookup("app.two")
    assert isinstance(uri, URI) and uri == URI("PYRO:two@127.0.0.1:1002")
    assert ns.lookup("app.one", return_metadata=True) == (URI("PYRO:one@127.0.0.1:1001"), ["red", "round"])
    assert ns.lookup("other.three", return_metadata=True) == (URI("PYRO:three@127.0.0.1:1003"), [])


def test_lookup_unknown_name(ns):
    with pytest.raises(NamingError) as caught:
        ns.lookup("no.such.name")
    assert str(caught.value) == "unknown name: no.such.name"


def test_register_stores_uri_text_and_overwrites(ns):
    ns.register("x", URI("PYRO:obj@localhost:5555"))
    assert ns.list(prefix="x") == {"x": "PYRO:obj@localhost:5555"}
    ns.register("x", "PYRO:other@localhost:6666", metadata={"m"})
    assert ns.list(prefix="x", return_metadata=True) == {"x": ("PYRO:other@localhost:6666", ["m"])}
    ns.register("x", "PYRO:third@localhost:7777")  # metadata not given: cleared
    assert ns.lookup("x", return_metadata=True)[1] == []


def test_register_safe_refuses_an_existing_name(ns):
    ns.register("x", "PYRO:obj@localhost:5555", safe=True)
    with pytest.raises(NamingError) as caught:
        ns.register("x", "PYRO:new@localhost:5555", safe=True)
    assert str(caught.value) == "name already registered: x"
    assert str(ns.lookup("x")) == "PYRO:obj@localhost:5555"


def test_register_accepts_pyroname_and_unix_uris(ns):
    ns.register("alias", "PYRONAME:real.name")
    ns.register("unix", "PYRO:obj@./u:/tmp/sock")
    assert str(ns.lookup("alias")) == "PYRONAME:real.name"
    assert ns.lookup("unix").sockname == "/tmp/sock"


@pytest.mark.parametrize(
    "name, uri, metadata, error, message",
    [
        ("x", 42, None, TypeError, "only URIs or strings can be registered"),
        ("x", b"PYRO:obj@host:1", None, TypeError, "only URIs or strings can be registered"),
        (42, "PYRO:obj@host:1", None, TypeError, "name must be a str"),
        (
            "x",
            "PYRO:obj@host:1",
            "red",
            TypeError,
            "metadata should not be a str, but another iterable (set, list, etc)",
        ),
        ("x", "PYRO:obj@host:1", 7, TypeError, "metadata should be an iterable of str"),
        ("x", "PYRO:obj@host:1", [1, 2], TypeError, "metadata items must be str"),
        ("x", "not a uri", None, PyroError, "invalid uri"),
        ("x", "PYRO:obj", None, PyroError, "location"),
    ],
)
def test_register_bad_arguments(ns, name, uri, metadata, error, message):
    with pytest.raises(error) as caught:
        ns.register(name, uri, metadata=metadata)
    assert message in str(caught.value)
    assert ns.count() == 1


def test_set_metadata(ns):
    fill(ns)
    ns.set_metadata("other.three", ["a", "b", "a"])
    assert ns.lookup("other.three", return_metadata=True)[1] == ["a", "b"]
    ns.set_metadata("other.three", None)
    assert ns.lookup("other.three", return_metadata=True)[1] == []
    ns.set_metadata("app.one", set())
    assert ns.lookup("app.one", return_metadata=True)[1] == []
    assert str(ns.lookup("app.one")) == "PYRO:one@127.0.0.1:1001"


def test_set_metadata_errors(ns):
    with pytest.raises(NamingError, match="^unknown name: nope$"):
        ns.set_metadata("nope", {"a"})
    with pytest.raises(TypeError, match="name must be a str"):
        ns.set_metadata(1, {"a"})
    ns.register("x", "PYRO:obj@host:1")
    with pytest.raises(TypeError, match="should not be a str"):
        ns.set_metadata("x", "abc")


def test_list_everything_and_by_prefix(ns):
    fill(ns)
    everything = ns.list()
    assert everything == {
        NAMESERVER_NAME: NS_URI,
        "app.one": "PYRO:one@127.0.0.1:1001",
        "app.two": "PYRO:two@127.0.0.1:1002",
        "other.three": "PYRO:three@127.0.0.1:1003",
    }
    assert all(isinstance(uri, str) for uri in everything.values())
    assert set(ns.list(prefix="app.")) == {"app.one", "app.two"}
    assert ns.list(prefix="zzz") == {}
    assert ns.list(prefix="") == everything


def test_list_by_regex_uses_match(ns):
    fill(ns)
    assert set(ns.list(regex=r"app\.t")) == {"app.two"}
    assert set(ns.list(regex="one")) == set()  # re.match: anchored at the start
    assert set(ns.list(regex=".*one")) == {"app.one"}
    with pytest.raises(NamingError, match="^invalid regex: "):
        ns.list(regex="(unclosed")


def test_list_by_metadata(ns):
    fill(ns)
    assert set(ns.list(metadata_all={"red"})) == {"app.one", "app.two"}
    assert set(ns.list(metadata_all=["red", "round"])) == {"app.one"}
    assert set(ns.list(metadata_all={"red", "blue"})) == set()
    assert set(ns.list(metadata_any=("round", "blue"))) == {"app.one"}
    assert set(ns.list(metadata_any={"class:Pyro4.naming.NameServer", "red"})) == {
        NAMESERVER_NAME,
        "app.one",
        "app.two",
    }
    assert set(ns.list(metadata_any=set())) == set(ns.list())
    assert ns.list(metadata_all={"round"}, return_metadata=True) == {
        "app.one": ("PYRO:one@127.0.0.1:1001", ["red", "round"])
    }


def test_list_with_metadata_returns_lists(ns):
    fill(ns)
    result = ns.list(return_metadata=True)
    assert result[NAMESERVER_NAME] == (NS_URI, ["class:Pyro4.naming.NameServer"])
    assert result["other.three"] == ("PYRO:three@127.0.0.1:1003", [])
    assert all(isinstance(meta, list) for _, meta in result.values())


def test_list_filter_errors(ns):
    with pytest.raises(ValueError, match="^you can only filter on one thing at a time$"):
        ns.list(prefix="a", regex="b")
    with pytest.raises(ValueError, match="one thing at a time"):
        ns.list(metadata_all={"a"}, metadata_any={"b"})
    with pytest.raises(TypeError, match="metadata_all should not be a str"):
        ns.list(metadata_all="red")
    with pytest.raises(TypeError, match="metadata_any should not be a str"):
        ns.list(metadata_any="red")


def test_remove_by_name(ns):
    fill(ns)
    assert ns.remove("app.one") == 1
    assert ns.remove("app.one") == 0
    assert ns.remove("no.such") == 0
    assert ns.remove() == 0
    assert set(ns.list()) == {NAMESERVER_NAME, "app.two", "other.three"}


def test_remove_by_prefix_and_regex(ns):
    fill(ns)
    assert ns.remove(prefix="app.") == 2
    assert ns.remove(regex="other") == 1
    assert ns.count() == 1
    with pytest.raises(NamingError, match="invalid regex"):
        ns.remove(regex="[")


def test_the_name_server_itself_is_never_removed(ns):
    fill(ns)
    assert ns.remove(NAMESERVER_NAME) == 0
    assert ns.remove(prefix="Pyro.") == 0
    assert ns.remove(regex=".*") == 3
    assert ns.remove(prefix="") == 0
    assert ns.list() == {NAMESERVER_NAME: NS_URI}


def test_private_helper_checks_the_uri_before_removing(ns):
    ns.register("x", "PYRO:obj@host:1")
    assert not ns._remove_if_unchanged("x", "PYRO:other@host:1")
    assert not ns._remove_if_unchanged(NAMESERVER_NAME, NS_URI)
    assert ns._remove_if_unchanged("x", "PYRO:obj@host:1")
    assert ns.count() == 1


def test_concurrent_registrations_lose_nothing(ns):
    errors = []

    def client(number):
        try:
            for i in range(50):
                ns.register(
                    f"c{number}.{i}", f"PYRO:o{i}@127.0.0.1:{7000 + number}", safe=True, metadata={f"c{number}"}
                )
                if i % 10 == 0:
                    ns.list(prefix=f"c{number}.")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert ns.count() == 401
    assert len(ns.list(metadata_any={"c3", "c5"})) == 100
