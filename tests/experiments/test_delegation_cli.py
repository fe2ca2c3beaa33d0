"""Delegation experiments through the CLI on the simulated router and the shipped suite: an
examples variant that helps is named the winner, and the identical-request warning fires."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.conftest import REPO, Cli

SHIPPED = REPO / "data"
# Requests of the shipped suite that the original agent often loses, and two it keeps.
FOCUS = (
    "api-avatar-upload", "db-deadlock", "api-orders-pagination", "logic-last-ticket",
    "logic-sync-twice", "api-invoices-v2", "int-stripe-double-charge", "val-email-a-at-b",
)  # fmt: skip
HELPFUL = """\
base: backend-logic-implementer@1
label: helpful
message: examples for the requests it used to lose
examples:
  add:
    - context: "A mobile client times out listing a big collection"
      user: "Paginate the orders endpoint, the app times out on accounts with thousands of orders"
      assistant: "I'll use the backend-logic-implementer agent to add cursor pagination."
    - context: "Workers collide in the database"
      user: "Postgres reports deadlock detected when two workers update the same inventory rows"
      assistant: "I'll use the backend-logic-implementer agent to fix the locking order."
    - context: "File uploads stored in object storage"
      user: "Let users upload a profile picture to S3 and save the URL on their account"
      assistant: "I'll use the backend-logic-implementer agent to build the upload endpoint."
    - context: "Concurrent purchases"
      user: "Two buyers can get the last seat at the same moment and both purchases succeed"
      assistant: "I'll use the backend-logic-implementer agent to make the purchase atomic."
    - context: "A sync job that runs twice"
      user: "The nightly sync sometimes runs twice and duplicates every record"
      assistant: "I'll use the backend-logic-implementer agent to make the sync idempotent."
    - context: "API versioning"
      user: "Ship a v2 of the invoices endpoint with amounts in cents, keep v1 clients working"
      assistant: "I'll use the backend-logic-implementer agent to version the invoices API."
"""


def _spec(tmp_path: Path, variants: dict[str, str], name: str, kind: str = "delegation") -> Path:
    suite = yaml.safe_load((SHIPPED / "delegation" / "suite.yaml").read_text())
    ids = {t["id"] for t in suite["tasks"]}
    assert set(FOCUS) <= ids, set(FOCUS) - ids
    suite["tasks"] = [t for t in suite["tasks"] if t["id"] in FOCUS]
    (tmp_path / "subset.yaml").write_text(yaml.safe_dump(suite))
    spec = {
        "name": name, "kind": kind, "variants": variants, "control": "control",
        "tasks": "subset.yaml", "roster": [str(SHIPPED / "delegation" / "agents")],
        "router": "simulated", "epochs": 3, "seed": 11,
    }  # fmt: skip
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _publish(cli: Cli, tmp_path: Path) -> None:
    cli.ok("publish", str(SHIPPED / "agents" / "backend-logic-implementer.md"))
    (tmp_path / "helpful.yaml").write_text(HELPFUL)
    cli.ok("publish", str(tmp_path / "helpful.yaml"))
    cli.ok("publish", str(SHIPPED / "variants" / "better-examples.yaml"))


def test_an_examples_variant_that_helps_is_named_the_winner(cli: Cli, tmp_path: Path) -> None:
    _publish(cli, tmp_path)
    variants = {"control": "backend-logic-implementer@1",
                "helpful": "backend-logic-implementer@helpful"}  # fmt: skip
    spec = _spec(tmp_path, variants, "focus")
    run = cli.ok("run", str(spec), "--json", "--quiet")
    assert "send the same requests" not in run.stderr
    assert json.loads(run.stdout)["status"] == "completed"
    report = json.loads(cli.ok("report", "focus", "--json").stdout)
    assert report["verdict"]["status"] == "winner" and report["verdict"]["winner"] == "helpful"
    by_label = {v["label"]: v for v in report["variants"]}
    helpful, control = by_label["helpful"]["delegation"], by_label["control"]["delegation"]
    assert helpful["recall"]["rate"] > control["recall"]["rate"]
    assert by_label["helpful"]["quality"]["mean"] == helpful["accuracy"]["rate"]
    assert report["experiment"]["simulated"] is True
    text = cli.ok("report", "focus").stdout
    assert "routed correctly" in text and "requests that changed:" in text
    markdown = cli.ok("report", "focus", "--markdown").stdout
    assert "| variant | expected | picked |" in markdown


def test_a_delegation_experiment_is_not_regraded(cli: Cli, tmp_path: Path) -> None:
    _publish(cli, tmp_path)
    variants = {"control": "backend-logic-implementer@1",
                "helpful": "backend-logic-implementer@helpful"}  # fmt: skip
    cli.ok("run", str(_spec(tmp_path, variants, "focus")), "--quiet")
    line = cli.one_error_line("grade", "focus")
    assert line == (
        "registry: error: experiment 1 is a delegation experiment: its quality is whether the "
        "main loop picked the expected agent, which no grader changes; nothing to re-grade"
    )


def test_a_response_experiment_of_an_examples_variant_warns_before_spending(
    cli: Cli, tmp_path: Path
) -> None:
    _publish(cli, tmp_path)
    (tmp_path / "tasks.yaml").write_text(
        'tasks:\n  - id: one\n    prompt: "Add an endpoint."\n'
        '    graders: [{type: contains, any: ["endpoint"]}]\n'
    )
    spec = tmp_path / "response.yaml"
    spec.write_text(
        "name: wording\nvariants:\n  control: backend-logic-implementer@1\n"
        "  better: backend-logic-implementer@better-examples\ncontrol: control\n"
        "tasks: tasks.yaml\n"
    )
    dry = cli.ok("run", str(spec), "--dry-run")
    assert "variants control and better send the same requests in a response experiment" in (
        dry.stderr
    )
    assert "which a delegation experiment measures (kind: delegation)" in dry.stderr
    ran = cli.ok("run", str(spec), "--quiet")
    assert "send the same requests" in ran.stderr


def test_the_dry_run_of_a_delegation_experiment_plans_the_main_loop(
    cli: Cli, tmp_path: Path
) -> None:
    _publish(cli, tmp_path)
    variants = {"control": "backend-logic-implementer@1",
                "better": "backend-logic-implementer@better-examples"}  # fmt: skip
    dry = cli.ok("run", str(_spec(tmp_path, variants, "plan")), "--dry-run")
    assert "delegation trials, router simulated on claude-sonnet" in dry.stdout
    assert f"{len(FOCUS) * 3:>6} calls" in dry.stdout
    assert json.loads(cli.ok("experiments", "--json").stdout) == []
