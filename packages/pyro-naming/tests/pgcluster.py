"""A throwaway PostgreSQL cluster for the tests and the naming benchmark.

``initdb`` in a temporary directory, then ``postgres`` listening on a unix socket in
that directory only (no TCP port at all), stopped (``pg_ctl stop -m immediate``, then
SIGKILL if it lingers) and removed at the end. PostgreSQL refuses to run as root, so
as root the cluster runs as the ``postgres`` user the Debian package creates (else
``nobody``). The binaries are Debian's (``/usr/lib/postgresql/<version>/bin``, the
newest), or those on PATH; ``PYRO_TEST_PG_BIN`` names another directory.

Not a test module: conftest.py and benchmarks/naming_lookups.py load it by its path.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Optional
from urllib.parse import quote

#: Seconds PostgreSQL gets to start and to stop (pg_ctl's -t).
START_TIMEOUT = 30
STOP_TIMEOUT = 10
#: The superuser initdb creates; authentication is "trust" (the socket's directory is private).
SUPERUSER = "postgres"
_TOOLS = ("initdb", "pg_ctl", "postgres")


def find_binaries() -> Optional[Path]:
    """The directory with initdb, pg_ctl and postgres, or None if there is none."""
    candidates = []
    if os.environ.get("PYRO_TEST_PG_BIN"):
        candidates.append(Path(os.environ["PYRO_TEST_PG_BIN"]))
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: _version(p.parent.name), reverse=True)
    candidates.extend(versions)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for directory in candidates:
        if all(os.access(directory / tool, os.X_OK) for tool in _TOOLS):
            return directory
    return None


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".") if part.isdigit())


def _run_as() -> Optional[pwd.struct_passwd]:
    """The unprivileged user to run PostgreSQL as (None: as ourselves, we are not root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError("running as root, and there is neither a 'postgres' nor a 'nobody' user to run PostgreSQL as")


class TemporaryCluster:
    """``with TemporaryCluster() as cluster:`` a running PostgreSQL; ``cluster.url(database)``."""

    def __init__(self, bindir: Optional[Path] = None, durable: bool = False) -> None:
        found = bindir or find_binaries()
        if found is None:
            raise FileNotFoundError("no PostgreSQL binaries (initdb, pg_ctl, postgres)")
        self.bindir = found
        #: durable=False turns fsync off: faster, and safe as long as the cluster's own
        #: host does not crash (the tests kill name servers, never PostgreSQL)
        self.durable = durable
        self.user = _run_as()
        self.directory = Path(tempfile.mkdtemp(prefix="pyro-pg-"))
        self.data = self.directory / "data"

    def _command(self, tool: str, *args: str, timeout: float = START_TIMEOUT) -> None:
        kwargs: dict[str, Any] = {}
        if self.user is not None:
            kwargs = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}
        result = subprocess.run(
            [str(self.bindir / tool), *args],
            cwd=self.directory,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "LC_ALL": "C"},
            **kwargs,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{tool} failed ({result.returncode}):\n{result.stdout}{result.stderr}{self._log()}")

    def _log(self) -> str:
        log = self.directory / "postgres.log"
        return log.read_text(errors="replace") if log.exists() else ""

    def start(self) -> TemporaryCluster:
        if self.user is not None:
            os.chown(self.directory, self.user.pw_uid, self.user.pw_gid)
        self._command("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--no-sync")
        settings = [
            "-c listen_addresses=''",  # the unix socket only: no TCP port to find or to clash on
            f"-c unix_socket_directories='{self.directory}'",
            "-c max_connections=100",
        ]
        if not self.durable:
            settings += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        self._command(
            "pg_ctl",
            *("-D", str(self.data), "-l", str(self.directory / "postgres.log")),
            *("-w", "-t", str(START_TIMEOUT), "-o", " ".join(settings), "start"),
        )
        return self

    def url(self, database: str = SUPERUSER, **options: str) -> str:
        """A libpq URL for ``database`` over the socket; ``options`` become query parameters."""
        query = {"host": str(self.directory), **options}
        encoded = "&".join(f"{key}={quote(value, safe='/')}" for key, value in query.items())
        return f"postgresql://{SUPERUSER}@/{database}?{encoded}"

    def sql(self, statement: str, database: str = SUPERUSER) -> list[tuple[Any, ...]]:
        """Run one statement (autocommit) and return its rows (none for a statement without)."""
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as connection:
            cursor = connection.execute(statement)
            return cursor.fetchall() if cursor.description else []

    def stop(self) -> None:
        """Stop PostgreSQL at once (immediate mode, killed if it lingers) and remove the directory."""
        if self.data.exists():
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                self._command("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", str(STOP_TIMEOUT), "stop")
            self._kill_leftover()
        shutil.rmtree(self.directory, ignore_errors=True)

    def _kill_leftover(self) -> None:
        try:
            pid = int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return  # not running: pg_ctl removed its pid file
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + STOP_TIMEOUT
            while time.monotonic() < deadline:
                os.kill(pid, 0)
                time.sleep(0.05)

    def __enter__(self) -> TemporaryCluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()
