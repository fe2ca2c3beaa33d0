"""Apply the SQL files of `migrations/` in order, each once."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
NAME = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")


def available(folder: Path = MIGRATIONS) -> list[tuple[int, Path]]:
    found = []
    for path in folder.glob("*.sql"):
        match = NAME.fullmatch(path.name)
        if match is None:
            raise ValueError(f"migration file name {path.name!r} is not NNNN_description.sql")
        found.append((int(match.group(1)), path))
    found.sort()
    versions = [version for version, _ in found]
    if len(set(versions)) != len(versions):
        raise ValueError("two migrations share a version number")
    return found


def applied(conn: sqlite3.Connection) -> set[int]:
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)")
    return {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}


def migrate(
    conn: sqlite3.Connection, folder: Path = MIGRATIONS, target: int | None = None
) -> list[int]:
    """Apply every migration not applied yet (up to `target`); the versions applied."""
    done = applied(conn)
    ran = []
    for version, path in available(folder):
        if version in done or (target is not None and version > target):
            continue
        script = path.read_text()
        conn.executescript(
            f"BEGIN;\n{script}\nINSERT INTO schema_migrations VALUES ({version});\nCOMMIT;"
        )
        ran.append(version)
    return ran
