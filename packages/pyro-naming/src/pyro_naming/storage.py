"""Where the name server keeps its registrations, behind one small interface.

A registration is a name mapped to an :class:`Entry`: the URI as text and a
frozenset of metadata strings. Three kinds, spelled as Pyro4's ``-s`` option:

- ``memory`` (the default): a dict, gone when the process ends;
- ``sql:<file>``: an SQLite database (the same two tables Pyro4 uses, so a
  Pyro4 name server's file can be taken over);
- ``dbm:<file>``: the standard library's ``dbm``; unlike Pyro4 the metadata is
  kept too (each value is a small JSON document).

Every storage is safe to use from many threads at once: each guards its
backend with a lock, and SQLite runs on one connection used under that lock.
"""

from __future__ import annotations

import abc
import dbm
import json
import logging
import sqlite3
import threading
from typing import Any, Iterable, NamedTuple, Optional

from pyro_protocol.errors import NamingError

__all__ = ["Entry", "Storage", "MemoryStorage", "SqlStorage", "DbmStorage", "make_storage"]

log = logging.getLogger("pyro.naming")


class Entry(NamedTuple):
    """One registration: the URI text and its metadata."""

    uri: str
    metadata: frozenset[str]


class Storage(abc.ABC):
    """The interface the name server needs. Implementations must be thread-safe."""

    @abc.abstractmethod
    def get(self, name: str) -> Optional[Entry]:
        """The entry registered under ``name``, or None."""

    @abc.abstractmethod
    def put(self, name: str, entry: Entry) -> None:
        """Register (or overwrite) ``name``."""

    @abc.abstractmethod
    def delete(self, names: Iterable[str]) -> int:
        """Remove these names; returns how many existed."""

    @abc.abstractmethod
    def entries(self) -> dict[str, Entry]:
        """A snapshot of every registration."""

    def count(self) -> int:
        return len(self.entries())

    def close(self) -> None:
        """Release files and connections. Idempotent."""

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


class MemoryStorage(Storage):
    """A dict: fast, and forgotten when the name server stops."""

    def __init__(self) -> None:
        self._entries: dict[str, Entry] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> Optional[Entry]:
        with self._lock:
            return self._entries.get(name)

    def put(self, name: str, entry: Entry) -> None:
        with self._lock:
            self._entries[name] = entry

    def delete(self, names: Iterable[str]) -> int:
        with self._lock:
            return sum(self._entries.pop(name, None) is not None for name in names)

    def entries(self) -> dict[str, Entry]:
        with self._lock:
            return dict(self._entries)

    def count(self) -> int:
        with self._lock:
            return len(self._entries)

    def __repr__(self) -> str:
        return "<MemoryStorage>"


def _closed_error(kind: str) -> NamingError:
    return NamingError(f"the {kind} storage is closed")


#: Pyro4's two tables, so either name server can take over the other's file.
_SQL_SCHEMA = (
    (
        "CREATE TABLE IF NOT EXISTS pyro_names ("
        " id INTEGER PRIMARY KEY, name NVARCHAR NOT NULL UNIQUE, uri NVARCHAR NOT NULL)"
    ),
    (
        "CREATE TABLE IF NOT EXISTS pyro_metadata ("
        " object INTEGER NOT NULL, metadata NVARCHAR NOT NULL,"
        " FOREIGN KEY(object) REFERENCES pyro_names(id))"
    ),
)


class SqlStorage(Storage):
    """SQLite in one file. One connection, used by one thread at a time under a lock."""

    def __init__(self, dbfile: str) -> None:
        self.dbfile = dbfile
        self._lock = threading.Lock()
        try:
            self._db: Optional[sqlite3.Connection] = sqlite3.connect(dbfile, check_same_thread=False)
        except sqlite3.Error as exc:
            raise NamingError(f"cannot open sqlite storage {dbfile!r}: {exc}") from None
        try:
            with self._db:
                self._db.execute("PRAGMA foreign_keys=ON")
                for statement in _SQL_SCHEMA:
                    self._db.execute(statement)
        except sqlite3.Error as exc:
            self.close()
            raise NamingError(f"cannot use sqlite storage {dbfile!r}: {exc}") from None

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise _closed_error("sql")
        return self._db

    def get(self, name: str) -> Optional[Entry]:
        with self._lock:
            db = self._connection()
            try:
                row = db.execute("SELECT id, uri FROM pyro_names WHERE name=?", (name,)).fetchone()
                if row is None:
                    return None
                metas = db.execute("SELECT metadata FROM pyro_metadata WHERE object=?", (row[0],)).fetchall()
            except sqlite3.Error as exc:
                raise NamingError(f"sqlite error while reading {name!r}: {exc}") from None
            return Entry(row[1], frozenset(meta for (meta,) in metas))

    def put(self, name: str, entry: Entry) -> None:
        with self._lock:
            db = self._connection()
            try:
                with db:
                    self._delete_one(db, name)
                    cursor = db.execute("INSERT INTO pyro_names(name, uri) VALUES (?, ?)", (name, entry.uri))
                    rows = [(cursor.lastrowid, meta) for meta in sorted(entry.metadata)]
                    db.executemany("INSERT INTO pyro_metadata(object, metadata) VALUES (?, ?)", rows)
            except sqlite3.Error as exc:
                raise NamingError(f"sqlite error while registering {name!r}: {exc}") from None

    @staticmethod
    def _delete_one(db: sqlite3.Connection, name: str) -> int:
        row = db.execute("SELECT id FROM pyro_names WHERE name=?", (name,)).fetchone()
        if row is None:
            return 0
        db.execute("DELETE FROM pyro_metadata WHERE object=?", row)
        db.execute("DELETE FROM pyro_names WHERE id=?", row)
        return 1

    def delete(self, names: Iterable[str]) -> int:
        with self._lock:
            db = self._connection()
            try:
                with db:
                    return sum(self._delete_one(db, name) for name in names)
            except sqlite3.Error as exc:
                raise NamingError(f"sqlite error while removing: {exc}") from None

    def entries(self) -> dict[str, Entry]:
        with self._lock:
            db = self._connection()
            try:
                names = db.execute("SELECT id, name, uri FROM pyro_names").fetchall()
                metas = db.execute("SELECT object, metadata FROM pyro_metadata").fetchall()
            except sqlite3.Error as exc:
                raise NamingError(f"sqlite error while listing: {exc}") from None
        by_id: dict[int, set[str]] = {}
        for object_id, meta in metas:
            by_id.setdefault(object_id, set()).add(meta)
        return {name: Entry(uri, frozenset(by_id.get(object_id, ()))) for object_id, name, uri in names}

    def count(self) -> int:
        with self._lock:
            db = self._connection()
            try:
                return int(db.execute("SELECT COUNT(*) FROM pyro_names").fetchone()[0])
            except sqlite3.Error as exc:
                raise NamingError(f"sqlite error while counting: {exc}") from None

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __repr__(self) -> str:
        return f"<SqlStorage {self.dbfile!r}>"


def _encode_dbm_value(entry: Entry) -> bytes:
    return json.dumps({"uri": entry.uri, "metadata": sorted(entry.metadata)}).encode("utf-8")


def _decode_dbm_value(raw: bytes) -> Entry:
    """Our JSON document, or a bare URI as a Pyro4 dbm name server wrote it (no metadata)."""
    text = raw.decode("utf-8")
    if text.startswith("{"):
        try:
            document = json.loads(text)
            return Entry(str(document["uri"]), frozenset(document.get("metadata") or ()))
        except (ValueError, KeyError, TypeError):
            pass
    return Entry(text, frozenset())


class DbmStorage(Storage):
    """The standard library's ``dbm`` (whichever backend it picks), metadata included."""

    def __init__(self, dbmfile: str) -> None:
        self.dbmfile = dbmfile
        self._lock = threading.Lock()
        try:
            self._db: Any = dbm.open(dbmfile, "c")
        except Exception as exc:
            raise NamingError(f"cannot open dbm storage {dbmfile!r}: {exc}") from None

    def _handle(self) -> Any:
        if self._db is None:
            raise _closed_error("dbm")
        return self._db

    def _sync(self, db: Any) -> None:
        sync = getattr(db, "sync", None)
        if sync is not None:
            sync()

    def get(self, name: str) -> Optional[Entry]:
        with self._lock:
            raw = self._handle().get(name.encode("utf-8"))
        return None if raw is None else _decode_dbm_value(raw)

    def put(self, name: str, entry: Entry) -> None:
        with self._lock:
            db = self._handle()
            db[name.encode("utf-8")] = _encode_dbm_value(entry)
            self._sync(db)

    def delete(self, names: Iterable[str]) -> int:
        removed = 0
        with self._lock:
            db = self._handle()
            for name in names:
                key = name.encode("utf-8")
                if key in db:
                    del db[key]
                    removed += 1
            if removed:
                self._sync(db)
        return removed

    def entries(self) -> dict[str, Entry]:
        with self._lock:
            db = self._handle()
            raw = {key: db[key] for key in db.keys()}  # noqa: SIM118 - not every dbm backend can be iterated
        return {key.decode("utf-8"): _decode_dbm_value(value) for key, value in raw.items()}

    def count(self) -> int:
        with self._lock:
            return len(self._handle())

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __repr__(self) -> str:
        return f"<DbmStorage {self.dbmfile!r}>"


def make_storage(spec: Optional[str]) -> Storage:
    """A storage from its command-line spelling: ``memory``, ``sql:<file>`` or ``dbm:<file>``."""
    spec = spec or "memory"
    if spec == "memory":
        log.debug("using volatile in-memory storage")
        return MemoryStorage()
    kind, _, path = spec.partition(":")
    if kind == "sql" and path:
        log.debug("using sqlite storage in %s", path)
        return SqlStorage(path)
    if kind == "dbm" and path:
        log.debug("using dbm storage in %s", path)
        return DbmStorage(path)
    raise ValueError(f"invalid storage type {spec!r}: use memory, sql:<file> or dbm:<file>")
