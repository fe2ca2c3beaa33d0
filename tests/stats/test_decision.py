from __future__ import annotations

import pytest

from core.errors import SpecError
from experiments.decision import DecisionRule, Guardrail, judge_guardrail, parse_decision


def test_missing_decision_gives_the_documented_defaults():
    rule = parse_decision(None)
    assert rule == DecisionRule()
    assert rule.as_dict()["guardrails"] == {"cost": 0.2, "latency_p90": 0.3}
    assert rule.alpha == 0.05 and rule.effect_of_interest == 0.05 and rule.primary == "quality"


def test_given_keys_override_and_guardrails_replace_the_defaults():
    rule = parse_decision({"alpha": 0.01, "guardrails": {"cost": 0.1}, "effect_of_interest": 0.1})
    assert rule.alpha == 0.01
    assert rule.guardrails == (Guardrail("cost", 0.1),)
    assert rule.effect_of_interest == 0.1
    assert parse_decision({"guardrails": {}}).guardrails == ()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"alpha": 1.5}, "decision.alpha: must be between 0 and 1"),
        ({"alpha": True}, "decision.alpha: must be a number"),
        ({"alpha": "0.05"}, "decision.alpha: must be a number"),
        ({"primary": "speed"}, "decision.primary"),
        ({"colour": "red"}, "decision.colour: unknown key"),
        ({"guardrails": {"tokens": 0.1}}, "decision.guardrails.tokens: unknown metric"),
        ({"guardrails": {"cost": -0.1}}, "decision.guardrails.cost: must be 0 or more"),
        ({"guardrails": [0.2]}, "decision.guardrails: must be a mapping"),
        ({"effect_of_interest": 0}, "decision.effect_of_interest: must be more than 0"),
        ("strict", "decision: must be a mapping"),
    ],
)
def test_bad_values_name_the_field(raw, message):
    with pytest.raises(SpecError, match=message.replace(".", r"\.")):
        parse_decision(raw)


def test_guardrail_judgement_uses_one_sided_bounds():
    cost = Guardrail("cost", 0.2)
    assert judge_guardrail(cost, 1.1, 1.0, 1.19).status == "pass"
    assert judge_guardrail(cost, 1.5, 1.3, 1.7).status == "fail"
    assert judge_guardrail(cost, 1.1, 0.9, 1.3).status == "unclear"
    assert judge_guardrail(cost, None, None, None).status == "unclear"
