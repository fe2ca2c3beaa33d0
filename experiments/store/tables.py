"""SQLModel tables of experiments: what was planned, and one trial row per cell as it completes.

A cell is (experiment, variant, task, epoch); the unique constraint on it is what makes a
resumed or concurrent run write each cell exactly once. Grades are kept apart from trials so
that re-grading adds rows and never rewrites what the model answered.
"""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from registry.models import UTCDateTime, created_at_field


class Experiment(SQLModel, table=True):
    __tablename__ = "experiment"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True)
    status: str = "planned"  # planned, running, stopped, completed, failed
    provider: str
    simulated: bool = False
    control: str
    epochs: int
    seed: int = 0
    spec_yaml: str  # the spec as written
    spec: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)  # as resolved
    suite_name: str | None = None
    suite_hash: str | None = None
    max_cost_usd: float | None = None
    batch_id: str | None = None
    # A request creating a batch that went out with no answer (it may have made one): when, and
    # how many requests it carried; cleared once the batch id is known or nothing was sent.
    batch_sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    batch_requests: int | None = None
    note: str | None = None  # why it stopped, when it did
    created_at: datetime = created_at_field()
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The run in progress: "host:pid" of the process running it, and when it last said it was
    # alive (``experiments.run_state.liveness`` tells a killed run from a live one).
    owner: str | None = None
    heartbeat_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ExperimentVariant(SQLModel, table=True):
    __tablename__ = "experiment_variant"
    __table_args__ = (sa.UniqueConstraint("experiment_id", "label", name="uq_expvariant_label"),)

    id: int | None = Field(default=None, primary_key=True)
    experiment_id: int = Field(foreign_key="experiment.id", index=True)
    label: str
    ref: str  # the reference as written in the spec
    version_id: int = Field(foreign_key="version.id")
    model_alias: str | None = None  # as written in the agent (or the spec override)
    model_id: str  # resolved through the dated alias table
    position: int = 0


class ExperimentTask(SQLModel, table=True):
    __tablename__ = "experiment_task"
    __table_args__ = (sa.UniqueConstraint("experiment_id", "task_id", name="uq_exptask_task"),)

    id: int | None = Field(default=None, primary_key=True)
    experiment_id: int = Field(foreign_key="experiment.id", index=True)
    task_id: str
    position: int = 0
    prompt: str
    reference: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    rubric: str | None = None
    area: str | None = None
    graders: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    expect: str | None = None  # a delegation task: the agent that should take the request


class Trial(SQLModel, table=True):
    __tablename__ = "trial"
    __table_args__ = (
        sa.UniqueConstraint("experiment_id", "variant", "task_id", "epoch", name="uq_trial_cell"),
    )

    id: int | None = Field(default=None, primary_key=True)
    experiment_id: int = Field(foreign_key="experiment.id", index=True)
    variant: str
    task_id: str
    epoch: int
    provider: str
    model_id: str
    request: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    response_text: str | None = None
    stop_reason: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    cost_usd: float = 0.0
    latency_s: float | None = None
    ttft_s: float | None = None
    retries: int = 0
    error: str | None = None
    cached: bool = False  # served from the response cache: kept out of latency figures
    batch: bool = False
    quality: float | None = None  # the spec's weighted combination of the latest grades
    choice: str | None = None  # for trial kinds whose outcome is a choice (which agent)
    # Kind-specific facts; SQL NULL (not JSON null) when a kind has none.
    details: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON(none_as_null=True))
    created_at: datetime = created_at_field()


class Grade(SQLModel, table=True):
    __tablename__ = "grade"

    id: int | None = Field(default=None, primary_key=True)
    trial_id: int = Field(foreign_key="trial.id", index=True)
    grading_run: int = 1  # re-grading adds a run; earlier grades are kept
    grader: str
    score: float | None = None
    passed: bool | None = None
    reason: str = ""
    error: str | None = None
    cost_usd: float = 0.0  # judge cost, kept apart from the variant's own cost
    details: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    created_at: datetime = created_at_field()


class ResponseCache(SQLModel, table=True):
    __tablename__ = "response_cache"

    key: str = Field(primary_key=True, max_length=64)
    response: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    created_at: datetime = created_at_field()


class ExperimentLook(SQLModel, table=True):
    """One look of a sequential run (experiments/sequential.py): kept, so that a resumed run
    spends its alpha from where the earlier looks left it, and the report shows every look."""

    __tablename__ = "experiment_look"
    __table_args__ = (sa.UniqueConstraint("experiment_id", "look", name="uq_explook_look"),)

    id: int | None = Field(default=None, primary_key=True)
    experiment_id: int = Field(foreign_key="experiment.id", index=True)
    look: int  # 1, 2, ... in the order they were taken
    tasks: int  # tasks with trials when the look was taken
    total_tasks: int  # in the suite
    spent_alpha: float  # cumulative, one-sided
    nominal_alpha: float  # the two-sided alpha the decision rule was given at this look
    status: str  # the verdict's status at the nominal alpha
    reason: str  # the verdict's text
    stopped: bool = False  # whether the run stopped at this look because it was decided
    cost_usd: float = 0.0  # billed by the time of the look
    created_at: datetime = created_at_field()
