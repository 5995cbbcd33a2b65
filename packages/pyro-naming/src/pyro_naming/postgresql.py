"""The PostgreSQL storage: one registry shared by any number of name servers.

``pyro-ns --storage=postgresql://user@host:port/database`` (any libpq URL; a password is
better kept in ``~/.pgpass`` or ``PGPASSWORD`` than in the URL, which shows in ``ps``).
Needs psycopg 3: ``pip install 'pyro-naming[postgresql]'``.

Every name server on the same database sees every registration at once: nothing is
cached, and each operation is one SQL statement, committed before the name server
replies. Two name servers racing to ``register(name, ..., safe=True)`` the same name
leave one winner, because the name is the table's primary key (``INSERT ... ON
CONFLICT``). Leases are measured by the database's clock, so name servers on hosts
whose clocks differ still agree on when a registration expires.

Connections come from a small pool per storage (at most :data:`MAX_CONNECTIONS`,
opened when needed and kept for reuse). A connection that broke while it sat idle
(the database restarted, a network cut) is replaced and the operation tried once
more; a database that cannot be reached gives a NamingError that says where it was
looked for.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any, Callable, Optional, TypeVar

from pyro_protocol.errors import NamingError

from .storage import PURGE_INTERVAL, Entry, Storage

__all__ = ["PostgresStorage", "MAX_CONNECTIONS", "CONNECT_TIMEOUT"]

log = logging.getLogger("pyro.naming")

T = TypeVar("T")

#: Connections one storage (one name server) keeps at most. PostgreSQL accepts 100 by
#: default, shared by every name server on the database; a lookup holds one for well
#: under a millisecond, so a few serve many name server threads.
MAX_CONNECTIONS = 8
#: Seconds to wait for the database to accept a connection (libpq's connect_timeout,
#: whole seconds), and for a free connection of the pool.
CONNECT_TIMEOUT = 5
POOL_TIMEOUT = 10.0
#: The advisory lock that lets one name server at a time create the table (two
#: concurrent CREATE TABLE IF NOT EXISTS can both try, and one then fails).
_SCHEMA_LOCK = 0x5079726F  # "Pyro"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS pyro_names ("
    " name text PRIMARY KEY,"
    " uri text NOT NULL,"
    " metadata text[] NOT NULL DEFAULT '{}',"
    " lease double precision,"  # seconds; NULL: no lease
    " expires timestamptz)",  # by the database's clock; NULL: never
    "CREATE INDEX IF NOT EXISTS pyro_names_expires ON pyro_names (expires) WHERE expires IS NOT NULL",
)
_LIVE = "(p.expires IS NULL OR p.expires > now())"
_COLUMNS = "p.uri, p.metadata, p.lease, extract(epoch FROM p.expires)::float8"
_GET = f"SELECT {_COLUMNS} FROM pyro_names p WHERE p.name = %s AND {_LIVE}"
_ENTRIES = f"SELECT p.name, {_COLUMNS} FROM pyro_names p WHERE {_LIVE}"
_COUNT = f"SELECT count(*) FROM pyro_names p WHERE {_LIVE}"
_PUT = (
    "INSERT INTO pyro_names AS p (name, uri, metadata, lease, expires)"
    " VALUES (%(name)s, %(uri)s, %(metadata)s::text[], %(lease)s::float8,"
    " now() + %(lease)s::float8 * interval '1 second')"
    " ON CONFLICT (name) DO UPDATE SET uri = excluded.uri, metadata = excluded.metadata,"
    " lease = excluded.lease, expires = excluded.expires"
)
_ADD = _PUT + " WHERE p.expires <= now() RETURNING 1"  # takes the place of an expired one only
_SET_METADATA = f"UPDATE pyro_names p SET metadata = %s::text[] WHERE p.name = %s AND {_LIVE} RETURNING 1"
_RENEW = (
    "UPDATE pyro_names p SET expires = now() + p.lease * interval '1 second'"
    " FROM unnest(%s::text[], %s::text[]) AS r(name, uri)"
    f" WHERE p.name = r.name AND (r.uri IS NULL OR p.uri = r.uri) AND {_LIVE}"
    " RETURNING p.name"
)
_DELETE = f"DELETE FROM pyro_names p WHERE p.name = ANY(%s::text[]) RETURNING {_LIVE}"
_DELETE_UNCHANGED = f"DELETE FROM pyro_names p WHERE p.name = %s AND p.uri = %s AND {_LIVE} RETURNING 1"
_PURGE = "DELETE FROM pyro_names WHERE expires <= now()"


def _text(exc: BaseException) -> str:
    return str(exc).strip()  # libpq's messages end with a newline


def _entry(row: Any) -> Entry:
    uri, metadata, lease, expires = row
    return Entry(uri, frozenset(metadata), lease, expires)


class _Pool:
    """At most ``size`` connections; idle ones are kept for the next operation."""

    def __init__(self, connect: Callable[[], Any], size: int) -> None:
        self._connect = connect
        self._size = size
        self._idle: list[Any] = []
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._closed = False

    def take(self) -> tuple[Any, bool]:
        """A connection, and whether it was used before."""
        if not self._slots.acquire(timeout=POOL_TIMEOUT):
            raise NamingError(
                f"all {self._size} connections to the PostgreSQL storage stayed busy for {POOL_TIMEOUT:g} s"
            )
        try:
            with self._lock:
                if self._closed:
                    raise NamingError("the postgresql storage is closed")
                if self._idle:
                    return self._idle.pop(), True
            return self._connect(), False
        except BaseException:
            self._slots.release()
            raise

    def give_back(self, connection: Any, usable: bool = True) -> None:
        with self._lock:
            keep = usable and not self._closed and not connection.closed
            if keep:
                self._idle.append(connection)
        if not keep:
            connection.close()
        self._slots.release()

    def discard_idle(self) -> None:
        """Close the idle connections (after one was found broken, the others likely are too)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self.discard_idle()


class PostgresStorage(Storage):
    """Registrations in a PostgreSQL table (``pyro_names``, created if missing), shared by every
    name server that uses the same database. ``conninfo`` is a libpq URL or connection string;
    the table goes into the connection's search_path (``?options=-csearch_path%3Dmyschema``
    puts it in a schema of its own)."""

    def __init__(self, conninfo: str, connect_timeout: int = CONNECT_TIMEOUT) -> None:
        try:
            import psycopg
            from psycopg.conninfo import conninfo_to_dict
        except ImportError:
            raise NamingError("the PostgreSQL storage needs psycopg 3: pip install 'pyro-naming[postgresql]'") from None
        self._psycopg = psycopg
        try:
            params = conninfo_to_dict(conninfo)
        except psycopg.Error as exc:
            raise NamingError(f"invalid PostgreSQL storage URL: {_text(exc)}") from None
        self.where = f"{params.get('dbname', '(default database)')} on {params.get('host', '(default host)')}"
        if "port" in params:
            self.where += f":{params['port']}"
        self._conninfo = conninfo
        self._connect_timeout = connect_timeout
        self._next_purge = 0.0
        self._pool = _Pool(self._connect, MAX_CONNECTIONS)
        try:
            self._run("creating the table", self._create_schema)
        except BaseException:
            self.close()
            raise
        log.debug("using PostgreSQL storage %s", self.where)

    def _connect(self) -> Any:
        try:
            return self._psycopg.connect(self._conninfo, autocommit=True, connect_timeout=self._connect_timeout)
        except self._psycopg.Error as exc:
            raise NamingError(f"cannot reach the PostgreSQL storage ({self.where}): {_text(exc)}") from None

    @staticmethod
    def _create_schema(connection: Any) -> None:
        with connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            for statement in _SCHEMA:
                connection.execute(statement)

    def _run(self, action: str, work: Callable[[Any], T]) -> T:
        """``work(connection)`` on a pooled connection. A reused connection found broken (it
        died while idle, so the statement never reached a live server) is replaced, with
        every other idle one, and the work done once more on a new connection."""
        psycopg = self._psycopg
        for attempt in (1, 2):
            connection, reused = self._pool.take()
            try:
                result = work(connection)
            except psycopg.Error as exc:
                broken = bool(connection.broken)
                self._pool.give_back(connection, usable=not broken)
                if broken and reused and attempt == 1:
                    log.info("PostgreSQL storage: connection lost (%s); reconnecting", _text(exc))
                    self._pool.discard_idle()
                    continue
                raise NamingError(f"PostgreSQL storage ({self.where}) failed while {action}: {_text(exc)}") from None
            except BaseException:
                self._pool.give_back(connection, usable=False)
                raise
            self._pool.give_back(connection)
            return result
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _purge_if_due(self, connection: Any) -> None:
        """Delete expired rows now and then (reads never see them anyway)."""
        now = time.monotonic()
        if now >= self._next_purge:
            self._next_purge = now + PURGE_INTERVAL
            connection.execute(_PURGE)

    def get(self, name: str) -> Optional[Entry]:
        row = self._run(f"reading {name!r}", lambda c: c.execute(_GET, (name,)).fetchone())
        return None if row is None else _entry(row)

    def _upsert(self, statement: str, name: str, entry: Entry) -> Any:
        params = {"name": name, "uri": entry.uri, "metadata": sorted(entry.metadata), "lease": entry.lease}

        def work(connection: Any) -> Any:
            self._purge_if_due(connection)
            cursor = connection.execute(statement, params)
            return cursor.fetchone() if cursor.description else None

        return self._run(f"registering {name!r}", work)

    def put(self, name: str, entry: Entry) -> None:
        self._upsert(_PUT, name, entry)

    def add(self, name: str, entry: Entry) -> bool:
        return self._upsert(_ADD, name, entry) is not None

    def set_metadata(self, name: str, metadata: frozenset[str]) -> bool:
        row = self._run(
            f"setting the metadata of {name!r}",
            lambda c: c.execute(_SET_METADATA, (sorted(metadata), name)).fetchone(),
        )
        return row is not None

    def renew(self, registrations: Mapping[str, Optional[str]]) -> list[str]:
        if not registrations:
            return []
        names, uris = list(registrations), list(registrations.values())
        rows = self._run("renewing leases", lambda c: c.execute(_RENEW, (names, uris)).fetchall())
        return [name for (name,) in rows]

    def delete(self, names: Iterable[str]) -> int:
        doomed = list(names)
        if not doomed:
            return 0
        rows = self._run("removing", lambda c: c.execute(_DELETE, (doomed,)).fetchall())
        return sum(1 for (alive,) in rows if alive)

    def delete_unchanged(self, name: str, uri: str) -> bool:
        row = self._run(f"removing {name!r}", lambda c: c.execute(_DELETE_UNCHANGED, (name, uri)).fetchone())
        return row is not None

    def entries(self) -> dict[str, Entry]:
        rows = self._run("listing", lambda c: c.execute(_ENTRIES).fetchall())
        return {row[0]: _entry(row[1:]) for row in rows}

    def count(self) -> int:
        return int(self._run("counting", lambda c: c.execute(_COUNT).fetchone()[0]))

    def close(self) -> None:
        self._pool.close()

    def __repr__(self) -> str:
        return f"<PostgresStorage {self.where}>"
