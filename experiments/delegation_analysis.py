"""Delegation figures of an experiment: accuracy, recall, false delegations, confusion, changes.

The unit is the task, as everywhere in the statistics: a task's share (of epochs routed
correctly, say) is computed first, and a variant's figure is the mean over tasks, with a Wilson
interval over the tasks. Failed trials are left out, never counted as "not delegated".

"Meant for the agent" means the task's ``expect`` names an agent under test (any variant's
agent: a variant that renames its agent still competes for the same requests); the variant got
it when the main loop picked that variant's own agent.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

from experiments.report import ChangedRequest, DelegationSummary, Share, VariantDelegation
from experiments.roster import is_correct
from experiments.stats.proportion import task_share


class ChoiceRecord(NamedTuple):
    variant: str
    task_id: str
    epoch: int
    choice: str | None
    error: str | None
    router_version: str | None = None


def _decided(records: Iterable[ChoiceRecord], expect: Mapping[str, str]) -> Iterable[ChoiceRecord]:
    """The records with a decision, of tasks that say which agent should take them."""
    return (r for r in records if r.error is None and r.choice is not None and r.task_id in expect)


def variant_delegation(
    records: Iterable[ChoiceRecord],
    *,
    agent: str,
    expect: Mapping[str, str],
    under_test: frozenset[str],
) -> VariantDelegation:
    """One variant's figures from its decided trials (``records`` of that variant only)."""
    picks: dict[str, list[str]] = defaultdict(list)
    for r in _decided(records, expect):
        assert r.choice is not None
        picks[r.task_id].append(r.choice)
    accuracy, recall, taken = [], [], []
    misses: Counter[str] = Counter()
    confusion: dict[str, Counter[str]] = defaultdict(Counter)
    false_delegations = 0
    for task_id, chosen in picks.items():
        expected = expect[task_id]
        meant = expected in under_test
        correct = [is_correct(c, expected, agent, under_test) for c in chosen]
        accuracy.append(sum(correct) / len(chosen))
        row = agent if meant else expected
        for choice in chosen:
            confusion[row][choice] += 1
        if meant:
            recall.append(sum(correct) / len(chosen))
            misses.update(c for c in chosen if c != agent)
        else:
            mine = sum(c == agent for c in chosen)
            false_delegations += mine
            taken.append(mine / len(chosen))
    return VariantDelegation(
        agent=agent,
        decided=sum(len(c) for c in picks.values()),
        accuracy=_share(accuracy),
        recall=_share(recall),
        false_delegations=false_delegations,
        false_delegation_rate=_share(taken),
        misses=dict(misses.most_common()),
        confusion={row: dict(counts.most_common()) for row, counts in sorted(confusion.items())},
    )


def changed_requests(
    records: Sequence[ChoiceRecord],
    *,
    control: str,
    agents: Mapping[str, str],
    expect: Mapping[str, str],
    task_order: Sequence[str],
) -> tuple[ChangedRequest, ...]:
    """The requests whose share of correct routes differs between the control and a variant,
    largest change first."""
    under_test = frozenset(agents.values())
    picks: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for r in _decided(records, expect):
        assert r.choice is not None
        picks[r.variant, r.task_id][r.choice] += 1

    def correct_share(variant: str, task_id: str) -> float | None:
        counts = picks.get((variant, task_id))
        if not counts:
            return None
        right = sum(
            n
            for choice, n in counts.items()
            if is_correct(choice, expect[task_id], agents[variant], under_test)
        )
        return right / sum(counts.values())

    changed = []
    for variant in agents:
        if variant == control:
            continue
        for task_id in task_order:
            before, after = correct_share(control, task_id), correct_share(variant, task_id)
            if before is None or after is None or before == after:
                continue
            changed.append(
                ChangedRequest(
                    task_id=task_id,
                    variant=variant,
                    expected=expect[task_id],
                    control_picks=dict(picks[control, task_id].most_common()),
                    variant_picks=dict(picks[variant, task_id].most_common()),
                    control_correct=round(before, 6),
                    variant_correct=round(after, 6),
                )
            )
    changed.sort(key=lambda c: -abs(c.variant_correct - c.control_correct))
    return tuple(changed)


def delegation_summary(
    records: Sequence[ChoiceRecord],
    *,
    control: str,
    agents: Mapping[str, str],
    expect: Mapping[str, str],
    task_order: Sequence[str],
    router: str,
    main_model: str,
    roster: Sequence[str],
) -> tuple[DelegationSummary, dict[str, VariantDelegation]]:
    """The experiment's delegation summary and each variant's figures, by label."""
    under_test = frozenset(agents.values())
    by_variant: dict[str, list[ChoiceRecord]] = defaultdict(list)
    for r in records:
        by_variant[r.variant].append(r)
    figures = {
        label: variant_delegation(
            by_variant.get(label, []), agent=agent, expect=expect, under_test=under_test
        )
        for label, agent in agents.items()
    }
    versions = sorted({r.router_version for r in records if r.router_version})
    summary = DelegationSummary(
        router=router,
        router_versions=tuple(versions),
        main_model=main_model,
        roster=tuple(roster),
        changed=changed_requests(
            records, control=control, agents=agents, expect=expect, task_order=task_order
        ),
    )
    return summary, figures


def _share(per_task: list[float]) -> Share:
    share = task_share(per_task)
    rate = None if share.rate is None else round(share.rate, 6)
    ci = None if share.ci is None else (round(share.ci[0], 6), round(share.ci[1], 6))
    return Share(rate, ci, share.n)
