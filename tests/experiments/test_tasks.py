"""Task suites: the shipped backend suite, every load error, and checks that tell good from weak."""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from pathlib import Path

import pytest

from core.errors import SpecError
from experiments.graders import GradeResult, combine, grade_all
from experiments.graders.base import Graders, build_graders
from experiments.providers.base import TaskMaterial
from experiments.tasks import TASK_ID, Task, TaskSuite, load_suite

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "data" / "tasks" / "backend.yaml"
AREAS = {
    "api",
    "database",
    "auth",
    "business-logic",
    "integrations",
    "performance",
    "error-handling",
}


@pytest.fixture(scope="module")
def suite() -> TaskSuite:
    return load_suite(SHIPPED)


def grade(task: Task, text: str) -> tuple[GradeResult, ...]:
    """The task's per-trial graders on ``text``."""
    return asyncio.run(grade_all(build_graders(task.graders).per_trial, text, task.material()))


def write(tmp_path: Path, text: str, name: str = "suite.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def load_error(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(SpecError) as err:
        load_suite(path)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    return message.removeprefix(str(path))


# --- the shipped suite -------------------------------------------------------------------------


def test_shipped_suite_covers_every_responsibility(suite: TaskSuite) -> None:
    assert suite.name == "backend"
    assert len(suite.tasks) >= 24
    per_area = Counter(task.area for task in suite.tasks)
    assert set(per_area) == AREAS
    assert min(per_area.values()) >= 3
    ids = [task.id for task in suite.tasks]
    assert len(set(ids)) == len(ids)
    assert all(TASK_ID.fullmatch(task_id) for task_id in ids)


def test_shipped_tasks_are_complete(suite: TaskSuite) -> None:
    for task in suite.tasks:
        assert 3 <= len(task.reference) <= 5, task.id
        assert task.rubric, task.id
        own = [g for g in task.graders if g.name not in ("code_block", "substance")]
        assert len(own) >= 3, task.id
        # The suite-level checks come first and carry a low weight.
        assert [(g.name, g.weight) for g in task.graders[:2]] == [
            ("code_block", 0.5),
            ("substance", 0.25),
        ]
        assert max(g.weight for g in own) >= 1.0
        assert len(build_graders(task.graders).per_trial) == len(task.graders)


def test_task_material_and_weights(suite: TaskSuite) -> None:
    task = suite.task("register-endpoint")
    material = TaskMaterial(task.id, task.prompt, task.reference, task.rubric, task.area)
    assert task.material() == material and material.area is not None
    weights = task.weights()
    assert weights["slow-hash"] == 2.0
    assert weights["code_block"] == 0.5
    assert suite.content_hash == hashlib.sha256(SHIPPED.read_bytes()).hexdigest()
    with pytest.raises(KeyError):
        suite.task("no-such-task")


# --- good answers score clearly higher than weak ones -------------------------------------------

GOOD_REGISTER = """
Here is a registration endpoint for Express + PostgreSQL.

The email column gets a unique index on lower(email), so two concurrent requests can never both
insert: the second one fails with a unique violation (23505), which we turn into 409 Conflict.
A check-then-insert alone would race.

```sql
CREATE TABLE users (
  id BIGSERIAL PRIMARY KEY,
  email TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
```

```js
import bcrypt from "bcrypt";
import { z } from "zod";

const Body = z.object({ email: z.string().email(), password: z.string().min(12) });

app.post("/users", async (req, res, next) => {
  const parsed = Body.safeParse(req.body);
  if (!parsed.success) return res.status(422).json({ errors: parsed.error.issues });
  const { email, password } = parsed.data;
  const hash = await bcrypt.hash(password, 12);
  try {
    const { rows } = await pool.query(
      "INSERT INTO users (email, password_hash) VALUES ($1, $2) RETURNING id, email, created_at",
      [email.toLowerCase(), hash],
    );
    return res.status(201).json(rows[0]);
  } catch (err) {
    if (err.code === "23505") return res.status(409).json({ error: "email_taken" });
    return next(err);
  }
});
```

Notes: the password is hashed with bcrypt (cost 12; argon2id is equally good), never logged, and
the response body never contains the hash. The query is parameterised ($1, $2), so user input
never becomes SQL. Validation failures return 422 with the field that failed; a duplicate email
returns 409; success returns 201 with the new user's id and email. Rate-limit the endpoint to slow
down account enumeration and credential stuffing.
"""

WEAK_REGISTER = """
Just create a route that saves the user:

app.post('/register', (req, res) => {
  const hash = crypto.createHash('md5').update(req.body.password).digest('hex');
  db.query("INSERT INTO users VALUES ('" + req.body.email + "', '" + hash + "')");
  res.send('ok');
});
"""

GOOD_IDEMPOTENCY = """
The fix is an idempotency key: the app generates one UUID per logical payment (not per HTTP
attempt) and sends it in an `Idempotency-Key` header on every retry of that payment.

On the server, store each key with a hash of the request body and the final response:

```sql
CREATE TABLE idempotency_keys (
  key TEXT PRIMARY KEY,
  request_hash TEXT NOT NULL,
  status TEXT NOT NULL,            -- in_progress | completed
  response_code INT,
  response_body JSONB,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
```

```python
def create_payment(key: str, body: dict) -> Response:
    fingerprint = sha256(canonical_json(body))
    inserted = db.execute(
        "INSERT INTO idempotency_keys (key, request_hash, status) VALUES (%s, %s, 'in_progress') "
        "ON CONFLICT (key) DO NOTHING",
        (key, fingerprint),
    ).rowcount
    if not inserted:
        row = db.fetch_one("SELECT * FROM idempotency_keys WHERE key = %s", (key,))
        if row.request_hash != fingerprint:
            return Response(422, {"error": "idempotency_key_reused_with_different_body"})
        if row.status == "in_progress":
            return Response(409, {"error": "request_in_progress"}, headers={"Retry-After": "1"})
        return Response(row.response_code, row.response_body)  # replay the stored response
    charge = stripe.PaymentIntent.create(**body, idempotency_key=key)
    db.execute("UPDATE idempotency_keys SET status='completed', response_code=201, "
               "response_body=%s WHERE key=%s", (charge_json(charge), key))
    return Response(201, charge_json(charge))
```

The primary key makes two concurrent retries safe: only one insert wins. We store the response
so a retry returns exactly what the first attempt returned, and we forward the same key to the
payment provider so even a crash between the charge and our update cannot double-charge. Expire
keys after 24 hours with a cleanup job.
"""

WEAK_IDEMPOTENCY = """
Disable the pay button after the first tap and show a spinner, so users cannot tap twice.
You can also increase the request timeout on the client to 60 seconds so it stops retrying.
"""

GOOD_INDEX = """
The planner scans the whole table because no index matches the filter and the sort. Add a
composite index with the equality columns first and the sort column last, so Postgres can read
the 20 newest open orders for a customer straight from the index, with no sort step:

```sql
SET lock_timeout = '5s';
CREATE INDEX CONCURRENTLY orders_customer_status_created_idx
    ON orders (customer_id, status, created_at DESC);
```

If most orders are not open, a partial index is smaller and faster:

```sql
CREATE INDEX CONCURRENTLY orders_open_by_customer_idx
    ON orders (customer_id, created_at DESC) WHERE status = 'open';
```

CONCURRENTLY builds the index without blocking writes (it cannot run inside a transaction, and if
it fails it leaves an INVALID index you must drop and retry). Then verify the plan:

```sql
EXPLAIN (ANALYZE, BUFFERS)
SELECT id, total, created_at FROM orders
WHERE customer_id = 42 AND status = 'open'
ORDER BY created_at DESC LIMIT 20;
```

You should see an Index Scan on the new index and no Sort node, with the time dropping from
seconds to a few milliseconds. Also select only the columns you need instead of SELECT *, and run
ANALYZE orders if the statistics are stale after a bulk load.
"""

WEAK_INDEX = """
Postgres is slow with big tables. Try adding more RAM to the database server or caching the
result in Redis for a few minutes. You could also archive old orders.
"""


def score(task: Task, text: str) -> float:
    results = grade(task, text)
    combined = combine(results, task.weights())
    assert combined is not None
    return combined


@pytest.mark.parametrize(
    ("task_id", "good", "weak"),
    [
        ("register-endpoint", GOOD_REGISTER, WEAK_REGISTER),
        ("payment-idempotency", GOOD_IDEMPOTENCY, WEAK_IDEMPOTENCY),
        ("slow-query-index", GOOD_INDEX, WEAK_INDEX),
    ],
)
def test_good_answer_scores_clearly_higher_than_weak(
    suite: TaskSuite, task_id: str, good: str, weak: str
) -> None:
    task = suite.task(task_id)
    good_score, weak_score = score(task, good), score(task, weak)
    assert good_score >= 0.9
    assert weak_score <= 0.4
    assert good_score - weak_score >= 0.5


def test_weak_register_answer_fails_the_security_checks(suite: TaskSuite) -> None:
    task = suite.task("register-endpoint")
    results = {r.grader: r for r in grade(task, WEAK_REGISTER)}
    assert results["slow-hash"].passed is False
    assert results["no-fast-hash"].passed is False
    assert "createHash('md5'" in results["no-fast-hash"].reason
    assert results["parameterised"].passed is False


# --- loading: what is accepted ------------------------------------------------------------------


def test_smallest_contract_file_loads(tmp_path: Path) -> None:
    text = """\
tasks:
  - id: register-endpoint
    prompt: "I need a user registration endpoint that validates email and hashes passwords."
    reference: ["validates email format", "hashes with bcrypt or argon2", "returns 201 and 409"]
"""
    path = write(tmp_path, text, "tiny.yaml")
    suite = load_suite(path)
    assert suite.name == "tiny"
    assert suite.path == path
    assert suite.content_hash == hashlib.sha256(text.encode()).hexdigest()
    (task,) = suite.tasks
    assert task == Task(
        "register-endpoint",
        "I need a user registration endpoint that validates email and hashes passwords.",
        ("validates email format", "hashes with bcrypt or argon2", "returns 201 and 409"),
    )
    assert build_graders(task.graders) == Graders((), ())


def test_suite_graders_come_first_and_names_are_numbered(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
name: mine
graders:
  - {type: contains, any: [a], weight: 0.5}
tasks:
  - id: one
    prompt: p
    reference: a single point
    rubric: r
    area: api
    graders:
      - {type: contains, any: [b]}
      - {type: regex, pattern: x, name: contains#2}
  - id: two
    prompt: q
""",
    )
    suite = load_suite(path)
    one, two = suite.tasks
    assert suite.name == "mine"
    assert one.reference == ("a single point",)
    assert (one.rubric, one.area) == ("r", "api")
    # "contains#2" is taken explicitly, so the second unnamed contains becomes "contains#3".
    assert one.weights() == {"contains": 0.5, "contains#3": 1.0, "contains#2": 1.0}
    assert [g.name for g in two.graders] == ["contains"]


def test_python_grader_path_is_relative_to_the_suite(tmp_path: Path) -> None:
    (tmp_path / "checks_here.py").write_text("def f(text, task):\n    return 'ok' in text\n")
    path = write(
        tmp_path,
        "tasks:\n  - id: a\n    prompt: p\n    graders:\n"
        "      - {type: python, function: 'checks_here.py:f'}\n",
    )
    task = load_suite(path).tasks[0]
    (result,) = grade(task, "ok then")
    assert (result.score, result.passed) == (1.0, True)


# --- loading: every error, one line naming file, task and field ----------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tasks: [", ":1: invalid YAML: "),
        ("tasks:\n  - id: a\n   prompt: x\n", ":3: invalid YAML: expected <block end>"),
        (
            "tasks:\n  - id: a\n    prompt: p\n    prompt: q\n",
            ":4: invalid YAML: duplicate key 'prompt'",
        ),
        ("", ": expected a mapping with a 'tasks' list at the top level, got an empty file"),
        ("- id: a\n", ": expected a mapping with a 'tasks' list at the top level, got a list"),
        ("name: x\n", ": tasks: required, a list of tasks with id, prompt and reference"),
        ("tasks: []\n", ": tasks: must be a non-empty list of tasks"),
        ("tasks: {a: 1}\n", ": tasks: must be a non-empty list of tasks"),
        ("tasks: [{id: a, prompt: p}]\nversion: 2\n", ": version: unknown field; expected one of"),
        ("name: 3\ntasks: [{id: a, prompt: p}]\n", ": name: must be a non-empty string, got 3"),
        ("tasks: [hello]\n", ": tasks[0]: must be a mapping with id, prompt and reference"),
        ("tasks: [{prompt: p}]\n", ": tasks[0].id: must match [a-z0-9][a-z0-9._-]*"),
        ("tasks: [{id: Auth JWT, prompt: p}]\n", ": tasks[0].id: must match"),
        (
            "tasks: [{id: auth-jwt, prompt: p}, {id: b, prompt: q}, {id: auth-jwt, prompt: r}]\n",
            ": tasks[2].id: duplicate id 'auth-jwt' (also tasks[0])",
        ),
        ("tasks: [{id: a}]\n", ": tasks[0] 'a': prompt: required, a non-empty string"),
        ("tasks: [{id: a, prompt: '  '}]\n", ": tasks[0] 'a': prompt: required"),
        ("tasks: [{id: a, prompt: p, reference: [1]}]\n", ": tasks[0] 'a': reference: must be"),
        ("tasks: [{id: a, prompt: p, reference: {x: 1}}]\n", ": tasks[0] 'a': reference: must"),
        ("tasks: [{id: a, prompt: p, rubric: [x]}]\n", ": tasks[0] 'a': rubric: must be a non-"),
        ("tasks: [{id: a, prompt: p, area: 7}]\n", ": tasks[0] 'a': area: must be a non-empty"),
        ("tasks: [{id: a, prompt: p, refrence: [x]}]\n", ": tasks[0] 'a': refrence: unknown field"),
        ("tasks: [{id: a, prompt: p, graders: {type: regex}}]\n", ": tasks[0] 'a': graders: must"),
        (
            "tasks: [{id: a, prompt: p, graders: [{type: contain, any: [x]}]}]\n",
            ": tasks[0] 'a': graders[0]: type: unknown grader type 'contain'",
        ),
        (
            "tasks:\n  - id: b\n    prompt: p\n  - id: a\n    prompt: p\n    graders:\n"
            "      - {type: regex, pattern: x}\n      - {type: regex, pattern: '(', name: bad}\n",
            ": tasks[1] 'a': graders[1]: grader 'bad': pattern: invalid regular expression '('",
        ),
        (
            "graders: [{type: length, min_words: lots}]\ntasks: [{id: a, prompt: p}]\n",
            ": graders[0]: grader 'length': min_words: must be a whole number >= 0, got 'lots'",
        ),
        (
            "graders: [{type: regex, pattern: x, name: s}]\n"
            "tasks: [{id: a, prompt: p, graders: [{type: regex, pattern: y, name: s}]}]\n",
            ": tasks[0] 'a': graders: two graders named 's'",
        ),
        (
            "tasks: [{id: a, prompt: p, graders: [{type: python, function: 'nowhere_xyz:f'}]}]\n",
            ": tasks[0] 'a': graders[0]: grader 'python': function: cannot import 'nowhere_xyz'",
        ),
    ],
)
def test_load_errors_name_file_task_and_field(tmp_path: Path, text: str, message: str) -> None:
    assert load_error(tmp_path, text).startswith(message)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"nope\.yaml: cannot read task suite: No such file"):
        load_suite(tmp_path / "nope.yaml")
