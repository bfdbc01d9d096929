"""The one place where SQLite and PostgreSQL differ: connecting, transactions, the schema
version, placeholders, and the statements each spells its own way (named queries in
`sql/<dialect>.sql`, as listmonk keeps them).

The aggregates above write portable SQL with `?` placeholders and ask for a named query only
where the dialects disagree; nothing outside this package sees a connection or a dialect.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from digest.errors import EXIT_PARTIAL, ConfigError, DigestError
from digest.store.migrations import POSTGRESQL_WORDS, SQLITE_WORDS, render

SQL_DIR = Path(__file__).with_name("sql")


class Row(Protocol):
    """sqlite3.Row, or a PostgreSQL row made to read the same: by position or column name."""

    def __getitem__(self, key: int | str, /) -> Any: ...

    def __iter__(self) -> Iterator[Any]: ...


@cache
def named_queries(dialect: str) -> dict[str, str]:
    """`-- name: X` blocks of `sql/<dialect>.sql`, written with `?` placeholders as the
    aggregates' portable SQL is."""
    text = (SQL_DIR / f"{dialect}.sql").read_text(encoding="utf-8")
    queries: dict[str, str] = {}
    for block in re.split(r"^-- name: ", text, flags=re.MULTILINE)[1:]:
        name, _, body = block.partition("\n")
        queries[name.strip()] = body.strip()
    return queries


class Database:
    """A connection in one dialect. `execute` takes portable SQL with `?` placeholders."""

    dialect: str
    integrity_error: type[Exception]
    target: str  # what to call it in a message: a path, or a URL without a password

    def __init__(self) -> None:
        # statements sent to the server (the bench reports them per message)
        self.round_trips = 0
        self.applied = 0  # migrations applied when this connection opened

    def query(self, name: str) -> str:
        return named_queries(self.dialect)[name]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        raise NotImplementedError

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        """Run `sql` once per row; return how many rows it changed in all."""
        raise NotImplementedError

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        row: Row | None = self.execute(sql, params).fetchone()
        return row

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return list(self.execute(sql, params).fetchall())

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.one(sql, params)
        return row[0] if row is not None else None

    @contextmanager
    def transaction(self, exclusive: str | None = None) -> Iterator[None]:
        """One atomic unit of work. With `exclusive`, transactions naming the same thing run
        one at a time (a read-then-write, such as a dedupe, must not interleave)."""
        raise NotImplementedError
        yield

    @property
    def schema_version(self) -> int:
        raise NotImplementedError

    def migrate(self) -> int:
        """Apply the migrations this database lacks; return how many. A schema newer than this
        digest knows is refused."""
        raise NotImplementedError

    def _refuse_newer(self, version: int, known: int) -> None:
        if version > known:
            raise DigestError(
                f"{self.target}: written by a newer digest (schema {version}); upgrade digest"
            )

    def close(self) -> None:
        raise NotImplementedError


# -- SQLite -----------------------------------------------------------------------------------


def _owner_only(path: Path) -> None:
    """Create the database owner-only (SQLite gives its WAL and shared-memory files the same
    mode), and tighten one an older digest left world-readable: they hold subscribers'
    addresses and names. A file someone else owns is left as it is."""
    with contextlib.suppress(OSError):  # it exists, or cannot be made: sqlite3 says why below
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for file in (path, path.with_name(f"{path.name}-wal"), path.with_name(f"{path.name}-shm")):
        try:
            if file.stat().st_mode & 0o077:
                file.chmod(0o600)
        except OSError:
            pass


class SQLiteDatabase(Database):
    """One SQLite file (WAL): the embedded default, nothing to set up."""

    dialect = "sqlite"
    integrity_error = sqlite3.IntegrityError
    migrations = render(SQLITE_WORDS)

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.target = str(path)
        _owner_only(path)
        try:
            self.connection = sqlite3.connect(path, timeout=30, isolation_level=None)
        except sqlite3.Error as exc:
            raise DigestError(f"{path}: cannot open the state store: {exc}") from None
        self.connection.row_factory = sqlite3.Row
        try:
            self.connection.execute("PRAGMA journal_mode = WAL")
            # NORMAL is durable across process crashes in WAL mode; only power loss can roll back
            # the last commits, which the send bookkeeping tolerates (a resend keeps its
            # Message-ID).
            self.connection.execute("PRAGMA synchronous = NORMAL")
            self.connection.execute("PRAGMA foreign_keys = ON")
            self.applied = self.migrate()
        except sqlite3.DatabaseError as exc:
            self.connection.close()
            raise DigestError(f"{path}: not a digest state store: {exc}") from None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        self.round_trips += 1
        return self.connection.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        self.round_trips += 1
        return self.connection.executemany(sql, rows).rowcount

    @contextmanager
    def transaction(self, exclusive: str | None = None) -> Iterator[None]:
        """The connection autocommits otherwise (isolation_level=None); BEGIN IMMEDIATE takes
        the write lock up front, so every transaction is exclusive: a read-then-write (dedupe,
        snapshot) cannot interleave with another process's, which waits (busy timeout)."""
        self.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.execute("ROLLBACK")
            raise
        self.execute("COMMIT")

    @property
    def schema_version(self) -> int:
        return int(self.connection.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> int:
        version = self.schema_version
        self._refuse_newer(version, len(self.migrations))
        for number, script in enumerate(self.migrations[version:], start=version + 1):
            # executescript commits on its own; the version bump rides in the same script
            self.connection.executescript(
                f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;"
            )
        return len(self.migrations) - version

    def close(self) -> None:
        self.connection.close()


# -- PostgreSQL -------------------------------------------------------------------------------

POSTGRESQL_SCHEMES = ("postgresql", "postgres")
PASSWORD_SOURCES = "PGPASSWORD, DIGEST_DATABASE_PASSWORD or a pgpass file"


def check_database_url(url: str, where: str) -> str:
    """`url` if it is a PostgreSQL URL without a password; else one line saying why not."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        # the parser's own message would quote the part it misread, a password perhaps
        raise ConfigError(
            f"{where}: not a database URL (a port that is not a number, or a malformed host);"
            " it must look like postgresql://user@host:5432/dbname"
        ) from None
    if parts.scheme not in POSTGRESQL_SCHEMES or any(c.isspace() for c in url):
        raise ConfigError(
            f"{where}: must be a URL like postgresql://user@host:5432/dbname, not {redact(url)!r}"
        )
    if parts.password is not None or any(
        key == "password" for key, _ in parse_qsl(parts.query, keep_blank_values=True)
    ):
        raise ConfigError(
            f"{where}: the URL must not hold the password; give it in {PASSWORD_SOURCES}"
        )
    return url


def redact(url: str) -> str:
    """`url` fit to print: any password replaced by *** (digest.redact)."""
    from digest.redact import redact as redact_text

    return redact_text(url)


class StoreTimeout(DigestError):
    """A statement of ours waited too long for another session's lock, or ran too long: the
    command may simply be run again once the other session lets go."""

    exit_code = EXIT_PARTIAL


@dataclass(frozen=True)
class Timeouts:
    """How long one of our statements may wait for a lock, and run, in seconds (`[store]`)."""

    lock: float = 30.0
    statement: float = 300.0


DEFAULT_TIMEOUTS = Timeouts()


def connect_kwargs(url: str, timeouts: Timeouts = DEFAULT_TIMEOUTS) -> dict[str, Any]:
    """What psycopg adds to the URL: the password from DIGEST_DATABASE_PASSWORD (libpq reads
    PGPASSWORD and pgpass itself), never from a file of ours or the command line; and the
    session's lock and statement timeouts, so that another role holding our tables or advisory
    locks makes a command fail after a while, not hang for ever (after any `options` the URL
    gives, which the keyword would otherwise replace)."""
    from psycopg.conninfo import conninfo_to_dict

    options = (
        f"{conninfo_to_dict(url).get('options') or ''}"
        f" -c lock_timeout={round(timeouts.lock * 1000)}"
        f" -c statement_timeout={round(timeouts.statement * 1000)}"
    ).strip()
    kwargs: dict[str, Any] = {"options": options}
    password = os.environ.get("DIGEST_DATABASE_PASSWORD")
    if password:
        kwargs["password"] = password
    return kwargs


def _pg_row(cursor: Any) -> Any:
    """Rows readable by position and by column name, as sqlite3.Row's are."""
    names = [column.name for column in cursor.description or ()]
    index = {name: i for i, name in enumerate(names)}

    class PgRow(tuple[Any, ...]):
        def __getitem__(self, key: Any) -> Any:
            if isinstance(key, str):
                key = index[key]
            return tuple.__getitem__(self, key)

        def keys(self) -> list[str]:
            return names

    return PgRow


@cache
def _pg_sql(sql: str) -> str:
    """Portable SQL in psycopg's placeholder style (`?` → `%s`, a literal `%` doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


class PostgresDatabase(Database):
    """A PostgreSQL connection (from a pool when the process holds several), autocommitting
    outside `transaction()`."""

    dialect = "postgresql"
    migrations = render(POSTGRESQL_WORDS)
    # held for the length of a migration, so two deploys migrating at once apply it once
    MIGRATION_LOCK = 0x64696765  # "dige"

    def __init__(self, url: str, pool: Any = None, timeouts: Timeouts = DEFAULT_TIMEOUTS) -> None:
        import psycopg

        super().__init__()
        self.integrity_error = psycopg.errors.IntegrityError
        self.target = redact(url)
        self.pool = pool
        self.timeouts = timeouts
        try:
            if pool is not None:
                self.connection = pool.getconn()
            else:
                self.connection = psycopg.connect(
                    url, autocommit=True, connect_timeout=10, **connect_kwargs(url, timeouts)
                )
        except psycopg.Error as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise DigestError(f"{self.target}: cannot open the state store: {reason}") from None
        self.connection.row_factory = _pg_row
        self.applied = 0 if pool is not None else self.migrate()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        self.round_trips += 1
        with self._timeouts_explained():
            if not params:  # no placeholders: sent as is, and may hold several statements
                return self.connection.execute(sql)
            return self.connection.execute(_pg_sql(sql), params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        self.round_trips += 1
        with self._timeouts_explained(), self.connection.cursor() as cursor:
            cursor.executemany(_pg_sql(sql), list(rows))
            return int(cursor.rowcount)

    @contextmanager
    def _timeouts_explained(self) -> Iterator[None]:
        """A lock or statement timeout as one line saying what happened and what to look at."""
        import psycopg

        try:
            yield
        except psycopg.errors.LockNotAvailable:
            raise StoreTimeout(
                f"{self.target}: waited {self.timeouts.lock:g} s for a lock held by another"
                " session, and gave up (`[store] lock_timeout`); see who holds it in"
                " pg_stat_activity and pg_locks, and keep other roles off this database"
                " (docs/deploy.md)"
            ) from None
        except psycopg.errors.QueryCanceled:
            raise StoreTimeout(
                f"{self.target}: a statement ran longer than {self.timeouts.statement:g} s and"
                " was cancelled (`[store] statement_timeout`)"
            ) from None

    @contextmanager
    def transaction(self, exclusive: str | None = None) -> Iterator[None]:
        """Row locks serialise most writers; `exclusive` adds a transaction-scoped advisory
        lock on that name for the read-then-writes SQLite's BEGIN IMMEDIATE serialises."""
        self.round_trips += 2  # BEGIN and COMMIT
        with self.connection.transaction():
            if exclusive:
                self.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (exclusive,))
            yield

    @property
    def schema_version(self) -> int:
        return int(self.scalar(self.query("schema_version")))

    def migrate(self) -> int:
        """Under an advisory lock, so that hosts starting at once (the first deploy included:
        the version table itself is created here) apply each migration once."""
        with self.connection.transaction():
            self.execute("SELECT pg_advisory_xact_lock(?)", (self.MIGRATION_LOCK,))
            self.execute(self.query("schema_table"))
            version = self.schema_version
            self._refuse_newer(version, len(self.migrations))
            for script in self.migrations[version:]:
                self.execute(script)
            if version < len(self.migrations):
                self.execute(self.query("set_schema_version"), (len(self.migrations),))
        return len(self.migrations) - version

    def close(self) -> None:
        if self.pool is not None:
            self.pool.putconn(self.connection)
        else:
            self.connection.close()


def open_pool(url: str, size: int = 10, timeouts: Timeouts = DEFAULT_TIMEOUTS) -> Any:
    """A psycopg pool for a process that holds several stores at once (the web app). The
    schema is checked (and migrated) once, through a plain connection, so that a wrong URL or
    password is one line now rather than a pool retrying in the background."""
    from psycopg_pool import ConnectionPool

    PostgresDatabase(url, timeouts=timeouts).close()
    return ConnectionPool(
        url,
        min_size=1,
        max_size=size,
        kwargs={"autocommit": True, "connect_timeout": 10, **connect_kwargs(url, timeouts)},
        open=True,
    )


def store_errors() -> tuple[type[Exception], ...]:
    """The exceptions a store can raise mid-command (psycopg's only when it is in use)."""
    psycopg = sys.modules.get("psycopg")
    return (sqlite3.DatabaseError, psycopg.Error) if psycopg else (sqlite3.DatabaseError,)
