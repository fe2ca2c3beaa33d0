"""What a run says or refuses before spending, and how it ends: graders, progress, limits."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import Cli
from tests.experiments.test_checks import SLOW_MODULE
from tests.experiments.test_runner import _setup
from tests.fake_anthropic import DEFAULT_KEY, Text, fake_anthropic, http_error

UNGRADED = """\
tasks:
  - id: hash-passwords
    prompt: "How should I store passwords?"
    reference: ["bcrypt or argon2"]
  - id: status-codes
    prompt: "Which status code for a duplicate email?"
"""


def dead_owner() -> str:
    """The owner of a run whose process is gone: this host, the pid of a process that exited."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return f"{socket.gethostname()}:{proc.pid}"


def _ungraded(cli: Cli, tmp_path: Path, tasks: str = UNGRADED, extra: str = "") -> Path:
    spec = _setup(cli, tmp_path, extra=extra)
    (tmp_path / "tasks.yaml").write_text(tasks)
    return spec


def test_a_run_with_no_grader_is_refused_before_anything_is_stored(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    spec = _ungraded(sqlite_cli, tmp_path)
    result = sqlite_cli("run", str(spec), "--quiet")
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "nothing would be measured" in lines[0]
    assert "graders: [{type: rubric_judge}]" in lines[0] and "--ungraded" in lines[0]
    assert json.loads(sqlite_cli.ok("experiments", "--json").stdout) == []


def test_the_dry_run_warns_and_ungraded_forces_the_run(sqlite_cli: Cli, tmp_path: Path) -> None:
    spec = _ungraded(sqlite_cli, tmp_path)
    dry = sqlite_cli.ok("run", str(spec), "--dry-run")
    assert (
        dry.stderr.startswith("warning: nothing would be measured") and "rubric_judge" in dry.stderr
    )
    forced = json.loads(sqlite_cli.ok("run", str(spec), "--ungraded", "--json").stdout)
    assert forced["status"] == "completed"


def test_without_reference_points_the_hint_names_where_graders_go(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    tasks = 'tasks:\n  - id: one\n    prompt: "Say hi."\n'
    spec = _ungraded(sqlite_cli, tmp_path, tasks)
    result = sqlite_cli("run", str(spec))
    assert result.exit_code == 1 and "rubric_judge" not in result.stderr
    assert f"add `graders:` to {spec}" in result.stderr


def test_a_grader_in_the_spec_or_on_some_tasks_is_enough(sqlite_cli: Cli, tmp_path: Path) -> None:
    spec = _ungraded(sqlite_cli, tmp_path, extra="graders:\n  - {type: length, max_chars: 2000}\n")
    # Only the design warning (two tasks detect nothing), no grading warning.
    stderr = sqlite_cli.ok("run", str(spec), "--dry-run").stderr
    assert (
        stderr.startswith("warning: 2 tasks cannot detect any effect") and stderr.count("\n") == 1
    )
    partly = UNGRADED + "    graders: [{type: regex, pattern: '409'}]\n"
    (tmp_path / "tasks.yaml").write_text(partly)
    spec.write_text(spec.read_text().split("graders:")[0])
    result = sqlite_cli.ok("run", str(spec), "--quiet", "--json")
    assert "1 of 2 tasks have no grader" in result.stderr and "hash-passwords" in result.stderr


def test_a_pairwise_judge_alone_measures_no_quality(sqlite_cli: Cli, tmp_path: Path) -> None:
    spec = _ungraded(sqlite_cli, tmp_path, extra="graders:\n  - {type: pairwise, model: haiku}\n")
    assert "nothing would be measured" in sqlite_cli("run", str(spec)).stderr


def test_progress_without_a_terminal_is_whole_lines(sqlite_cli: Cli, tmp_path: Path) -> None:
    spec = _setup(sqlite_cli, tmp_path)
    lines = sqlite_cli.ok("run", str(spec)).stderr.strip().splitlines()
    assert (
        lines[0]
        == "experiment 1 exp (SIMULATED): 0/12 trials, 0 failed, $0.0000, 0:00:00 elapsed, ETA ?"
    )
    assert lines[-1].startswith("experiment 1 exp (SIMULATED): 12/12 trials, 0 failed, $")
    assert all("…" not in line and " trials, " in line for line in lines)


def test_plain_progress_prints_each_tenth_or_every_few_seconds(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from experiments.commands import PLAIN_PROGRESS_EVERY_S, _plain_progress
    from experiments.run_state import RunState

    now = [0.0]
    update = _plain_progress("exp", clock=lambda: now[0])
    state = RunState(total=1000, started=0.0)
    for done in range(0, 1001):
        state.done = done
        now[0] = done * 0.01  # ten seconds in all: only the tenths print
        update(state)
    update(state)  # the runner reports the final state once more
    printed = capsys.readouterr().err.splitlines()
    assert [line.split(": ")[1].split(" ")[0] for line in printed] == [
        f"{n}/1000" for n in range(0, 1001, 100)
    ]
    assert printed[5] == "exp: 500/1000 trials, 0 failed, $0.0000, 0:00:05 elapsed, ETA 0:00:05"

    update = _plain_progress("slow", clock=lambda: now[0])
    state = RunState(total=1000, started=0.0)
    now[0] = 0.0
    update(state)
    for done in range(1, 50):
        state.done = done
        now[0] = done * PLAIN_PROGRESS_EVERY_S / 10
        update(state)
    assert len(capsys.readouterr().err.splitlines()) == 1 + 4  # at 10, 20, 30 and 40 s


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            "max_cost_usd: .nan\n",
            "max_cost_usd: must be a positive number of dollars (not NaN or infinity)",
        ),
        (
            "max_cost_usd: .inf\n",
            "max_cost_usd: must be a positive number of dollars (not NaN or infinity)",
        ),
        (f"seed: {2**200}\n", f"seed: must be a whole number from {-(2**63)} to {2**63 - 1}"),
        ("decision: {effect_of_interest: .nan}\n", "decision.effect_of_interest: must be a finite"),
        ("decision: {guardrails: {cost: .nan}}\n", "decision.guardrails.cost: must be a finite"),
        ("decision: {alpha: .inf}\n", "decision.alpha: must be a finite number"),
    ],
)
def test_numbers_out_of_range_are_one_precise_line(
    sqlite_cli: Cli, tmp_path: Path, extra: str, expected: str
) -> None:
    spec = _setup(sqlite_cli, tmp_path, extra=extra)
    if extra.startswith("seed:"):
        spec.write_text(spec.read_text().replace("seed: 7\n", ""))
    for args in (("--dry-run",), ("--quiet",)):
        result = sqlite_cli("run", str(spec), *args)
        assert result.exit_code == 1 and "unexpected" not in result.stderr
        assert result.stderr.count("\n") == 1 and expected in result.stderr
    assert json.loads(sqlite_cli.ok("experiments", "--json").stdout) == []


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0"])
def test_max_cost_on_the_command_line_must_be_a_finite_budget(
    sqlite_cli: Cli, tmp_path: Path, value: str
) -> None:
    spec = _setup(sqlite_cli, tmp_path)
    result = sqlite_cli("run", str(spec), "--quiet", "--max-cost", value)
    assert result.exit_code == 1
    assert result.stderr == (
        f"registry: error: --max-cost must be a positive number of dollars (not NaN or infinity), "
        f"got {float(value)}\n"
    )


def test_ids_and_seeds_past_64_bits_are_usage_errors_not_crashes(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    spec = _setup(sqlite_cli, tmp_path)
    sqlite_cli.ok("run", str(spec), "--quiet")
    huge = str(2**200)
    result = sqlite_cli("run", str(spec), "--resume", huge)
    assert (
        result.exit_code == 2 and "--resume" in result.stderr and "Traceback" not in result.stderr
    )
    result = sqlite_cli("report", "1", "--seed", huge)
    assert result.exit_code == 2 and "--seed" in result.stderr
    result = sqlite_cli("report", huge)
    assert (
        result.exit_code == 1
        and result.stderr == f"registry: error: no experiment with id {huge}\n"
    )


PY_TASKS = """\
tasks:
  - id: hash-passwords
    prompt: "How should I store passwords?"
    reference: ["bcrypt or argon2"]
    graders:
      - {type: python, name: py, function: "my_checks.py:score"}
"""


def _python_graded(cli: Cli, tmp_path: Path) -> Path:
    spec = _ungraded(cli, tmp_path, PY_TASKS)
    (tmp_path / "my_checks.py").write_text("def score(text, task):\n    return 0.5\n")
    (tmp_path / "evil.py").write_text(
        f"open({str(tmp_path / 'ran')!r}, 'w').close()\ndef score(text, task):\n    return 1.0\n"
    )
    return spec


def _point_stored_grader_at(db: str, function: str) -> None:
    import sqlite3

    with sqlite3.connect(db) as conn:
        (raw,) = conn.execute("SELECT graders FROM experiment_task").fetchone()
        graders = json.loads(raw)
        graders[0]["params"]["function"] = function
        conn.execute("UPDATE experiment_task SET graders = ?", (json.dumps(graders),))


def test_a_python_grader_named_only_by_stored_rows_never_runs(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    spec = _python_graded(sqlite_cli, tmp_path)
    out = json.loads(sqlite_cli.ok("run", str(spec), "--json").stdout)
    assert out["status"] == "completed"
    # the user's own spec declares the same grader with the same code: it may run again
    sqlite_cli.ok("grade", "1", "--spec", str(spec))
    refused = sqlite_cli("grade", "1")
    assert refused.exit_code == 1 and refused.stderr.count("\n") == 1
    assert "python grader 'py' (my_checks.py:score) is named by the database" in refused.stderr
    assert "--spec SPEC" in refused.stderr

    # a teammate with write access to the database points the grader elsewhere
    _point_stored_grader_at(sqlite_cli.db, "evil.py:score")
    for args in (("grade", "1"), ("grade", "1", "--spec", str(spec))):
        result = sqlite_cli(*args)
        assert result.exit_code == 1 and "(evil.py:score) is named by the database" in result.stderr
    result = sqlite_cli("run", str(spec), "--resume", "1")
    assert result.exit_code == 1 and f"declare it, unchanged, in {spec}" in result.stderr
    assert not (tmp_path / "ran").exists()


def test_another_experiments_spec_is_refused_by_resume_and_grade(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    spec = _python_graded(sqlite_cli, tmp_path)
    sqlite_cli.ok("run", str(spec), "--quiet")
    other = tmp_path / "other.yaml"
    other.write_text(spec.read_text().replace("name: ", "name: other-", 1))
    name = yaml.safe_load(spec.read_text())["name"]
    for args in (("run", str(other), "--resume", "1"), ("grade", "1", "--spec", str(other))):
        line = sqlite_cli.one_error_line(*args)
        assert line == f"registry: error: experiment 1 is {name!r}, but {other} is 'other-{name}'"
    assert not (tmp_path / "ran").exists()


def test_a_python_grader_whose_file_changed_since_the_plan_is_refused(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    spec = _python_graded(sqlite_cli, tmp_path)
    sqlite_cli.ok("run", str(spec), "--quiet")
    (tmp_path / "my_checks.py").write_text("def score(text, task):\n    return 1.0\n")
    result = sqlite_cli("grade", "1", "--spec", str(spec))
    assert result.exit_code == 1 and "not by your files with the same code" in result.stderr


def _closed_port_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there any more: connections are refused


def test_an_unreachable_api_stops_the_run_and_resume_finishes_it(
    sqlite_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from experiments.runner import UNREACHABLE_CELLS

    spec = _setup(sqlite_cli, tmp_path, provider="anthropic", epochs=8, extra="max_attempts: 2\n")
    monkeypatch.setenv("ANTHROPIC_API_KEY", DEFAULT_KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", _closed_port_url())
    result = sqlite_cli("run", str(spec), "--json")
    assert result.exit_code == 3
    out = json.loads(result.stdout)
    assert out["status"] == "stopped" and out["total"] == 48
    assert out["note"].startswith(f"the API is unreachable: {UNREACHABLE_CELLS} trials in a row")
    assert "connection to the Anthropic API failed" in out["note"] and out["note"].endswith(
        "resume"
    )
    assert out["failed"] == out["trials"] < 48 and out["trials"] <= UNREACHABLE_CELLS + 4
    with fake_anthropic(default=Text("bcrypt 409 backoff idempotency")) as fake:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.base_url)
        again = sqlite_cli("run", str(spec), "--resume", str(out["experiment"]), "--json")
    assert again.exit_code == 0
    assert json.loads(again.stdout)["status"] == "completed"


@contextlib.contextmanager
def _dropping_port_url() -> Iterator[str]:
    """A port whose connections are never made: its accept queue is full, so the kernel drops
    every further SYN, as a firewall that drops packets does."""
    with socket.socket() as server, socket.socket() as queued:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        queued.connect(server.getsockname())  # never accepted: the queue stays full
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


def test_an_api_that_drops_connections_stops_the_run_within_the_connect_timeout(
    sqlite_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    import experiments.providers.anthropic_sdk as sdk

    monkeypatch.setattr(sdk, "CONNECT_TIMEOUT_S", 0.2)  # 10 s: the test would take a minute
    spec = _setup(sqlite_cli, tmp_path, provider="anthropic", epochs=8, extra="max_attempts: 2\n")
    monkeypatch.setenv("ANTHROPIC_API_KEY", DEFAULT_KEY)
    with _dropping_port_url() as url:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", url)
        started = time.monotonic()
        result = sqlite_cli("run", str(spec), "--json")
        assert time.monotonic() - started < 20
    assert result.exit_code == 3
    out = json.loads(result.stdout)
    assert out["status"] == "stopped" and out["note"].startswith("the API is unreachable: ")
    assert "APITimeoutError" in out["note"] and out["trials"] < 48


def test_exit_codes_say_whether_every_trial_has_an_answer(
    sqlite_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = _setup(sqlite_cli, tmp_path, provider="anthropic", epochs=1, extra="max_attempts: 1\n")
    monkeypatch.setenv("ANTHROPIC_API_KEY", DEFAULT_KEY)
    good = Text("bcrypt 409 backoff idempotency")
    with fake_anthropic([http_error(500)], default=good) as fake:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.base_url)
        incomplete = sqlite_cli("run", str(spec))
        assert (
            incomplete.exit_code == 3 and ": incomplete, 6/6 trials, 1 failed" in incomplete.stdout
        )
        stopped = sqlite_cli("run", str(spec), "--quiet", "--max-cost", "0.000001")
        assert stopped.exit_code == 0 and ": stopped, 0/6 trials" in stopped.stdout


@pytest.mark.parametrize("batch", [False, True])
def test_a_key_echoed_in_a_successful_answer_is_never_stored(
    sqlite_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch: bool
) -> None:
    from tests.experiments.test_runner import _fast_polls

    spec = _setup(sqlite_cli, tmp_path, provider="anthropic", epochs=1, extra="cache: true\n")
    echo = Text(f"bcrypt 409 backoff idempotency; your key is {DEFAULT_KEY}!", chunks=7)
    with fake_anthropic(default=echo, batch_polls=0) as fake:
        monkeypatch.setenv("ANTHROPIC_API_KEY", DEFAULT_KEY)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.base_url)
        import experiments.batch as batch_module

        monkeypatch.setattr(batch_module, "run_batch", _fast_polls(batch_module.run_batch))
        args = ("run", str(spec), "--json", *(("--batch",) if batch else ()))
        out = json.loads(sqlite_cli.ok(*args).stdout)
    assert out["status"] == "completed"
    import sqlite3

    with sqlite3.connect(sqlite_cli.db) as conn:
        answers = [r[0] for r in conn.execute("SELECT response_text FROM trial")]
        conn.execute("VACUUM")  # no freed page keeps an old copy
    assert answers and all(a.endswith("your key is [redacted]!") for a in answers)
    assert DEFAULT_KEY.encode() not in Path(sqlite_cli.db).read_bytes()


def test_scrub_response_reaches_tool_inputs() -> None:
    from experiments.providers.anthropic_sdk import scrub_response
    from experiments.providers.base import ModelResponse, ToolUse, Usage

    response = ModelResponse(
        "k=SECRET", "end_turn", Usage(), "m", 0.1, None, "req-SECRET",
        (ToolUse("t", {"a": ["x SECRET", {"SECRET": 1}], "n": 2}),),
    )  # fmt: skip
    clean = scrub_response(response, "SECRET")
    assert (clean.text, clean.request_id) == ("k=[redacted]", "req-[redacted]")
    assert clean.tool_calls[0].input == {"a": ["x [redacted]", {"[redacted]": 1}], "n": 2}


def test_the_dry_run_says_when_the_design_cannot_detect_the_effect_of_interest(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    spec = _setup(sqlite_cli, tmp_path)  # 3 tasks x 2 epochs, effect of interest 0.05
    stderr = sqlite_cli.ok("run", str(spec), "--dry-run").stderr
    assert "warning: 3 tasks cannot detect any effect (the primary test's smallest p is 0.25" in (
        stderr
    )
    assert "tasks would detect the effect of interest 0.05" in stderr
    dry = json.loads(sqlite_cli.ok("run", str(spec), "--dry-run", "--json").stdout)
    assert dry["dry_run"] is True  # the warning goes to stderr; the JSON is unchanged


def test_liveness_tells_a_killed_run_from_one_in_progress() -> None:
    from datetime import UTC, datetime, timedelta

    from experiments.run_state import STALE_AFTER, liveness

    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    fresh, stale = now - timedelta(seconds=5), now - STALE_AFTER - timedelta(seconds=1)

    def shown(status: str, owner: str | None, beat: datetime | None, alive: bool = True) -> str:
        return liveness(status, owner, beat, stale, now, host="here", alive=lambda pid: alive)

    assert shown("running", "here:42", fresh) == "running"
    assert shown("running", "here:42", fresh, alive=False) == "interrupted"
    assert shown("running", "there:42", fresh, alive=False) == "running"  # another host's pid
    assert shown("running", "there:42", stale) == "interrupted"
    assert shown("running", None, None) == "interrupted"  # before heartbeats: the start counts
    assert shown("completed", "here:42", stale, alive=False) == "completed"


SLEEPY_TASKS = """\
tasks:
  - id: hash-passwords
    prompt: "How should I store passwords?"
    reference: ["bcrypt or argon2"]
    graders:
      - {type: python, name: sleepy, function: "sleepy.py:FUNCTION", timeout: 0.3}
  - id: status-codes
    prompt: "Which status code for a duplicate email?"
    graders:
      - {type: length, min_chars: 1}
"""


@pytest.mark.parametrize("function", ["sleeps", "async_sleeps"])
def test_a_python_grader_that_sleeps_past_its_timeout_is_a_grade_error_and_the_run_ends(
    sqlite_cli: Cli, tmp_path: Path, function: str
) -> None:
    import sqlite3
    import time

    spec = _ungraded(sqlite_cli, tmp_path, SLEEPY_TASKS.replace("FUNCTION", function))
    spec.write_text(spec.read_text().replace("epochs: 2", "epochs: 4"))
    (tmp_path / "sleepy.py").write_text(SLOW_MODULE)
    started = time.monotonic()
    out = json.loads(sqlite_cli.ok("run", str(spec), "--json").stdout)
    # 16 trials, 8 of them graded by a 5 s sleeper: run one after the other (or with the loop
    # blocked), that would be 40 s at least.
    assert time.monotonic() - started < 10
    assert (out["status"], out["trials"], out["failed"]) == ("completed", 16, 0)
    with sqlite3.connect(sqlite_cli.db) as conn:
        rows = conn.execute(
            "SELECT t.task_id, g.grader, g.score, g.error FROM grade g JOIN trial t"
            " ON g.trial_id = t.id"
        ).fetchall()
    sleepy = [r for r in rows if r[1] == "sleepy"]
    assert len(sleepy) == 8 and {r[0] for r in sleepy} == {"hash-passwords"}
    timed_out = f"sleepy.py:{function} did not return within 0.3 s"
    assert all(r[2] is None and r[3] == timed_out for r in sleepy)
    others = [r for r in rows if r[0] == "status-codes"]
    assert len(others) == 8 and all(r[2] is not None and r[3] is None for r in others)
