"""The storages: memory, SQLite and dbm behind one interface, metadata and persistence included."""

import dbm
import sqlite3
import threading

import pytest

from pyro_naming import DbmStorage, Entry, MemoryStorage, SqlStorage, make_storage
from pyro_protocol.errors import NamingError

URI_A = "PYRO:a@127.0.0.1:5001"
URI_B = "PYRO:b@127.0.0.1:5002"


def test_put_get_overwrite(storage):
    assert storage.get("a") is None and "a" not in storage
    storage.put("a", Entry(URI_A, frozenset()))
    assert storage.get("a") == Entry(URI_A, frozenset())
    assert "a" in storage
    storage.put("a", Entry(URI_B, frozenset({"x"})))
    assert storage.get("a") == Entry(URI_B, frozenset({"x"}))
    assert storage.count() == 1


def test_metadata_is_kept(storage):
    tags = frozenset({"class:Thing", "red", "üñïçødé"})
    storage.put("thing", Entry(URI_A, tags))
    assert storage.get("thing").metadata == tags
    assert storage.entries()["thing"].metadata == tags
    storage.put("thing", Entry(URI_A, frozenset()))
    assert storage.get("thing").metadata == frozenset()


def test_delete_counts_what_existed(storage):
    for name in ("a", "b", "c"):
        storage.put(name, Entry(URI_A, frozenset({name})))
    assert storage.delete(["a", "nope", "c"]) == 2
    assert set(storage.entries()) == {"b"}
    assert storage.delete([]) == 0
    assert storage.count() == 1


def test_entries_is_a_snapshot(storage):
    storage.put("a", Entry(URI_A, frozenset()))
    snapshot = storage.entries()
    storage.put("b", Entry(URI_B, frozenset()))
    assert set(snapshot) == {"a"}
    assert set(storage.entries()) == {"a", "b"}


def test_unicode_names(storage):
    storage.put("naïve.名前", Entry(URI_A, frozenset()))
    assert storage.get("naïve.名前").uri == URI_A
    assert list(storage.entries()) == ["naïve.名前"]


def test_close_is_idempotent(storage):
    storage.close()
    storage.close()


@pytest.mark.parametrize("kind", ["sql", "dbm", "postgresql"])
def test_closed_storage_says_so(new_storage, kind):
    store = new_storage(kind)
    store.close()
    with pytest.raises(NamingError, match="closed"):
        store.get("a")
    with pytest.raises(NamingError, match="closed"):
        store.put("a", Entry(URI_A, frozenset()))


@pytest.mark.parametrize("kind", ["sql", "dbm", "postgresql"])
def test_persistent_storages_survive_reopening(new_storage, kind):
    first = new_storage(kind)
    first.put("a", Entry(URI_A, frozenset({"m1", "m2"})))
    first.put("b", Entry(URI_B, frozenset()))
    first.put("gone", Entry(URI_B, frozenset()))
    first.delete(["gone"])
    first.close()
    again = new_storage(kind)
    assert again.entries() == {"a": Entry(URI_A, frozenset({"m1", "m2"})), "b": Entry(URI_B, frozenset())}


@pytest.mark.parametrize("kind", ["memory", "sql", "dbm", "postgresql"])
def test_concurrent_puts_lose_nothing(new_storage, kind):
    store = new_storage(kind)

    def writer(number):
        for i in range(50):
            store.put(f"t{number}.n{i}", Entry(f"PYRO:o{i}@127.0.0.1:{6000 + number}", frozenset({f"t{number}"})))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    entries = store.entries()
    assert len(entries) == 400 and store.count() == 400
    assert entries["t7.n49"] == Entry("PYRO:o49@127.0.0.1:6007", frozenset({"t7"}))


def test_dbm_reads_a_bare_uri_value_as_pyro4_wrote_it(tmp_path):
    path = str(tmp_path / "legacy")
    with dbm.open(path, "c") as legacy:
        legacy[b"old.name"] = URI_A.encode("utf-8")
    store = DbmStorage(path)
    try:
        assert store.get("old.name") == Entry(URI_A, frozenset())
    finally:
        store.close()


def test_sql_file_is_shared_with_pyro4s_sql_storage(tmp_path):
    """Same tables as Pyro4's SqlStorage: each can read what the other wrote."""
    from Pyro4.naming_storage import SqlStorage as Pyro4SqlStorage

    path = str(tmp_path / "shared.sqlite")
    ours = SqlStorage(path)
    ours.put("ours", Entry(URI_A, frozenset({"x", "y"})))
    ours.close()
    theirs = Pyro4SqlStorage(path)
    assert theirs["ours"] == (URI_A, {"x", "y"})
    theirs["theirs"] = (URI_B, {"z"})
    theirs.close()
    again = SqlStorage(path)
    try:
        assert again.get("theirs") == Entry(URI_B, frozenset({"z"}))
    finally:
        again.close()


def test_sql_storage_refuses_a_file_that_is_not_a_database(tmp_path):
    path = tmp_path / "garbage.sqlite"
    path.write_bytes(b"this is not an sqlite database at all, not even close" * 20)
    with pytest.raises(NamingError, match="cannot use sqlite storage"):
        SqlStorage(str(path))


def test_sql_errors_become_naming_errors(tmp_path):
    store = SqlStorage(str(tmp_path / "x.sqlite"))
    try:
        with sqlite3.connect(str(tmp_path / "x.sqlite")) as other:
            other.execute("DROP TABLE pyro_metadata")
        other.close()
        with pytest.raises(NamingError, match="sqlite error"):
            store.entries()
    finally:
        store.close()


def test_make_storage_spellings(tmp_path):
    assert isinstance(make_storage(None), MemoryStorage)
    assert isinstance(make_storage("memory"), MemoryStorage)
    sql = make_storage(f"sql:{tmp_path / 'a.sqlite'}")
    dbm_store = make_storage(f"dbm:{tmp_path / 'a.dbm'}")
    try:
        assert isinstance(sql, SqlStorage) and isinstance(dbm_store, DbmStorage)
    finally:
        sql.close()
        dbm_store.close()
    for bad in ("sql:", "dbm:", "redis:x", "mem"):
        with pytest.raises(ValueError, match="invalid storage type"):
            make_storage(bad)


def test_a_dbm_index_write_that_fails_halfway_leaves_the_previous_index(tmp_path):
    """dbm.dumb itself renames its index away before writing the new one: a crash in between
    lost every registration. Ours writes a new file and renames it over the old one."""
    from pyro_naming.storage import _uses_dumb_backend

    path = str(tmp_path / "names.dbm")
    if not _uses_dumb_backend(path):
        pytest.skip("this Python's dbm does not use dbm.dumb")
    store = DbmStorage(path)
    blocker = tmp_path / "names.dbm.dir.tmp"
    try:
        store.put("kept", Entry(URI_A, frozenset({"m"})))
        blocker.mkdir()  # the next index write cannot create its file: it fails as a crash would
        with pytest.raises(NamingError, match="^dbm error while registering 'new': "):
            store.put("new", Entry(URI_B, frozenset()))
        reopened = DbmStorage(path)  # what a restart finds
        try:
            assert reopened.get("kept") == Entry(URI_A, frozenset({"m"}))
        finally:
            reopened.close()
    finally:
        blocker.rmdir()
        store.close()
