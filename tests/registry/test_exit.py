"""How ``registry`` ends: without the interpreter's teardown, yet as ``sys.exit`` would.

Every case runs ``registry.cli.main`` in a process of its own, as the installed command does.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, SEED, Cli

NAME = "backend-logic-implementer"


def registry(db: str, *args: str, before: str = "") -> subprocess.CompletedProcess[bytes]:
    """``registry --db DB ARGS`` through ``main``, after the Python lines ``before``."""
    script = (
        "import sys\n"
        f"{before}\n"
        "from registry.cli import main\n"
        f"sys.argv = ['registry', '--db', {db!r}, *sys.argv[1:]]\n"
        "main()\n"
    )
    return subprocess.run(
        [sys.executable, "-c", script, *args], cwd=REPO, capture_output=True, timeout=120
    )


def test_output_and_status_are_all_there(sqlite_cli: Cli) -> None:
    sqlite_cli.ok("publish", str(SEED))
    shown = registry(sqlite_cli.db, "export", NAME)
    assert shown.returncode == 0 and shown.stdout == SEED.read_bytes()
    listed = registry(sqlite_cli.db, "list", "--json")
    assert listed.returncode == 0 and [a["name"] for a in json.loads(listed.stdout)] == [NAME]
    missing = registry(sqlite_cli.db, "show", "no-such-agent")
    assert missing.returncode != 0 and missing.stdout == b""
    assert missing.stderr.decode().startswith("registry: error:")
    usage = registry(sqlite_cli.db, "show")  # click's own usage error
    assert usage.returncode == 2 and b"Missing argument" in usage.stderr


def test_exit_handlers_still_run_and_keep_the_status(sqlite_cli: Cli) -> None:
    handler = "import atexit; atexit.register(lambda: print('handler ran', file=sys.stderr))"
    done = registry(sqlite_cli.db, "show", "no-such-agent", before=handler)
    assert done.returncode == 1
    assert done.stderr.decode().splitlines()[-1] == "handler ran"


def test_a_thread_still_working_is_waited_for(sqlite_cli: Cli) -> None:
    worker = (
        "import threading, time\n"
        "threading.Thread(target=lambda: (time.sleep(0.5), print('thread done'))).start()"
    )
    done = registry(sqlite_cli.db, "list", before=worker)
    assert done.returncode == 0
    assert done.stdout.decode().splitlines()[-1] == "thread done"


def test_the_database_is_closed_and_whole_after_a_write(sqlite_cli: Cli, tmp_path: Path) -> None:
    db = str(tmp_path / "fresh.db")
    assert registry(db, "publish", str(SEED)).returncode == 0
    # Closed on exit: SQLite removed its write-ahead log, every row is in the file itself.
    assert not Path(db + "-wal").exists()
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT name FROM agent").fetchall() == [(NAME,)]


def test_a_message_given_to_exit_is_shown_with_status_one() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from registry.cli import exit_now; exit_now('stopped: why')"],
        cwd=REPO,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 1 and done.stderr == b"stopped: why\n"
