"""What every command needs: the database it was pointed at, and JSON or byte-exact output."""

from __future__ import annotations

import json
import re
import sys
from dataclasses import asdict, is_dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from core.errors import NotFoundError
from core.terminal import visible
from registry.database import database_exists, database_url, sqlite_path

if TYPE_CHECKING:
    from registry.database import Database
    from registry.store import Registry

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def db_url(ctx: click.Context) -> str:
    return database_url((ctx.obj or {}).get("db"))


def open_database(ctx: click.Context, *, create: bool = True, read_only: bool = False) -> Database:
    """The registry; ``create=False`` refuses to make a new one, ``read_only=True`` (commands
    that only read) also reads a registry on a read-only file or folder."""
    from registry.database import Database

    url = db_url(ctx)
    if not create and not database_exists(url):
        raise NotFoundError(f"no registry at {sqlite_path(url)}")
    db = Database(url, read_only=read_only)
    # Closed when the command ends, not whenever the object is collected: closing the last
    # connection checkpoints the WAL, which must not happen after the command has returned.
    ctx.call_on_close(db.dispose)
    return db


def open_registry(ctx: click.Context, *, create: bool = True, read_only: bool = False) -> Registry:
    from registry.store import Registry

    return Registry(open_database(ctx, create=create, read_only=read_only))


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, set | tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


# What json.dumps leaves raw with ensure_ascii=False and a terminal may still obey.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def emit_json(value: Any) -> None:
    text = json.dumps(value, default=_default, indent=2, ensure_ascii=False)
    click.echo(_JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text))


def echo(text: str = "", *, err: bool = False, nl: bool = True) -> None:
    """``click.echo`` of text from files or the database, its control characters made visible."""
    click.echo(visible(text), err=err, nl=nl)


def emit_bytes(data: bytes) -> None:
    """Write ``data`` to stdout unchanged (no decoding, no newline added)."""
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
