"""The experiment engine through the CLI: the real SDK against the loopback fake, and simulated."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, Cli
from tests.fake_anthropic import (
    DEFAULT_KEY,
    FakeAnthropic,
    RecordedRequest,
    StreamError,
    Text,
    fake_anthropic,
    http_error,
)

AGENT = "---\nname: helper\ndescription: Use this agent to help.\nmodel: {model}\n---\n{body}\n"
TASKS = """\
tasks:
  - id: hash-passwords
    prompt: "How should I store passwords?"
    reference: ["bcrypt or argon2", "never plain text"]
    graders:
      - {type: contains, any: ["bcrypt", "argon2"]}
  - id: status-codes
    prompt: "Which status code for a duplicate email?"
    reference: ["409 conflict"]
    graders:
      - {type: regex, pattern: "\\\\b409\\\\b"}
  - id: retries
    prompt: "How do I retry a flaky payment call?"
    reference: ["exponential backoff", "idempotency key"]
    graders:
      - {type: contains, all: ["backoff", "idempotency"]}
"""


def _setup(
    cli: Cli, tmp_path: Path, *, provider: str = "simulated", epochs: int = 2, extra: str = ""
) -> Path:
    (tmp_path / "a.md").write_text(AGENT.format(model="sonnet", body="Be thorough."))
    (tmp_path / "b.md").write_text(AGENT.format(model="haiku", body="Be brief."))
    cli.ok("publish", str(tmp_path / "a.md"), "--label", "base")
    cli.ok("publish", str(tmp_path / "b.md"), "--label", "cheap")
    (tmp_path / "tasks.yaml").write_text(TASKS)
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "name: exp\nvariants:\n  control: helper@base\n  cheap: helper@cheap\ncontrol: control\n"
        f"tasks: tasks.yaml\nepochs: {epochs}\nprovider: {provider}\nseed: 7\nconcurrency: 4\n"
        + extra
    )
    return spec


def _trials(cli: Cli, exp: int) -> list[tuple[str, str, int]]:
    from experiments.store.reads import trial_records
    from registry.database import Database

    db = Database(cli.db)
    try:
        return sorted((t.variant, t.task_id, t.epoch) for t in trial_records(db, exp))
    finally:
        db.dispose()


def _all_cells(epochs: int = 2) -> list[tuple[str, str, int]]:
    return sorted(
        (v, t, e)
        for v in ("control", "cheap")
        for t in ("hash-passwords", "status-codes", "retries")
        for e in range(1, epochs + 1)
    )


def test_simulated_run_report_and_listing(cli: Cli, tmp_path: Path) -> None:
    spec = _setup(cli, tmp_path)
    dry = json.loads(cli.ok("run", str(spec), "--dry-run", "--json").stdout)
    assert dry["calls"] == 12 and dry["estimated_cost_usd"] > 0
    assert json.loads(cli.ok("experiments", "--json").stdout) == []  # a dry run stores nothing

    out = json.loads(cli.ok("run", str(spec), "--json").stdout)
    assert out["status"] == "completed" and out["trials"] == 12 and out["failed"] == 0
    assert _trials(cli, out["experiment"]) == _all_cells()
    listed = json.loads(cli.ok("experiments", "--json").stdout)
    assert [(e["id"], e["name"], e["status"], e["trials"], e["total"]) for e in listed] == [
        (out["experiment"], "exp", "completed", 12, 12)
    ]
    report = json.loads(cli.ok("report", str(out["experiment"]), "--json").stdout)
    assert report["experiment"]["provider"] == "simulated" and report["experiment"]["simulated"]
    assert report["experiment"]["tasks"] == 3 and report["experiment"]["epochs"] == 2
    assert {v["label"]: v["trials"] for v in report["variants"]} == {"control": 6, "cheap": 6}
    assert report["comparisons"][0]["variant"] == "cheap"
    assert report["verdict"]["status"] in ("winner", "no_difference", "inconclusive")
    assert "SIMULATED" in cli.ok("report", "exp").stdout


def test_each_trial_records_its_request_without_the_prompt_text(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    import hashlib

    spec = _setup(sqlite_cli, tmp_path, extra="request: {output_config: {effort: low}}\n")
    sqlite_cli.ok("run", str(spec), "--quiet")
    with sqlite3.connect(sqlite_cli.db) as conn:
        rows = conn.execute("SELECT variant, task_id, request FROM trial").fetchall()
    requests = {(v, t): json.loads(r) for v, t, r in rows}
    sent = requests[("cheap", "status-codes")]
    assert sent == {
        "model": "claude-haiku-5-5",
        "messages": [{"role": "user", "content": "Which status code for a duplicate email?"}],
        "max_tokens": 4096,
        "output_config": {"effort": "low"},
        "system_sha256": hashlib.sha256(b"Be brief.").hexdigest(),
    }


def test_pairwise_judge_in_the_spec_runs_after_the_trials(cli: Cli, tmp_path: Path) -> None:
    spec = _setup(cli, tmp_path, extra="graders:\n  - {type: pairwise, model: haiku}\n")
    out = json.loads(cli.ok("run", str(spec), "--json").stdout)
    report = json.loads(cli.ok("report", str(out["experiment"]), "--json").stdout)
    (row,) = report["pairwise"]["variants"]
    assert (row["variant"], row["vs"]) == ("cheap", "control")
    assert row["wins"] + row["ties"] + row["losses"] + row["errors"] == 6  # 3 tasks x 2 epochs
    assert "pairwise judge" in cli.ok("report", str(out["experiment"])).stdout
    # pairwise grades never enter quality: every trial's quality is its checks' score
    assert all(v["quality"]["mean"] is not None for v in report["variants"])


def test_simulated_runs_are_deterministic_per_seed(cli: Cli, tmp_path: Path) -> None:
    spec = _setup(cli, tmp_path, extra="cache: false\n")
    first = json.loads(cli.ok("run", str(spec), "--json").stdout)["experiment"]
    second = json.loads(cli.ok("run", str(spec), "--json").stdout)["experiment"]
    spec.write_text(spec.read_text().replace("seed: 7", "seed: 8"))
    third = json.loads(cli.ok("run", str(spec), "--json").stdout)["experiment"]

    def answers(exp: int) -> list[str]:
        from registry.database import Database

        db = Database(cli.db)
        with db.engine.connect() as conn:
            rows = conn.exec_driver_sql(
                f"SELECT response_text FROM trial WHERE experiment_id = {exp} "
                "ORDER BY variant, task_id, epoch"
            ).all()
        db.dispose()
        return [r[0] for r in rows]

    assert answers(first) == answers(second)
    assert answers(first) != answers(third)


def test_spec_errors_name_the_field(sqlite_cli: Cli, tmp_path: Path) -> None:
    spec = _setup(sqlite_cli, tmp_path)
    text = spec.read_text()
    cases = [
        (text.replace("epochs: 2", "epochs: 0"), "epochs: must be a whole number from 1"),
        (text.replace("epochs: 2", "epoch: 2"), "epoch: unknown key"),
        (text.replace("control: control", "control: nobody"), "control: 'nobody' is not one"),
        (text.replace("helper@cheap", "helper@gone"), "variants.cheap: helper has no label 'gone'"),
        (text + "request: {temperature: 0.2}\n", "request.temperature: the current Messages API"),
        (text.replace("tasks.yaml", "missing.yaml"), "missing.yaml: cannot read task suite"),
        (text + "max_cost_usd: -1\n", "max_cost_usd: must be a positive number"),
        ("name: [unclosed\n", "spec.yaml:2: invalid YAML"),
    ]
    for content, message in cases:
        spec.write_text(content)
        result = sqlite_cli("run", str(spec))
        assert result.exit_code == 1, content
        assert message in result.stderr, (message, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1
    assert json.loads(sqlite_cli.ok("experiments", "--json").stdout) == []


def test_real_sdk_path_streams_prices_and_retries(
    sqlite_cli: Cli, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    spec = _setup(sqlite_cli, tmp_path, provider="anthropic", epochs=1)
    answer = Text(
        "Use bcrypt with a 409 on conflicts, backoff and an idempotency key.",
        first_token_delay=0.05,
        cache_read_input_tokens=10,
        output_tokens=20,
    )
    script = [http_error(429, **{"retry-after": "0"}), StreamError(), *[answer] * 6]
    with fake_anthropic(script, default=answer) as fake:
        monkeypatch.setenv("ANTHROPIC_API_KEY", DEFAULT_KEY)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.base_url)
        out = json.loads(sqlite_cli.ok("run", str(spec), "--json", "--concurrency", "1").stdout)
        bodies = [r.body for r in fake.requests if r.path == "/v1/messages"]
    assert out["status"] == "completed" and out["trials"] == 6 and out["failed"] == 0
    assert len(bodies) == 8  # 6 cells + a 429 and an overloaded stream retried
    assert all("temperature" not in b and b["stream"] is True for b in bodies)
    assert {b["model"] for b in bodies} == {"claude-sonnet-5-5", "claude-haiku-5-5"}
    conn = sqlite3.connect(sqlite_cli.db)
    rows = conn.execute(
        "SELECT retries, ttft_s, latency_s, cost_usd, cache_read_tokens, output_tokens, quality,"
        " provider FROM trial ORDER BY id"
    ).fetchall()
    assert sum(r[0] for r in rows) == 2
    assert all(r[1] >= 0.05 and r[2] >= r[1] for r in rows)
    assert all(r[3] > 0 and r[4] == 10 and r[5] == 20 and r[7] == "anthropic" for r in rows)
    assert all(r[6] == 1.0 for r in rows)  # every check passes on this answer
    assert DEFAULT_KEY not in json.dumps(out)
    dump = "\n".join(conn.iterdump())
    assert DEFAULT_KEY not in dump  # the key is never stored


HEAVY = ("sqlalchemy", "sqlmodel", "alembic", "scipy", "numpy", "pandas")
# Code a response run without judges has no use for: the other kinds', the judges'.
UNUSED = (
    "experiments.kinds.agentic",
    "experiments.kinds.delegation",
    "experiments.workspace",
    "experiments.claude_code_runtime",
    "experiments.sessions.sandbox",
    "experiments.routers.registry",
    "experiments.graders.judge",
    "experiments.graders.pairwise",
)
# `registry run ARGS...`, then the heavy packages and unused modules it loaded, as the last
# line of stderr.
LOADED = (
    "import atexit, sys\n"
    f"heavy, unused = {HEAVY!r}, {UNUSED!r}\n"
    "atexit.register(lambda: print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy))"
    " + sorted(set(sys.modules) & set(unused)), file=sys.stderr))\n"
    "from registry.cli import main\n"
    "sys.argv = ['registry', *sys.argv[1:]]\n"
    "main()\n"
)


def test_a_run_on_sqlite_imports_neither_the_orm_nor_the_statistics_nor_unused_code(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    spec = _setup(sqlite_cli, tmp_path, provider="anthropic", epochs=1)
    answer = Text("Use bcrypt with a 409 on conflicts, backoff and an idempotency key.")
    with fake_anthropic(default=answer) as fake:
        env = {**os.environ, "ANTHROPIC_API_KEY": DEFAULT_KEY, "ANTHROPIC_BASE_URL": fake.base_url}
        done = subprocess.run(
            [sys.executable, "-c", LOADED, "--db", sqlite_cli.db, "run", str(spec), "--json"],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[]"
    out = json.loads(done.stdout)
    assert out["status"] == "completed" and out["trials"] == 6 and out["failed"] == 0
    # What the plain SQL stored reads back through the ORM: the report, and every trial's cell.
    report = json.loads(sqlite_cli.ok("report", str(out["experiment"]), "--json").stdout)
    assert {v["label"]: v["trials"] for v in report["variants"]} == {"control": 3, "cheap": 3}
    assert _trials(sqlite_cli, out["experiment"]) == _all_cells(epochs=1)
    listed = json.loads(sqlite_cli.ok("experiments", "--json").stdout)
    assert [(e["status"], e["trials"], e["total"]) for e in listed] == [("completed", 6, 6)]


@pytest.mark.parametrize(
    ("status", "message"),
    [(401, "ANTHROPIC_API_KEY"), (404, "not found"), (400, "rejected the request (400")],
)
def test_client_errors_fail_fast(
    sqlite_cli: Cli, tmp_path: Path, monkeypatch, status: int, message: str
) -> None:  # type: ignore[no-untyped-def]
    spec = _setup(sqlite_cli, tmp_path, provider="anthropic", epochs=1)
    with fake_anthropic(default=http_error(status)) as fake:
        monkeypatch.setenv("ANTHROPIC_API_KEY", DEFAULT_KEY)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.base_url)
        result = sqlite_cli("run", str(spec), "--quiet", "--concurrency", "1")
        calls = fake.message_calls
    assert result.exit_code == 1
    assert message.lower() in result.stderr.lower()
    assert len(result.stderr.strip().splitlines()) == 1
    assert calls <= 2  # no retries on a client error
    listed = json.loads(sqlite_cli.ok("experiments", "--json").stdout)
    assert listed[0]["status"] == "failed"


def test_missing_key_names_the_variable(sqlite_cli: Cli, tmp_path: Path) -> None:
    spec = _setup(sqlite_cli, tmp_path, provider="anthropic", epochs=1)
    result = sqlite_cli("run", str(spec))
    assert result.exit_code == 1 and "ANTHROPIC_API_KEY" in result.stderr
    assert json.loads(sqlite_cli.ok("experiments", "--json").stdout) == []


def test_budget_stops_between_whole_task_rows(sqlite_cli: Cli, tmp_path: Path) -> None:
    spec = _setup(sqlite_cli, tmp_path, epochs=2)
    dry = json.loads(sqlite_cli.ok("run", str(spec), "--dry-run", "--json").stdout)
    budget = dry["estimated_cost_usd"] * 0.5  # room for about half the task rows
    out = json.loads(
        sqlite_cli.ok("run", str(spec), "--json", "--max-cost", f"{budget:.6f}").stdout
    )
    assert out["status"] == "stopped" and "budget" in out["note"]
    assert 0 < out["trials"] < 12 and out["cost_usd"] <= budget
    cells = _trials(sqlite_cli, out["experiment"])
    per_task: dict[str, int] = {}
    for _, task, _ in cells:
        per_task[task] = per_task.get(task, 0) + 1
    assert set(per_task.values()) == {4}  # every started task has all variants and epochs
    resumed = json.loads(
        sqlite_cli.ok(
            "run", str(spec), "--resume", str(out["experiment"]), "--json", "--max-cost", "100"
        ).stdout
    )
    assert resumed["status"] == "completed" and resumed["trials"] == 12
    assert _trials(sqlite_cli, out["experiment"]) == _all_cells()


def test_the_budget_counts_the_judges_spend_and_holds_it_across_resumes(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    judged = "graders:\n  - {type: rubric_judge, model: opus}\n"
    spec = _setup(sqlite_cli, tmp_path, epochs=2, extra=judged)
    whole = json.loads(sqlite_cli.ok("run", str(spec), "--json").stdout)
    assert whole["judge_cost_usd"] > 0.3 * whole["cost_usd"]  # an opus judge of haiku answers
    # Room for every answer, not for every answer and its judge.
    budget = f"{(whole['cost_usd'] + whole['judge_cost_usd']) * 0.8:.6f}"
    out = json.loads(sqlite_cli.ok("run", str(spec), "--json", "--max-cost", budget).stdout)
    assert out["status"] == "stopped" and out["trials"] < 12
    assert out["note"].startswith("budget: $") and " spent (judges $" in out["note"]
    assert out["cost_usd"] + out["judge_cost_usd"] <= float(budget)
    listed = {e["id"]: e for e in json.loads(sqlite_cli.ok("experiments", "--json").stdout)}
    assert listed[out["experiment"]]["judge_cost_usd"] == pytest.approx(out["judge_cost_usd"])
    again = json.loads(
        sqlite_cli.ok(
            "run", str(spec), "--resume", str(out["experiment"]), "--json", "--max-cost", budget
        ).stdout
    )
    assert again["status"] == "stopped" and again["trials"] == out["trials"]
    assert again["judge_cost_usd"] == pytest.approx(out["judge_cost_usd"])  # counted, not spent


def test_a_resumed_run_counts_the_judges_spend_but_not_the_pairwise_one(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    graders = (
        "graders:\n  - {type: rubric_judge, model: haiku}\n  - {type: pairwise, model: opus}\n"
    )
    spec = _setup(sqlite_cli, tmp_path, epochs=1, extra=graders)
    first = json.loads(sqlite_cli.ok("run", str(spec), "--json").stdout)
    again = json.loads(sqlite_cli.ok("run", str(spec), "--resume", "1", "--json").stdout)
    assert first["judge_cost_usd"] > 0 and again["trials"] == first["trials"] == 6
    assert again["judge_cost_usd"] == pytest.approx(first["judge_cost_usd"])
    listed = json.loads(sqlite_cli.ok("experiments", "--json").stdout)[0]
    assert listed["judge_cost_usd"] > first["judge_cost_usd"]  # the pairwise judge's, shown
    with sqlite3.connect(sqlite_cli.db) as db:
        (pairs,) = db.execute("SELECT count(*) FROM grade WHERE grader = 'pairwise'").fetchone()
    assert pairs == 3  # 3 tasks x 1 variant against the control, once: the resume paid nothing
    again_listed = json.loads(sqlite_cli.ok("experiments", "--json").stdout)[0]
    assert again_listed["judge_cost_usd"] == pytest.approx(listed["judge_cost_usd"])


def test_the_dry_run_counts_the_judge_calls_and_their_cost(sqlite_cli: Cli, tmp_path: Path) -> None:
    bare = _setup(sqlite_cli, tmp_path, epochs=2)
    without = json.loads(sqlite_cli.ok("run", str(bare), "--dry-run", "--json").stdout)
    assert (without["judge_calls"], without["estimated_judge_cost_usd"]) == (0, 0)
    judged = tmp_path / "judged.yaml"
    judged.write_text(
        bare.read_text() + "graders:\n  - {type: rubric_judge, model: opus, epochs: 2}\n"
    )
    dry = json.loads(sqlite_cli.ok("run", str(judged), "--dry-run", "--json").stdout)
    assert dry["judge_calls"] == 3 * 2 * 2 * 2  # tasks x variants x epochs x judge epochs
    answers = sum(v["cost_usd"] for v in dry["variants"])
    assert answers == pytest.approx(without["estimated_cost_usd"])
    assert dry["estimated_cost_usd"] == pytest.approx(answers + dry["estimated_judge_cost_usd"])
    text = sqlite_cli.ok("run", str(judged), "--dry-run").stdout
    assert "judges" in text and "24 calls" in text and ", judges ~$" in text
    run = json.loads(sqlite_cli.ok("run", str(judged), "--json").stdout)
    # An estimate for 800-token answers; the simulated ones are shorter: the same order.
    assert 0.2 < run["judge_cost_usd"] / dry["estimated_judge_cost_usd"] < 2


def test_cache_hits_are_marked_billed_nothing_and_comparable(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    spec = _setup(sqlite_cli, tmp_path)
    first = json.loads(sqlite_cli.ok("run", str(spec), "--json").stdout)
    fresh = json.loads(sqlite_cli.ok("run", str(spec), "--json").stdout)
    assert fresh["cached"] == 0  # the cache is off unless asked for: new samples each run
    second = json.loads(sqlite_cli.ok("run", str(spec), "--json", "--cache").stdout)
    assert first["cached"] == 0 and second["cached"] == 12 and second["cost_usd"] == 0
    reports = [
        json.loads(sqlite_cli.ok("report", str(e["experiment"]), "--json").stdout)
        for e in (first, second)
    ]
    # a cache hit costs what its answer cost, so cost comparisons still hold...
    assert [v["cost"]["mean"] for v in reports[1]["variants"]] == pytest.approx(
        [v["cost"]["mean"] for v in reports[0]["variants"]]
    )
    # ...but it was not billed, and its latency is kept out of the figures
    listed = {e["id"]: e for e in json.loads(sqlite_cli.ok("experiments", "--json").stdout)}
    assert listed[second["experiment"]]["cost_usd"] == 0
    assert listed[first["experiment"]]["cost_usd"] == pytest.approx(first["cost_usd"], abs=1e-6)
    assert all(v["latency"]["p50"] is None for v in reports[1]["variants"])


def test_two_labels_of_one_version_never_share_a_cached_answer(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    # An A/A run: both arms send the very same request. Sharing one stored answer would make
    # every difference exactly 0; each arm keeps its own, and reuses it in a later run.
    spec = _setup(sqlite_cli, tmp_path)
    sqlite_cli.ok("label", "helper@base", "twin")
    spec.write_text(spec.read_text().replace("helper@cheap", "helper@twin"))
    first = json.loads(sqlite_cli.ok("run", str(spec), "--json", "--cache").stdout)
    assert first["cached"] == 0
    with sqlite3.connect(sqlite_cli.db) as db:
        (entries,) = db.execute("SELECT count(*) FROM response_cache").fetchone()
    assert entries == 12  # 2 arms x 3 tasks x 2 epochs: one answer per arm and cell
    second = json.loads(sqlite_cli.ok("run", str(spec), "--json", "--cache").stdout)
    assert second["cached"] == 12


def test_budget_holds_across_resumes(sqlite_cli: Cli, tmp_path: Path) -> None:
    spec = _setup(sqlite_cli, tmp_path, epochs=2)
    dry = json.loads(sqlite_cli.ok("run", str(spec), "--dry-run", "--json").stdout)
    budget = f"{dry['estimated_cost_usd'] * 0.5:.6f}"
    out = json.loads(sqlite_cli.ok("run", str(spec), "--json", "--max-cost", budget).stdout)
    again = json.loads(
        sqlite_cli.ok(
            "run", str(spec), "--resume", str(out["experiment"]), "--json", "--max-cost", budget
        ).stdout
    )
    assert again["status"] == "stopped" and again["trials"] == out["trials"]
    assert again["cost_usd"] == pytest.approx(out["cost_usd"])  # nothing more was spent


def test_a_database_failure_stops_the_run(
    sqlite_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from experiments.store.trials import TrialStore

    spec = _setup(sqlite_cli, tmp_path, epochs=4)
    calls = {"n": 0}
    original = TrialStore.insert

    def failing_store(self, batch):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] > 1:
            raise OSError("disk full")
        original(self, batch)

    monkeypatch.setattr(TrialStore, "insert", failing_store)
    result = sqlite_cli("run", str(spec), "--quiet", "--concurrency", "1")
    assert result.exit_code == 1
    assert (
        result.stderr.strip() == "registry: error: could not store trials, run stopped: disk full"
    )
    listed = json.loads(sqlite_cli.ok("experiments", "--json").stdout)
    assert listed[0]["status"] == "failed" and 0 < listed[0]["trials"] < 24


def test_trials_that_fail_after_retries_leave_the_run_incomplete(
    sqlite_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = _setup(sqlite_cli, tmp_path, provider="anthropic", epochs=1, extra="max_attempts: 1\n")
    good = Text("bcrypt 409 backoff idempotency")

    def haiku_is_down(body):  # type: ignore[no-untyped-def]
        return http_error(500) if body["model"] == "claude-haiku-5-5" else good

    with fake_anthropic(haiku_is_down) as fake:
        monkeypatch.setenv("ANTHROPIC_API_KEY", DEFAULT_KEY)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.base_url)
        result = sqlite_cli("run", str(spec), "--json")
    assert result.exit_code == 3  # incomplete: some trials have no answer
    out = json.loads(result.stdout)
    assert (out["status"], out["trials"], out["failed"]) == ("incomplete", 6, 3)
    assert "3 trials failed after retries" in out["note"]
    with fake_anthropic(default=good) as fake:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.base_url)
        again = json.loads(
            sqlite_cli.ok("run", str(spec), "--resume", str(out["experiment"]), "--json").stdout
        )
        assert fake.message_calls == 3  # only the failed cells run again
    assert (again["status"], again["failed"]) == ("completed", 0)


def _spawn_run(db: str, spec: Path, env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "registry.cli", "--db", db, "run", str(spec), "--quiet", *extra],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_trials(db: str, at_least: int, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with sqlite3.connect(db) as conn:
                n = conn.execute("SELECT COUNT(*) FROM trial").fetchone()[0]
            if n >= at_least:
                return n
        except sqlite3.Error:
            pass
        time.sleep(0.05)
    raise AssertionError(f"fewer than {at_least} trials after {timeout} s")


@pytest.mark.parametrize("how", ["kill", "interrupt", "terminate", "terminate twice"])
def test_killed_run_resumes_with_exactly_one_trial_per_cell(
    sqlite_cli: Cli, tmp_path: Path, how: str
) -> None:
    spec = _setup(sqlite_cli, tmp_path, provider="anthropic", epochs=4)
    slow = Text("bcrypt 409 backoff idempotency", first_token_delay=0.15)
    with fake_anthropic(default=slow) as fake:
        env = {**os.environ, "ANTHROPIC_API_KEY": DEFAULT_KEY, "ANTHROPIC_BASE_URL": fake.base_url}
        proc = _spawn_run(sqlite_cli.db, spec, env, "--concurrency", "2")
        _wait_for_trials(sqlite_cli.db, 4)
        [live] = json.loads(sqlite_cli.ok("experiments", "--json").stdout)
        assert live["status"] == "running" and live["owner"].endswith(f":{proc.pid}")
        if how == "kill":
            proc.kill()  # SIGKILL: no chance to clean up
        else:
            proc.send_signal(signal.SIGINT if how == "interrupt" else signal.SIGTERM)
        if how == "terminate twice":  # as `timeout` does: the process, then its group
            time.sleep(0.02)
            proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        if how != "kill":
            assert proc.returncode == (130 if how == "interrupt" else 143)
            assert "--resume 1" in err and "Traceback" not in err
            assert err.count("\n") == 1, err
            with sqlite3.connect(sqlite_cli.db) as conn:
                row = conn.execute("SELECT status, note FROM experiment WHERE id = 1").fetchone()
            assert row == ("stopped", "interrupted")  # not left `running`
        else:
            # The row still says running, but its process is gone: it is shown as interrupted.
            [listed] = json.loads(sqlite_cli.ok("experiments", "--json").stdout)
            assert listed["status"] == "interrupted"
        done = len(_trials(sqlite_cli, 1))
        assert 4 <= done < 24
        calls_before = fake.message_calls
        resumed = _spawn_run(sqlite_cli.db, spec, env, "--resume", "1", "--json")
        out, err = resumed.communicate(timeout=120)
        assert resumed.returncode == 0, err
        # only the missing cells (plus at most the calls in flight at the kill) are requested
        assert fake.message_calls - calls_before == 24 - done
    assert json.loads(out)["status"] == "completed"
    assert _trials(sqlite_cli, 1) == sorted(
        (v, t, e) for v, t, _ in _all_cells(1) for e in range(1, 5)
    )
    with sqlite3.connect(sqlite_cli.db) as conn:
        status = conn.execute("SELECT status FROM experiment WHERE id = 1").fetchone()[0]
    assert status == "completed"


def test_batch_mode_and_resume_by_batch_id(sqlite_cli: Cli, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    spec = _setup(sqlite_cli, tmp_path, provider="anthropic", epochs=1)
    answer = Text("bcrypt 409 backoff idempotency", output_tokens=100)
    with fake_anthropic(default=answer, batch_polls=2) as fake:
        monkeypatch.setenv("ANTHROPIC_API_KEY", DEFAULT_KEY)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.base_url)
        import experiments.batch as batch_module

        monkeypatch.setattr(batch_module, "run_batch", _fast_polls(batch_module.run_batch))
        out = json.loads(sqlite_cli.ok("run", str(spec), "--batch", "--json").stdout)
        created = [
            r for r in fake.requests if r.method == "POST" and r.path == "/v1/messages/batches"
        ]
    assert out["status"] == "completed" and out["trials"] == 6
    assert len(created) == 1 and len(created[0].body["requests"]) == 6
    conn = sqlite3.connect(sqlite_cli.db)
    rows = conn.execute("SELECT batch, latency_s, cost_usd, model_id FROM trial").fetchall()
    assert all(r[0] == 1 and r[1] is None for r in rows)
    from experiments.pricing import cost_usd
    from experiments.providers.base import Usage

    usage = conn.execute(
        "SELECT model_id, input_tokens, output_tokens, cost_usd FROM trial"
    ).fetchall()
    for model, input_tokens, output_tokens, cost in usage:
        full = cost_usd(model, Usage(input_tokens=input_tokens, output_tokens=output_tokens))
        assert cost == pytest.approx(full / 2)  # the batch discount, exactly


def _fast_polls(run_batch):  # type: ignore[no-untyped-def]
    """``run_batch`` polling every 10 ms, with retry backoff cut to nothing."""

    async def no_wait(seconds: float) -> None:
        await asyncio.sleep(0)

    async def fast(*args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs |= {"poll_interval": 0.01, "sleep": no_wait}
        return await run_batch(*args, **kwargs)

    return fast


def test_an_interrupted_batch_is_collected_on_resume_not_sent_again(
    sqlite_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from experiments.providers.batches import MessageBatches

    spec = _setup(sqlite_cli, tmp_path, provider="anthropic", epochs=1)
    original_poll = MessageBatches.poll
    polls = {"n": 0}

    async def poll_then_ctrl_c(self, batch_id):  # type: ignore[no-untyped-def]
        polls["n"] += 1
        if polls["n"] == 1:
            raise KeyboardInterrupt  # Ctrl-C while the batch is processing
        return await original_poll(self, batch_id)

    monkeypatch.setattr(MessageBatches, "poll", poll_then_ctrl_c)
    with fake_anthropic(default=Text("bcrypt 409 backoff idempotency")) as fake:
        monkeypatch.setenv("ANTHROPIC_API_KEY", DEFAULT_KEY)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.base_url)
        first = sqlite_cli("run", str(spec), "--batch", "--quiet")
        assert first.exit_code == 130 and "--resume 1" in first.stderr
        with sqlite3.connect(sqlite_cli.db) as conn:
            stored = conn.execute("SELECT batch_id, status FROM experiment").fetchone()
        assert stored[0] is not None and stored[1] == "stopped"
        out = json.loads(
            sqlite_cli.ok("run", str(spec), "--batch", "--resume", "1", "--json").stdout
        )
        created = [r for r in fake.requests if r.path == "/v1/messages/batches"]
    assert len(created) == 1  # the same batch was collected, not paid for twice
    assert (out["status"], out["trials"]) == ("completed", 6)
    assert _trials(sqlite_cli, 1) == sorted((v, t, 1) for v, t, _ in _all_cells(1))


def test_dry_run_prices_each_call_on_its_own(sqlite_cli: Cli, tmp_path: Path) -> None:
    # Haiku 5.5's long-prompt rate applies to a request over 100k tokens, never to the sum of
    # many smaller ones: 12 calls of ~10k tokens each must cost 12 times one such call.
    from experiments.pricing import cost_usd
    from experiments.providers.base import Usage

    spec = _setup(sqlite_cli, tmp_path, epochs=4)
    body = "Be brief. " * 4_000  # ~10k tokens of system prompt
    (tmp_path / "b.md").write_text(AGENT.format(model="haiku", body=body))
    sqlite_cli.ok("publish", str(tmp_path / "b.md"), "--label", "cheap")
    rows = json.loads(sqlite_cli.ok("run", str(spec), "--dry-run", "--json").stdout)["variants"]
    cheap = next(r for r in rows if r["variant"] == "cheap")
    assert cheap["model"] == "claude-haiku-5-5" and cheap["calls"] == 12
    assert cheap["input_tokens"] > 100_000  # in all, not per call
    prompts = (
        "How should I store passwords?",
        "Which status code for a duplicate email?",
        "How do I retry a flaky payment call?",
    )
    per_call = [
        cost_usd("claude-haiku-5-5", Usage((len(body.strip()) + len(p)) // 4 + 1, 800))
        for p in prompts
    ]
    assert cheap["cost_usd"] == pytest.approx(sum(per_call) * 4, abs=1e-6)


def test_escape_sequences_in_a_spec_reach_the_terminal_visible(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    spec = _setup(sqlite_cli, tmp_path, epochs=1)
    spec.write_text(spec.read_text().replace("name: exp", 'name: "exp\\e]52;c;ZXZpbA==\\a\\e[2J"'))
    outputs = [
        sqlite_cli.ok("run", str(spec), "--quiet").stdout,
        sqlite_cli.ok("experiments").stdout,
        sqlite_cli.ok("report", "1").stdout,
        sqlite_cli.ok("report", "1", "--markdown").stdout,
    ]
    for out in outputs:
        assert "\x1b" not in out and "\x07" not in out
    assert "exp\\x1b]52;c;ZXZpbA==\\x07\\x1b[2J" in outputs[1]


def test_a_batch_the_api_stops_answering_stops_the_run_and_resume_collects_it(
    sqlite_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = _setup(sqlite_cli, tmp_path, provider="anthropic", epochs=1, extra="max_attempts: 2\n")
    monkeypatch.setenv("ANTHROPIC_API_KEY", DEFAULT_KEY)
    import experiments.batch as batch_module

    monkeypatch.setattr(batch_module, "run_batch", _fast_polls(batch_module.run_batch))
    with fake_anthropic(default=Text("bcrypt 409 backoff idempotency"), batch_polls=2) as fake:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.base_url)
        fake.reset = lambda method, path: method == "GET"  # sent, then every poll is reset
        started = time.monotonic()
        first = sqlite_cli("run", str(spec), "--batch", "--json")
        assert time.monotonic() - started < 20
        assert first.exit_code == 3 and first.stderr == ""
        out = json.loads(first.stdout)
        assert (out["status"], out["trials"]) == ("stopped", 0)
        assert out["note"].startswith("the API is unreachable: batch msgbatch_fake_")
        assert "after 2 attempts" in out["note"] and out["note"].endswith("then resume")
        polls = [r for r in fake.requests if r.method == "GET"]
        # Two attempts (max_attempts); aiohttp resends a GET once on a reset kept-alive connection.
        assert 2 <= len(polls) <= 4
        fake.reset = None
        again = json.loads(
            sqlite_cli.ok("run", str(spec), "--batch", "--resume", "1", "--json").stdout
        )
        created = [r for r in fake.requests if r.path == "/v1/messages/batches"]
    assert (again["status"], again["trials"]) == ("completed", 6) and len(created) == 1


def test_a_batch_sent_to_a_port_nothing_listens_on_stops_in_one_line(
    sqlite_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.experiments.test_run_guards import _closed_port_url

    spec = _setup(sqlite_cli, tmp_path, provider="anthropic", epochs=8)
    monkeypatch.setenv("ANTHROPIC_API_KEY", DEFAULT_KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", _closed_port_url())
    started = time.monotonic()
    result = sqlite_cli("run", str(spec), "--batch")
    assert time.monotonic() - started < 20
    assert result.exit_code == 3 and "Traceback" not in result.stderr + result.stdout
    assert ": stopped, 0/48 trials" in result.stdout
    notes = [line for line in result.stdout.splitlines() if "unreachable" in line]
    assert len(notes) == 1 and "the request that sends the batch got no response" in notes[0]
    assert "--resume 1" in result.stdout


def _batch_env(monkeypatch: pytest.MonkeyPatch, base_url: str) -> None:
    import experiments.batch as batch_module

    monkeypatch.setenv("ANTHROPIC_API_KEY", DEFAULT_KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", base_url)
    monkeypatch.setattr(batch_module, "run_batch", _fast_polls(batch_module.run_batch))


def _batch_columns(cli: Cli) -> tuple[str | None, str | None, int | None]:
    with sqlite3.connect(cli.db) as conn:
        row = conn.execute("SELECT batch_id, batch_sent_at, batch_requests FROM experiment")
        return row.fetchone()  # type: ignore[no-any-return]


def _created(fake: FakeAnthropic) -> list[RecordedRequest]:
    return [r for r in fake.requests if r.method == "POST" and r.path == "/v1/messages/batches"]


def test_results_cut_off_mid_download_are_fetched_again_then_stop_the_run_resumable(
    sqlite_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = _setup(sqlite_cli, tmp_path, provider="anthropic", epochs=1, extra="max_attempts: 2\n")
    with fake_anthropic(default=Text("bcrypt 409 backoff idempotency")) as fake:
        _batch_env(monkeypatch, fake.base_url)
        fake.cut_results = 2  # both attempts get the first line, then a reset
        first = sqlite_cli("run", str(spec), "--batch", "--json")
        assert first.exit_code == 3 and first.stderr == ""
        out = json.loads(first.stdout)
        assert (out["status"], out["trials"]) == ("stopped", 0)
        assert out["note"].startswith("the API is unreachable: batch msgbatch_fake_")
        assert "after 2 attempts" in out["note"] and "broke off" in out["note"]
        assert _batch_columns(sqlite_cli)[0] is not None  # kept: resume collects it
        fake.cut_results = 1  # one cut download, then the whole file
        again = json.loads(
            sqlite_cli.ok("run", str(spec), "--batch", "--resume", "1", "--json").stdout
        )
        assert (again["status"], again["trials"]) == ("completed", 6)
        assert len(_created(fake)) == 1 and fake.cut_results == 0


def test_scattered_poll_failures_do_not_add_up_to_a_stop(
    sqlite_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = _setup(sqlite_cli, tmp_path, provider="anthropic", epochs=1, extra="max_attempts: 3\n")
    polls = {"n": 0}

    def every_fifth_poll(method: str, path: str) -> bool:
        if method != "GET" or path.count("/") != 4:  # /v1/messages/batches/<id>: a poll
            return False
        polls["n"] += 1
        # Two in a row, so that aiohttp's own resend of a GET on a reset connection fails too.
        return polls["n"] % 5 in (0, 1)

    with fake_anthropic(default=Text("bcrypt 409 backoff idempotency"), batch_polls=20) as fake:
        _batch_env(monkeypatch, fake.base_url)
        fake.reset = every_fifth_poll
        out = json.loads(sqlite_cli.ok("run", str(spec), "--batch", "--json").stdout)
    assert (out["status"], out["trials"]) == ("completed", 6)
    assert polls["n"] >= 25  # 20 polls answered, and at least one in five reset


def test_a_batch_request_lost_after_it_went_out_is_found_on_resume_not_sent_again(
    sqlite_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = _setup(sqlite_cli, tmp_path, provider="anthropic", epochs=1, extra="max_attempts: 2\n")
    with fake_anthropic(default=Text("bcrypt 409 backoff idempotency")) as fake:
        _batch_env(monkeypatch, fake.base_url)
        fake.reset_after = lambda method, path: method == "POST"  # made, but the reply is lost
        first = sqlite_cli("run", str(spec), "--batch", "--json")
        assert first.exit_code == 3
        note = json.loads(first.stdout)["note"]
        assert note.startswith("the API is unreachable: the request that sends the batch (it went")
        batch_id, sent_at, requests = _batch_columns(sqlite_cli)
        assert (batch_id, requests) == (None, 6) and sent_at is not None
        fake.reset_after = None
        again = json.loads(
            sqlite_cli.ok("run", str(spec), "--batch", "--resume", "1", "--json").stdout
        )
        assert (again["status"], again["trials"]) == ("completed", 6)
        assert len(_created(fake)) == 1  # the batch made by the lost request, collected
        assert _batch_columns(sqlite_cli) == (None, None, None)


def test_a_lost_batch_request_that_cannot_be_told_apart_is_sent_again_only_when_asked(
    sqlite_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = _setup(sqlite_cli, tmp_path, provider="anthropic", epochs=1, extra="max_attempts: 2\n")
    with fake_anthropic(default=Text("bcrypt 409 backoff idempotency")) as fake:
        _batch_env(monkeypatch, fake.base_url)
        fake.reset_after = lambda method, path: method == "POST"
        assert sqlite_cli("run", str(spec), "--batch", "--quiet").exit_code == 3
        fake.reset_after = None
        [lost] = _created(fake)
        fake.submit_batch(lost.body)  # someone else's batch of the same size, made since
        line = sqlite_cli.one_error_line("run", str(spec), "--batch", "--resume", "1")
        assert "2 batches of that size were created since then" in line
        assert line.endswith("resume with --resend-batch to send another (it may be paid twice)")
        assert len(_created(fake)) == 1  # refused: nothing sent
        out = json.loads(
            sqlite_cli.ok(
                "run", str(spec), "--batch", "--resume", "1", "--resend-batch", "--json"
            ).stdout
        )
        assert (out["status"], out["trials"]) == ("completed", 6) and len(_created(fake)) == 2


def test_another_experiments_batch_taken_for_a_lost_one_is_not_stored_and_resume_sends_ours(
    sqlite_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = _setup(sqlite_cli, tmp_path, provider="anthropic", epochs=1, extra="max_attempts: 2\n")
    with fake_anthropic(default=Text("bcrypt 409 backoff idempotency")) as fake:
        _batch_env(monkeypatch, fake.base_url)
        fake.reset = lambda method, path: method == "POST"  # went out, made no batch
        assert sqlite_cli("run", str(spec), "--batch", "--quiet").exit_code == 3
        fake.reset = None
        # Experiment 2, of the same size, sends its batch since: the only one resume can find.
        second = json.loads(sqlite_cli.ok("run", str(spec), "--batch", "--json").stdout)
        assert (second["experiment"], second["trials"]) == (2, 6)
        stopped = sqlite_cli("run", str(spec), "--batch", "--resume", "1", "--json")
        assert stopped.exit_code == 3
        out = json.loads(stopped.stdout)
        assert (out["status"], out["trials"]) == ("stopped", 0)
        assert out["note"].startswith("another experiment's batch: batch msgbatch_fake_")
        assert out["note"].endswith(
            "was stored. Resume (--resume 1) to send this experiment's own batch"
        )
        assert _trials(sqlite_cli, 1) == [] and len(_trials(sqlite_cli, 2)) == 6
        assert len(_created(fake)) == 2  # nothing sent by that resume
        again = json.loads(
            sqlite_cli.ok("run", str(spec), "--batch", "--resume", "1", "--json").stdout
        )
        assert (again["status"], again["trials"]) == ("completed", 6)
    tags = [{r["custom_id"].split("-")[0] for r in c.body["requests"]} for c in _created(fake)]
    assert tags[0] == tags[2] != tags[1] and all(len(t) == 1 for t in tags)
    assert _batch_columns(sqlite_cli) == (None, None, None)


def test_a_batch_sent_before_custom_ids_had_a_tag_is_collected_on_resume(
    sqlite_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import experiments.batch as batch_module

    spec = _setup(sqlite_cli, tmp_path, provider="anthropic", epochs=1, extra="max_attempts: 2\n")
    with fake_anthropic(default=Text("bcrypt 409 backoff idempotency"), batch_polls=2) as fake:
        _batch_env(monkeypatch, fake.base_url)
        with monkeypatch.context() as earlier:  # the custom ids of then: the cell key alone
            earlier.setattr(
                batch_module, "custom_id", lambda c, p, tag: batch_module.cell_key(c, p)
            )
            fake.reset = lambda method, path: method == "GET"  # sent; every poll then reset
            assert sqlite_cli("run", str(spec), "--batch", "--quiet").exit_code == 3
        fake.reset = None
        [sent] = _created(fake)
        assert [r["custom_id"] for r in sent.body["requests"]][:2] == ["a0-t0-e1", "a1-t0-e1"]
        again = json.loads(
            sqlite_cli.ok("run", str(spec), "--batch", "--resume", "1", "--json").stdout
        )
    assert (again["status"], again["trials"]) == ("completed", 6) and len(_created(fake)) == 1
    assert _trials(sqlite_cli, 1) == _all_cells(epochs=1)


def test_an_experiments_batch_tag_is_its_own_and_the_same_on_every_open(
    cli: Cli, tmp_path: Path
) -> None:
    from experiments.store.plans import load_plan
    from experiments.store.trials import TrialStore
    from registry.database import Database

    spec = _setup(cli, tmp_path, epochs=1)
    for _ in range(2):
        cli.ok("run", str(spec), "--quiet")
    tags = []
    for experiment in (1, 2, 1):
        db = Database(cli.db)
        try:
            tags.append(TrialStore(db, load_plan(db, experiment)).batch_tag())
        finally:
            db.dispose()
    assert tags[0] == tags[2] != tags[1]
    assert all(len(tag) == 8 and int(tag, 16) >= 0 for tag in tags)


def test_a_batch_whose_results_leave_cells_out_is_incomplete_and_resume_sends_them(
    sqlite_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = _setup(sqlite_cli, tmp_path, provider="anthropic", epochs=1, extra="max_attempts: 2\n")
    with fake_anthropic(default=Text("bcrypt 409 backoff idempotency")) as fake:
        _batch_env(monkeypatch, fake.base_url)
        fake.results_left_out = 2
        first = sqlite_cli("run", str(spec), "--batch", "--json")
        assert first.exit_code == 3
        out = json.loads(first.stdout)
        assert (out["status"], out["trials"], out["failed"]) == ("incomplete", 4, 0)
        assert out["note"] == "2 trials got no result; resume to run them"
        fake.results_left_out = 0
        again = json.loads(
            sqlite_cli.ok("run", str(spec), "--batch", "--resume", "1", "--json").stdout
        )
    assert (again["status"], again["trials"]) == ("completed", 6)
    assert [len(r.body["requests"]) for r in _created(fake)] == [6, 2]
    assert _trials(sqlite_cli, 1) == _all_cells(epochs=1)


def test_a_batch_leaves_room_in_the_budget_for_its_judges(
    sqlite_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    judged = "graders:\n  - {type: rubric_judge, model: opus}\nmax_attempts: 2\n"
    spec = _setup(sqlite_cli, tmp_path, provider="anthropic", epochs=1, extra=judged)
    dry = json.loads(sqlite_cli.ok("run", str(spec), "--batch", "--dry-run", "--json").stdout)
    answers = sum(v["cost_usd"] for v in dry["variants"])  # at the batch price
    assert dry["estimated_judge_cost_usd"] > answers  # an opus judge of batched answers
    row = (answers + dry["estimated_judge_cost_usd"]) / 3  # 3 task rows of 2 trials
    budget = f"{row * 1.5:.6f}"  # room for one row and its judges (or for every answer alone)
    with fake_anthropic(default=Text("bcrypt 409 backoff idempotency")) as fake:
        _batch_env(monkeypatch, fake.base_url)
        out = json.loads(
            sqlite_cli.ok("run", str(spec), "--batch", "--json", "--max-cost", budget).stdout
        )
    assert out["status"] == "stopped" and "with its judges" in out["note"]
    [sent] = _created(fake)
    assert len(sent.body["requests"]) == 2 and out["trials"] == 2


def test_a_batch_on_a_provider_without_batches_is_refused_before_anything_is_stored(
    sqlite_cli: Cli, tmp_path: Path
) -> None:
    spec = _setup(sqlite_cli, tmp_path, provider="simulated")
    line = sqlite_cli.one_error_line("run", str(spec), "--batch")
    assert line.startswith("registry: error: --batch: the simulated provider has no Message ")
    assert line.endswith("; --batch needs provider: anthropic")
    assert json.loads(sqlite_cli.ok("experiments", "--json").stdout) == []


def test_a_batch_request_that_reached_nothing_or_made_no_batch_is_sent_again(
    sqlite_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.experiments.test_run_guards import _closed_port_url

    spec = _setup(sqlite_cli, tmp_path, provider="anthropic", epochs=1, extra="max_attempts: 2\n")
    _batch_env(monkeypatch, _closed_port_url())
    refused = sqlite_cli("run", str(spec), "--batch", "--json")
    assert refused.exit_code == 3
    assert "the request that sends the batch got no response" in json.loads(refused.stdout)["note"]
    assert _batch_columns(sqlite_cli) == (None, None, None)  # never connected: nothing sent
    with fake_anthropic(default=Text("bcrypt 409 backoff idempotency")) as fake:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.base_url)
        # Reset after the request went out, before any batch was made: resume finds none.
        fake.reset = lambda method, path: method == "POST"
        assert sqlite_cli("run", str(spec), "--batch", "--resume", "1", "--quiet").exit_code == 3
        assert _batch_columns(sqlite_cli)[1:] != (None, None)
        fake.reset = None
        out = json.loads(
            sqlite_cli.ok("run", str(spec), "--batch", "--resume", "1", "--json").stdout
        )
        assert (out["status"], out["trials"]) == ("completed", 6)
        assert [len(r.body["requests"]) for r in _created(fake)] == [6, 6]  # reset, then sent
        assert len(fake.batches) == 1


def test_judges_that_get_no_response_stop_a_batch_run_and_resume_grades_its_results(
    sqlite_cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    judge = "graders:\n  - {type: rubric_judge, model: haiku}\nmax_attempts: 2\n"
    spec = _setup(sqlite_cli, tmp_path, provider="anthropic", epochs=1, extra=judge)
    with fake_anthropic(default=Text("bcrypt 409 backoff idempotency")) as fake:
        _batch_env(monkeypatch, fake.base_url)
        fake.reset = lambda method, path: path == "/v1/messages"  # the judges' calls only
        first = sqlite_cli("run", str(spec), "--batch", "--json")
        assert first.exit_code == 3 and first.stderr == ""
        out = json.loads(first.stdout)
        assert (out["status"], out["trials"]) == ("stopped", 0)
        assert out["note"].startswith("the API is unreachable: the judges, for 5 results of batch")
        judged = [r for r in fake.requests if r.path == "/v1/messages"]
        assert len(judged) <= 5 * 2 * 2  # 5 results, 2 attempts, aiohttp's own resend at most
        assert _batch_columns(sqlite_cli)[0] is not None  # kept: resume grades its results
        fake.reset = None
        again = json.loads(
            sqlite_cli.ok("run", str(spec), "--batch", "--resume", "1", "--json").stdout
        )
        assert (again["status"], again["trials"]) == ("completed", 6)
        assert len(_created(fake)) == 1
