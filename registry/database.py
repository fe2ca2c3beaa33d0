"""Where the registry lives and how it is opened.

``REGISTRY_DB`` (or ``--db``) is a path for SQLite or a ``postgresql://`` URL; the default is
``data/registry.db`` under the current directory. Opening a database brings its schema to the
newest Alembic revision first. On SQLite the check is one query through the stdlib sqlite3
module, so commands on an up-to-date database import neither Alembic nor SQLAlchemy: the catalog
(``store.py``, ``readers.py``) and a run's writes (``experiments/store/plans.py``, ``trials.py``)
run their SQL on a plain DB-API ``Connection``, and the engine is made only when a migration is
due or a caller asks for it (the experiment store's sessions).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from core.errors import AgentRegistryError

if TYPE_CHECKING:
    import sqlite3

    from sqlalchemy.engine import Connection as EngineConnection
    from sqlalchemy.engine import Engine
    from sqlalchemy.pool import ConnectionPoolEntry
    from sqlmodel import Session

DEFAULT_DB = Path("data") / "registry.db"
# The newest migration; tests/registry/test_database.py checks it against Alembic's head.
SCHEMA_HEAD = "0006"
# Every revision this version can migrate from; a database at any other was written by a newer one.
KNOWN_REVISIONS = ("0001", "0002", "0003", "0004", "0005", "0006")
_PG_MIGRATION_LOCK = 7_270_701
_URL_ESCAPES = str.maketrans({"%": "%25", "?": "%3F", "#": "%23"})


class DatabaseError(AgentRegistryError):
    """The database cannot be opened or is not a registry."""


LOCK_WAIT_S = 60  # how long a writer waits for another one (SQLite busy timeout)


def utcnow() -> datetime:
    return datetime.now(UTC)


def database_failure(err: BaseException) -> DatabaseError | None:
    """The failure of the database itself (locked, full, read-only, damaged) as one clear line;
    None for anything else. Every write is one transaction, so nothing was half written."""
    import sqlite3

    driver_error = getattr(err, "orig", None) or err  # SQLAlchemy wraps the driver's error
    first = str(driver_error).strip().splitlines()
    reason = first[0] if first else type(driver_error).__name__
    lowered = reason.lower()
    is_driver_error = isinstance(driver_error, sqlite3.DatabaseError) or type(
        driver_error
    ).__module__.startswith("psycopg")
    if not is_driver_error:
        return None
    if "locked" in lowered or "lock timeout" in lowered:
        return DatabaseError(
            f"another process kept the registry database locked for over {LOCK_WAIT_S} s; "
            "nothing was written: try again when it has finished"
        )
    if "full" in lowered:
        return DatabaseError(
            f"the disk holding the registry database is full; nothing was written ({reason})"
        )
    if "readonly" in lowered or "read-only" in lowered:
        return DatabaseError(
            f"the registry database is read-only here; nothing was written ({reason})"
        )
    if "malformed" in lowered or "not a database" in lowered:
        return DatabaseError(f"the registry database is damaged: {reason}")
    return DatabaseError(f"the registry database failed: {reason}")


def database_url(db: str | None = None) -> str:
    """The SQLAlchemy URL for ``db``, ``$REGISTRY_DB`` or the default SQLite file."""
    raw = db or os.environ.get("REGISTRY_DB") or str(DEFAULT_DB)
    if "://" not in raw:
        path = str(Path(raw).expanduser().resolve())
        # Escaped as SQLAlchemy's URL parser unescapes: "?" would start a query, "%" an escape.
        return "sqlite:///" + path.translate(_URL_ESCAPES)
    for prefix in ("postgresql://", "postgres://"):
        if raw.startswith(prefix):
            return "postgresql+psycopg://" + _encode_userinfo(raw[len(prefix) :])
    if raw.startswith("postgresql+"):
        scheme, _, rest = raw.partition("://")
        return f"{scheme}://{_encode_userinfo(rest)}"
    if raw.startswith("sqlite:"):
        return raw
    raise DatabaseError(
        f"unsupported database URL {redact(raw)!r}: use a file path or postgresql://"
    )


def _userinfo_split(rest: str) -> tuple[str | None, str]:
    """``user:password`` and what follows; userinfo ends at the last ``@`` before any ``?``."""
    head, query_mark, query = rest.partition("?")
    userinfo, at, host = head.rpartition("@")
    return (userinfo if at else None), host + query_mark + query


def _encode_userinfo(rest: str) -> str:
    """Percent-encode user and password, so that ``@``, ``:`` or ``/`` in a password (written as
    is) cannot be read as the host or port; an already encoded one stays as it is."""
    userinfo, host = _userinfo_split(rest)
    if userinfo is None:
        return rest
    user, colon, password = userinfo.partition(":")
    encoded = quote(unquote(user), safe="") + colon + quote(unquote(password), safe="")
    return f"{encoded}@{host}"


def redact(url: str) -> str:
    """The URL without its user and password, for messages."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    userinfo, host = _userinfo_split(rest)
    return url if userinfo is None else f"{scheme}://***@{host}"


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL, as SQLAlchemy reads it (the exact inverse of ``database_url``)."""
    if not url.startswith("sqlite:///"):
        return None
    return Path(unquote(url.removeprefix("sqlite:///").partition("?")[0]))


def database_exists(url: str) -> bool:
    """False only for a SQLite file that is not there (a server database is assumed to exist)."""
    path = sqlite_path(url)
    return path is None or path.exists()


def connect_read_only(path: Path, *, any_thread: bool = False) -> sqlite3.Connection:
    """A connection that never writes to the SQLite file ``path``, even on a read-only disk.

    ``mode=ro`` still needs to create the WAL index (``-shm``) beside the file; where the folder
    cannot be written, the file is opened ``immutable`` (nobody can be writing it there).
    ``any_thread``: another thread may close it.
    """
    import sqlite3

    # as_uri() percent-encodes "?", "#" and "%", which would otherwise cut the file name.
    uri = path.absolute().as_uri()

    def connect(query: str) -> sqlite3.Connection:
        return sqlite3.connect(
            uri + query, uri=True, timeout=LOCK_WAIT_S, check_same_thread=not any_thread
        )

    conn = connect("?mode=ro")
    try:
        conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        return conn
    except sqlite3.OperationalError:
        conn.close()
    return connect("?mode=ro&immutable=1")


def sqlite_schema(conn: sqlite3.Connection) -> tuple[str | None, list[str]]:
    """The registry revision of a SQLite file (None: no registry schema) and its table names."""
    tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    if "alembic_version" not in tables:
        return None, tables
    row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return (row[0] if row else None), tables


def not_a_registry(where: str, tables: list[str]) -> DatabaseError:
    shown = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
    return DatabaseError(
        f"{where} is not a registry database (it has other tables: {shown}); nothing was changed"
    )


def create_db_engine(url: str, *, read_only: bool = False) -> Engine:
    from sqlalchemy import create_engine, event

    path = sqlite_path(url)
    if path is not None and read_only:
        return create_engine("sqlite://", creator=lambda: connect_read_only(path))
    if path is not None:
        if path.is_dir():
            raise DatabaseError(f"{path} is a folder, not a database file")
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": LOCK_WAIT_S})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
            # Let SQLAlchemy, not the sqlite3 module, decide when transactions start (see below).
            sqlite_pragmas(dbapi_conn)

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: EngineConnection) -> None:
            # A writing transaction takes the write lock up front (IMMEDIATE): two publishers then
            # queue on busy_timeout instead of both reading the same next version number, and a
            # read-then-write never fails on a stale snapshot. Readers stay DEFERRED, so under WAL
            # they never wait for a writer (or for another session of the same thread).
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    return create_engine(url, pool_pre_ping=True)


def sqlite_pragmas(conn: sqlite3.Connection) -> None:
    """Set up a writable SQLite connection: WAL, foreign keys, the busy timeout, and no
    transaction the sqlite3 module starts by itself (each one is begun explicitly)."""
    conn.isolation_level = None
    cur = conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={LOCK_WAIT_S * 1000}")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return current_revision_on(conn)


def current_revision_on(conn: EngineConnection) -> str | None:
    from sqlalchemy import inspect, text

    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def migrate(engine: Engine) -> None:
    """Bring the schema to SCHEMA_HEAD; safe when several processes open a new database at once."""
    from sqlalchemy import exc, text

    try:
        if current_revision(engine) == SCHEMA_HEAD:
            return
    except exc.DatabaseError as err:
        reason = str(err.orig).strip().splitlines()[0]
        raise DatabaseError(f"cannot open the registry database: {reason}") from None
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.execution_options(sqlite_begin="IMMEDIATE").begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        revision = current_revision_on(conn)
        if revision == SCHEMA_HEAD:
            return  # another process migrated while we waited for the lock
        tables = inspect(conn).get_table_names()
        if revision is None and tables:
            raise not_a_registry(redact(str(engine.url)), tables)
        if revision is not None and revision not in KNOWN_REVISIONS:
            raise DatabaseError(
                f"this registry has schema {revision}, newer than this version of agent-registry "
                f"knows (up to {SCHEMA_HEAD}): upgrade agent-registry to use it"
            )
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


class Connection:
    """A DB-API connection (sqlite3, or the PostgreSQL driver) inside one transaction.

    SQL is written once with ``?`` parameters and runs on every backend; values of timestamp
    columns go through ``timestamp`` and ``utc``, and of JSON columns through ``json`` and
    ``from_json``, as SQLAlchemy's ``UTCDateTime`` and ``JSON`` store and read them, so rows
    written either way (the catalog, a run's trials; the ORM's sessions) read the same.
    """

    def __init__(self, raw: Any, dialect: str):
        self.raw = raw
        self.dialect = dialect

    def _sql(self, sql: str) -> str:
        return sql if self.dialect == "sqlite" else sql.replace("?", "%s")

    def _run(self, sql: str, params: Sequence[Any]) -> Any:
        cur = self.raw.cursor()
        cur.execute(self._sql(sql), tuple(params))
        return cur

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cur = self._run(sql, params)
        try:
            rows: list[tuple[Any, ...]] = cur.fetchall()  # both drivers give plain tuples
            return rows
        finally:
            cur.close()

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        rows = self.all(sql, params)
        return rows[0] if rows else None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; the number of rows it changed."""
        cur = self._run(sql, params)
        try:
            return int(cur.rowcount)
        finally:
            cur.close()

    def insert(self, table: str, values: dict[str, Any]) -> int:
        """Insert one row; its id."""
        marks = ", ".join("?" for _ in values)
        row = self.one(
            f"INSERT INTO {table} ({', '.join(values)}) VALUES ({marks}) RETURNING id",
            list(values.values()),
        )
        assert row is not None
        return int(row[0])

    def insert_many(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        """Insert rows that all have the columns of the first, in one ``executemany``."""
        if not rows:
            return
        columns = list(rows[0])
        marks = ", ".join("?" for _ in columns)
        cur = self.raw.cursor()
        try:
            cur.executemany(
                self._sql(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"),
                [tuple(row[c] for c in columns) for row in rows],
            )
        finally:
            cur.close()

    def json(self, value: Any) -> str | None:
        """A JSON column's parameter (None stays SQL NULL): its text, which PostgreSQL casts."""
        return None if value is None else json.dumps(value)

    def from_json(self, value: Any) -> Any:
        """A JSON column's value as read (the PostgreSQL driver has parsed it already)."""
        return json.loads(value) if isinstance(value, str) and self.dialect == "sqlite" else value

    def timestamp(self, moment: datetime) -> datetime | str:
        """``moment`` as a timestamp column stores it (SQLite: SQLAlchemy's text form, in UTC)."""
        moment = moment.astimezone(UTC)
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f") if self.dialect == "sqlite" else moment

    @staticmethod
    def utc(value: datetime | str) -> datetime:
        """A timestamp column's value as an aware UTC datetime."""
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Database:
    """An opened, migrated registry database.

    ``read_only=True`` (commands that only read): a SQLite registry at the newest schema is opened
    without writing to it, so that a read-only file or folder can be read; any other is opened as
    usual (migrated, or refused when it belongs to another application).
    """

    def __init__(self, db: str | None = None, *, read_only: bool = False):
        self.url = database_url(db)
        self.dialect = self.url.partition(":")[0].partition("+")[0]
        self._path = sqlite_path(self.url)
        # Checked before any connection of ours sets pragmas (journal_mode=WAL changes the file).
        at_head = self._path is not None and self._path.is_file() and _at_head(self._path)
        self._read_only = read_only and at_head
        self._local = threading.local()  # this thread's SQLite connection (see connect)
        self._opened: list[sqlite3.Connection] = []  # every thread's, for dispose
        self._opened_lock = threading.Lock()
        if not at_head:
            migrate(self.engine)

    @cached_property
    def engine(self) -> Engine:
        """The SQLAlchemy engine, made (and SQLAlchemy imported) on first use."""
        return create_db_engine(self.url, read_only=self._read_only)

    @property
    def integrity_error(self) -> type[Exception]:
        """The driver's IntegrityError, which ``connect`` lets through (a unique key broken)."""
        if self.dialect == "sqlite":
            import sqlite3

            return sqlite3.IntegrityError
        error: type[Exception] = self.engine.dialect.loaded_dbapi.IntegrityError
        return error

    @contextmanager
    def connect(self, *, write: bool = False) -> Iterator[Connection]:
        """One transaction on a DB-API connection, committed if ``write`` and nothing failed,
        rolled back otherwise. ``write=True`` on SQLite takes the write lock from the start
        (BEGIN IMMEDIATE), as ``session(write=True)`` does.

        A SQLite connection is kept per thread until ``dispose``, as a pool would: closing the
        last one checkpoints the WAL into the file, which on every publish of a folder (or of a
        script's loop) would cost a sync each time.
        """
        pooled = own = None
        raw: Any
        if self._path is None:  # PostgreSQL (or a SQLite URL with no file): the engine's driver
            pooled = self.engine.raw_connection()
            raw = pooled.driver_connection
            if self.dialect == "sqlite":
                raw.isolation_level = None  # transactions begun below, not by the module
        else:
            raw = getattr(self._local, "sqlite", None)
            if raw is None:
                raw = self._local.sqlite = self._open_sqlite(self._path)
                with self._opened_lock:
                    self._opened.append(raw)
            if raw.in_transaction:  # inside another connect(): a connection of its own
                raw = own = self._open_sqlite(self._path)
        try:
            if self.dialect == "sqlite":
                raw.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            yield Connection(raw, self.dialect)
            if write:
                raw.commit()
        finally:
            raw.rollback()  # nothing is left open: a read's snapshot ends, a failed write is undone
            if pooled is not None:
                pooled.close()
            if own is not None:
                own.close()

    def _open_sqlite(self, path: Path) -> sqlite3.Connection:
        import sqlite3

        # Any thread: dispose closes the connection of every thread that used this database.
        if self._read_only:
            conn = connect_read_only(path, any_thread=True)
            conn.isolation_level = None  # transactions are begun by connect, not by the module
            return conn
        # mode=rw: a file deleted under us is an error, never a new empty database.
        conn = sqlite3.connect(
            path.absolute().as_uri() + "?mode=rw",
            uri=True,
            timeout=LOCK_WAIT_S,
            check_same_thread=False,
        )
        sqlite_pragmas(conn)
        return conn

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A session; ``write=True`` for one that writes (on SQLite it locks from the start)."""
        from sqlmodel import Session

        bind = self.engine.execution_options(sqlite_begin="IMMEDIATE") if write else self.engine
        with Session(bind, expire_on_commit=False) as session:
            yield session

    def dispose(self) -> None:
        """Close every thread's SQLite connection and the engine's pool (if it was made)."""
        with self._opened_lock:
            opened, self._opened = self._opened, []
        self._local = threading.local()
        for conn in opened:
            conn.close()
        if "engine" in self.__dict__:  # never made: nothing to close
            self.engine.dispose()


def _at_head(path: Path) -> bool:
    import sqlite3

    try:
        with closing(connect_read_only(path)) as conn:
            revision, tables = sqlite_schema(conn)
    except sqlite3.Error:
        return False  # not readable as SQLite: the usual open says why, in one line
    if revision is None and tables:
        raise not_a_registry(str(path), tables)
    return revision == SCHEMA_HEAD
