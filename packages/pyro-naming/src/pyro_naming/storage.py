"""Where the name server keeps its registrations, behind one small interface.

A registration is a name mapped to an :class:`Entry`: the URI as text, a
frozenset of metadata strings and, optionally, a lease (seconds): a leased
registration disappears when its lease runs out unless it is renewed. Four
kinds, spelled as the ``-s`` option spells them:

- ``memory`` (the default): a dict, gone when the process ends;
- ``sql:<file>``: an SQLite database (the two tables Pyro4 uses, plus two
  columns for leases, so a Pyro4 name server's file can be taken over);
- ``dbm:<file>``: the standard library's ``dbm``; unlike Pyro4 the metadata is
  kept too (each value is a small JSON document);
- ``postgresql://...``: a PostgreSQL database shared by any number of name
  servers (:mod:`pyro_naming.postgresql`).

Every storage is safe to use from many threads at once, and a change is made
durable (committed, synced) before the call that made it returns, so a name
server acknowledges only what survives its own crash.
"""

from __future__ import annotations

import abc
import contextlib
import dbm
import dbm.dumb
import importlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Callable, NamedTuple, Optional

from pyro_protocol.errors import NamingError

__all__ = [
    "Entry",
    "Storage",
    "LocalStorage",
    "MemoryStorage",
    "SqlStorage",
    "DbmStorage",
    "make_storage",
    "PURGE_INTERVAL",
]

log = logging.getLogger("pyro.naming")

#: Expired registrations are invisible at once; the first change after this many seconds
#: deletes them for good (so a storage does not grow with registrations nobody renewed).
PURGE_INTERVAL = 10.0


class Entry(NamedTuple):
    """One registration: the URI text, its metadata and, for a leased one, the lease
    (seconds) and when it runs out (``time.time()`` seconds, by the storage's clock)."""

    uri: str
    metadata: frozenset[str]
    lease: Optional[float] = None
    expires: Optional[float] = None

    def alive(self, now: float) -> bool:
        return self.expires is None or self.expires > now


class Storage(abc.ABC):
    """The interface the name server needs. Implementations must be thread-safe, and every
    method that changes something must be atomic: several name servers may share one storage.

    Expired registrations do not exist for any method: they are neither returned, counted,
    renewed nor in the way of ``add``.
    """

    @abc.abstractmethod
    def get(self, name: str) -> Optional[Entry]:
        """The entry registered under ``name``, or None."""

    @abc.abstractmethod
    def put(self, name: str, entry: Entry) -> None:
        """Register (or overwrite) ``name``. ``entry.lease`` starts counting now; ``entry.expires``
        is ignored (the storage's clock sets it)."""

    @abc.abstractmethod
    def add(self, name: str, entry: Entry) -> bool:
        """Register ``name`` only if it is not registered; False (and nothing changed) if it is."""

    @abc.abstractmethod
    def set_metadata(self, name: str, metadata: frozenset[str]) -> bool:
        """Replace the metadata of ``name`` (its lease goes on as it was); False if it is not registered."""

    @abc.abstractmethod
    def renew(self, registrations: Mapping[str, Optional[str]]) -> list[str]:
        """Start the lease of each ``name`` over (a registration without a lease stays as it is),
        if it is registered and, where a URI is given, still registered for that URI.
        Returns the names that are there (renewed)."""

    @abc.abstractmethod
    def delete(self, names: Iterable[str]) -> int:
        """Remove these names; returns how many existed."""

    @abc.abstractmethod
    def delete_unchanged(self, name: str, uri: str) -> bool:
        """Remove ``name`` only if it is registered for ``uri``; True if it was removed."""

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


class LocalStorage(Storage):
    """The base of the storages one name server process has to itself (memory, SQLite, dbm).

    It implements the whole interface, leases included, over five small primitives a
    subclass provides for its backend; they are called with the storage's lock held, so
    every operation is atomic within the process. A change runs in one transaction, which
    ``_commit`` makes durable before the operation returns. ``clock`` gives the wall-clock
    time leases are measured in (seconds since the epoch, so they survive a restart).
    """

    #: the backend's own exceptions, turned into NamingError (with ``kind`` in the message)
    backend_errors: tuple[type[Exception], ...] = ()
    kind = "local"

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.RLock()
        self._clock = clock
        self._next_purge = clock() + PURGE_INTERVAL

    # -- what a backend provides (called with the lock held) ----------------------------

    @abc.abstractmethod
    def _load(self, name: str) -> Optional[Entry]:
        """The stored entry, expired or not."""

    @abc.abstractmethod
    def _store(self, name: str, entry: Entry) -> None:
        """Store ``entry`` (``expires`` already set) under ``name``, replacing what was there."""

    @abc.abstractmethod
    def _drop(self, name: str) -> bool:
        """Remove ``name``; True if it was stored."""

    @abc.abstractmethod
    def _scan(self) -> dict[str, Entry]:
        """Every stored entry, expired or not."""

    def _check_open(self) -> None:
        """Raise NamingError if the storage was closed."""

    def _commit(self) -> None:
        """Make the changes of the current operation durable."""

    def _rollback(self) -> None:
        """Undo the changes of the current operation, as far as the backend can."""

    # -- the interface --------------------------------------------------------------------

    @contextlib.contextmanager
    def _reading(self, action: str) -> Iterator[float]:
        with self._lock, self._errors(action):
            self._check_open()
            yield self._clock()

    @contextlib.contextmanager
    def _changing(self, action: str) -> Iterator[float]:
        """The lock and one transaction, committed before the caller goes on. Yields the time."""
        with self._lock, self._errors(action):
            self._check_open()
            now = self._clock()
            try:
                if now >= self._next_purge:
                    self._purge(now)
                yield now
            except BaseException:
                self._rollback()
                raise
            self._commit()

    @contextlib.contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except self.backend_errors as exc:
            raise self._error(action, exc) from None

    def _error(self, action: str, exc: Exception) -> NamingError:
        return NamingError(f"{self.kind} error while {action}: {exc}")

    def _purge(self, now: float) -> None:
        expired = [name for name, entry in self._scan().items() if not entry.alive(now)]
        for name in expired:
            self._drop(name)
        self._next_purge = now + PURGE_INTERVAL
        if expired:
            log.debug("purged %d expired registration(s)", len(expired))

    def _live(self, name: str, now: float) -> Optional[Entry]:
        entry = self._load(name)
        return entry if entry is not None and entry.alive(now) else None

    @staticmethod
    def _stamped(entry: Entry, now: float) -> Entry:
        return entry._replace(expires=None if entry.lease is None else now + entry.lease)

    def get(self, name: str) -> Optional[Entry]:
        # every lookup comes here: plainer than _reading(), which costs a few microseconds
        with self._lock:
            try:
                self._check_open()
                entry = self._load(name)
            except self.backend_errors as exc:
                raise self._error(f"reading {name!r}", exc) from None
        return entry if entry is not None and entry.alive(self._clock()) else None

    def put(self, name: str, entry: Entry) -> None:
        with self._changing(f"registering {name!r}") as now:
            self._store(name, self._stamped(entry, now))

    def add(self, name: str, entry: Entry) -> bool:
        with self._changing(f"registering {name!r}") as now:
            if self._live(name, now) is not None:
                return False
            self._store(name, self._stamped(entry, now))
            return True

    def set_metadata(self, name: str, metadata: frozenset[str]) -> bool:
        with self._changing(f"setting the metadata of {name!r}") as now:
            entry = self._live(name, now)
            if entry is None:
                return False
            self._store(name, entry._replace(metadata=metadata))
            return True

    def renew(self, registrations: Mapping[str, Optional[str]]) -> list[str]:
        renewed = []
        with self._changing("renewing leases") as now:
            for name, uri in registrations.items():
                entry = self._live(name, now)
                if entry is None or (uri is not None and entry.uri != uri):
                    continue
                if entry.lease is not None:
                    self._store(name, self._stamped(entry, now))
                renewed.append(name)
        return renewed

    def delete(self, names: Iterable[str]) -> int:
        removed = 0
        with self._changing("removing") as now:
            for name in names:
                alive = self._live(name, now) is not None
                if self._drop(name) and alive:
                    removed += 1
        return removed

    def delete_unchanged(self, name: str, uri: str) -> bool:
        with self._changing(f"removing {name!r}") as now:
            entry = self._live(name, now)
            return entry is not None and entry.uri == uri and self._drop(name)

    def entries(self) -> dict[str, Entry]:
        with self._reading("listing") as now:
            return {name: entry for name, entry in self._scan().items() if entry.alive(now)}


class MemoryStorage(LocalStorage):
    """A dict: fast, and forgotten when the name server stops."""

    kind = "memory"

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock)
        self._entries: dict[str, Entry] = {}

    def _load(self, name: str) -> Optional[Entry]:
        return self._entries.get(name)

    def _store(self, name: str, entry: Entry) -> None:
        self._entries[name] = entry

    def _drop(self, name: str) -> bool:
        return self._entries.pop(name, None) is not None

    def _scan(self) -> dict[str, Entry]:
        return dict(self._entries)

    def __repr__(self) -> str:
        return "<MemoryStorage>"


def _closed_error(kind: str) -> NamingError:
    return NamingError(f"the {kind} storage is closed")


#: Pyro4's two tables, so either name server can take over the other's file. The lease
#: columns are ours (added to a Pyro4 file when we open it); Pyro4 names its columns in
#: every statement, so it reads and writes such a file as before (its rows have no lease).
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
_SQL_LEASE_COLUMNS = {"lease": "REAL", "expires": "REAL"}


class SqlStorage(LocalStorage):
    """SQLite in one file. One connection, used by one thread at a time under the lock."""

    backend_errors = (sqlite3.Error,)
    kind = "sqlite"

    def __init__(self, dbfile: str, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock)
        self.dbfile = dbfile
        try:
            self._db: Optional[sqlite3.Connection] = sqlite3.connect(dbfile, check_same_thread=False)
        except sqlite3.Error as exc:
            raise NamingError(f"cannot open sqlite storage {dbfile!r}: {exc}") from None
        try:
            with self._db:
                self._db.execute("PRAGMA foreign_keys=ON")
                for statement in _SQL_SCHEMA:
                    self._db.execute(statement)
                columns = {row[1] for row in self._db.execute("PRAGMA table_info(pyro_names)")}
                for column, kind in _SQL_LEASE_COLUMNS.items():
                    if column not in columns:
                        self._db.execute(f"ALTER TABLE pyro_names ADD COLUMN {column} {kind}")
        except sqlite3.Error as exc:
            self.close()
            raise NamingError(f"cannot use sqlite storage {dbfile!r}: {exc}") from None

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise _closed_error("sql")
        return self._db

    def _check_open(self) -> None:
        self._connection()

    def _load(self, name: str) -> Optional[Entry]:
        db = self._connection()
        row = db.execute("SELECT id, uri, lease, expires FROM pyro_names WHERE name=?", (name,)).fetchone()
        if row is None:
            return None
        metas = db.execute("SELECT metadata FROM pyro_metadata WHERE object=?", (row[0],)).fetchall()
        return Entry(row[1], frozenset(meta for (meta,) in metas), row[2], row[3])

    def _store(self, name: str, entry: Entry) -> None:
        db = self._connection()
        self._drop(name)
        cursor = db.execute(
            "INSERT INTO pyro_names(name, uri, lease, expires) VALUES (?, ?, ?, ?)",
            (name, entry.uri, entry.lease, entry.expires),
        )
        rows = [(cursor.lastrowid, meta) for meta in sorted(entry.metadata)]
        db.executemany("INSERT INTO pyro_metadata(object, metadata) VALUES (?, ?)", rows)

    def _drop(self, name: str) -> bool:
        db = self._connection()
        row = db.execute("SELECT id FROM pyro_names WHERE name=?", (name,)).fetchone()
        if row is None:
            return False
        db.execute("DELETE FROM pyro_metadata WHERE object=?", row)
        db.execute("DELETE FROM pyro_names WHERE id=?", row)
        return True

    def _scan(self) -> dict[str, Entry]:
        db = self._connection()
        names = db.execute("SELECT id, name, uri, lease, expires FROM pyro_names").fetchall()
        metas = db.execute("SELECT object, metadata FROM pyro_metadata").fetchall()
        by_id: dict[int, set[str]] = {}
        for object_id, meta in metas:
            by_id.setdefault(object_id, set()).add(meta)
        return {
            name: Entry(uri, frozenset(by_id.get(object_id, ())), lease, expires)
            for object_id, name, uri, lease, expires in names
        }

    def _commit(self) -> None:
        self._connection().commit()  # SQLite syncs its journal on commit (synchronous=FULL)

    def _rollback(self) -> None:
        if self._db is not None:
            self._db.rollback()

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __repr__(self) -> str:
        return f"<SqlStorage {self.dbfile!r}>"


# -- dbm ------------------------------------------------------------------------------------

#: dbm.dumb stores each value in blocks of this many bytes (its own constant).
_DUMB_BLOCK = 512


def _encode_dbm_value(entry: Entry) -> bytes:
    document: dict[str, Any] = {"uri": entry.uri, "metadata": sorted(entry.metadata)}
    if entry.lease is not None:
        document.update(lease=entry.lease, expires=entry.expires)
    raw = json.dumps(document).encode("utf-8")
    # Padded with spaces to whole blocks: dbm.dumb overwrites a value in place when it fits,
    # before its index is synced, and a crash then leaves the old (pos, size) on disk. With
    # whole blocks the size only shrinks, and the reader ignores what follows the document.
    return raw.ljust(-(-len(raw) // _DUMB_BLOCK) * _DUMB_BLOCK)


def _decode_dbm_value(raw: bytes) -> Entry:
    """Our JSON document (padding and whatever follows it ignored), or a bare URI as a Pyro4
    dbm name server wrote it (no metadata)."""
    text = raw.decode("utf-8", errors="replace").strip()
    if text.startswith("{"):
        try:
            document, _ = json.JSONDecoder().raw_decode(text)
            lease, expires = document.get("lease"), document.get("expires")
            return Entry(
                str(document["uri"]),
                frozenset(document.get("metadata") or ()),
                None if lease is None else float(lease),
                None if expires is None else float(expires),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            pass
    return Entry(text, frozenset())


#: dbm.dumb's database class (private to dbm.dumb; typed loosely: its internals are used below).
_DumbDatabase: Any = dbm.dumb._Database


class _SafeDumbDatabase(_DumbDatabase):  # type: ignore[misc]
    """dbm.dumb with an index that survives a crash.

    dbm.dumb keeps its index (the ``.dir`` file) in memory and, on ``sync``, renames the
    old file away and writes the new one in place: a process killed in between leaves no
    index or half of one, and every registration is gone. Here the index is written to a
    temporary file, flushed to disk with the data file, and renamed over the old one, which
    is atomic. The file format is dbm.dumb's, so either can open the other's files.
    """

    _index: Any
    _modified: bool
    _dirfile: str
    _datfile: str

    def _commit(self) -> None:
        if self._index is None or not self._modified:
            return
        dirfile = os.fsdecode(self._dirfile)
        temporary = dirfile + ".tmp"
        with open(self._datfile, "rb+") as data:
            os.fsync(data.fileno())
        with open(temporary, "w", encoding="Latin-1") as index:
            for key, pos_and_size in self._index.items():
                index.write(f"{key.decode('Latin-1')!r}, {pos_and_size!r}\n")
            index.flush()
            os.fsync(index.fileno())
        os.replace(temporary, dirfile)
        _fsync_directory(os.path.dirname(dirfile) or ".")
        self._modified = False

    sync = _commit


def _fsync_directory(path: str) -> None:
    """Make a rename in ``path`` durable (where the platform can open a directory)."""
    try:
        handle = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def _uses_dumb_backend(path: str) -> bool:
    """Would ``dbm.open(path, "c")`` use dbm.dumb (for this file, or for a new one here)?"""
    kind = dbm.whichdb(path)
    if kind is None:  # a new database: dbm.open takes the first backend it can import
        return not any(_importable(name) for name in ("dbm.gnu", "dbm.ndbm"))
    return kind == "dbm.dumb"


def _importable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


class DbmStorage(LocalStorage):
    """The standard library's ``dbm`` (whichever backend it picks), metadata included.

    With the ``dbm.dumb`` backend (the one a Python without gdbm and ndbm has) the index is
    written crash-safely; the other backends are synced after every change.
    """

    backend_errors = dbm.error  # dbm's own exception classes and OSError
    kind = "dbm"

    def __init__(self, dbmfile: str, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock)
        self.dbmfile = dbmfile
        try:
            if _uses_dumb_backend(dbmfile):
                self._db: Any = _SafeDumbDatabase(dbmfile, 0o666, "c")
                self._db.sync()  # a new database gets its index file at once
            else:
                self._db = dbm.open(dbmfile, "c")
        except Exception as exc:
            raise NamingError(f"cannot open dbm storage {dbmfile!r}: {exc}") from None

    def _handle(self) -> Any:
        if self._db is None:
            raise _closed_error("dbm")
        return self._db

    def _check_open(self) -> None:
        self._handle()

    def _load(self, name: str) -> Optional[Entry]:
        raw = self._handle().get(name.encode("utf-8"))
        return None if raw is None else _decode_dbm_value(raw)

    def _store(self, name: str, entry: Entry) -> None:
        self._handle()[name.encode("utf-8")] = _encode_dbm_value(entry)

    def _drop(self, name: str) -> bool:
        db, key = self._handle(), name.encode("utf-8")
        if key not in db:
            return False
        del db[key]
        return True

    def _scan(self) -> dict[str, Entry]:
        db = self._handle()
        keys = db.keys()  # not every dbm backend can be iterated
        return {key.decode("utf-8"): _decode_dbm_value(db[key]) for key in keys}

    def _commit(self) -> None:
        sync = getattr(self._handle(), "sync", None)
        if sync is not None:
            sync()

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __repr__(self) -> str:
        return f"<DbmStorage {self.dbmfile!r}>"


#: The URL schemes that name a PostgreSQL storage (libpq's own two).
POSTGRESQL_SCHEMES = ("postgresql://", "postgres://")


def make_storage(spec: Optional[str]) -> Storage:
    """A storage from its command-line spelling: ``memory``, ``sql:<file>``, ``dbm:<file>`` or a
    PostgreSQL URL (``postgresql://user@host:port/database``, libpq's syntax)."""
    spec = spec or "memory"
    if spec == "memory":
        log.debug("using volatile in-memory storage")
        return MemoryStorage()
    if spec.startswith(POSTGRESQL_SCHEMES):
        from .postgresql import PostgresStorage

        return PostgresStorage(spec)
    kind, _, path = spec.partition(":")
    if kind == "sql" and path:
        log.debug("using sqlite storage in %s", path)
        return SqlStorage(path)
    if kind == "dbm" and path:
        log.debug("using dbm storage in %s", path)
        return DbmStorage(path)
    raise ValueError(
        f"invalid storage type {spec!r}: use memory, sql:<file>, dbm:<file> or postgresql://<user>@<host>/<database>"
    )
