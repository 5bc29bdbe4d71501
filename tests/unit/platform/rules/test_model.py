"""Rule validation: every refusal names the field; the shapes StackStorm's API shows."""

from __future__ import annotations

from typing import Any

import pytest

from levante.platform.rules import model
from levante.platform.rules.model import RuleError
from levante.platform.triggers.builtin import BUILTIN


def known(ref: str) -> dict[str, Any] | None:
    found = BUILTIN.get(ref)
    return None if found is None else {"ref": ref, "parameters_schema": found[2]}


BASE: dict[str, Any] = {
    "name": "fix", "pack": "ops",
    "trigger": {"type": "core.st2.webhook", "parameters": {"url": "alerts"}},
    "criteria": {"trigger.body.severity": {"type": "eq", "pattern": "high"}},
    "action": {"ref": "core.local", "parameters": {"cmd": "echo {{ trigger.body }}"}},
}


def check(body: Any, **options: Any) -> model.Rule:
    return model.checked(body, trigger_type=known, user="ann", **options)


def test_a_good_rule() -> None:
    rule = check(BASE)
    assert rule.ref == "ops.fix" and rule.enabled is False  # StackStorm's default
    assert rule.context == {"user": "ann"}
    assert rule.trigger_parameters == {"url": "alerts"}
    assert check({**BASE, "context": {"user": "bob"}}).context == {"user": "bob"}
    assert check({**BASE, "pack": "other"}, pack="mine").pack == "mine"
    assert check({k: v for k, v in BASE.items() if k != "pack"}).pack == "default"
    assert model.checked(BASE, trigger_type=known, user="").context == {}


@pytest.mark.parametrize(("change", "field"), [
    ({"name": None}, "'name'"),
    ({"name": 3}, "'name'"),
    ({"pack": "a.b"}, "'pack'"),
    ({"name": "n" * 256}, "'name'"),  # (the column's size: a 500 on PostgreSQL before)
    ({"pack": "p" * 256}, "'pack'"),
    ({"enabled": "yes"}, "'enabled'"),
    ({"trigger": None}, "'trigger.type'"),
    ({"trigger": {"type": "no.such"}}, "'trigger.type'"),
    ({"trigger": {"type": "core.st2.webhook", "parameters": {}}}, "'trigger.parameters'"),
    ({"trigger": {"type": "core.st2.webhook", "parameters": {"url": 1}}},
     "'trigger.parameters.url'"),
    ({"trigger": {"type": "core.st2.webhook", "parameters": []}}, "'trigger.parameters'"),
    ({"criteria": {"trigger.a": {"type": "like"}}}, "'criteria.trigger.a'"),
    ({"criteria": "x"}, "'criteria'"),
    ({"action": None}, "'action.ref'"),
    ({"action": {"ref": ""}}, "'action.ref'"),
    ({"action": {"ref": "core.local", "parameters": [1]}}, "'action.parameters'"),
    ({"context": []}, "'context'"),
    ({"tags": "x"}, "'tags'"),
])
def test_refusals_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(RuleError) as caught:
        check({**BASE, **change})
    assert field in str(caught.value)


def test_not_an_object() -> None:
    with pytest.raises(RuleError, match="must be an object"):
        check(["rule"])


def test_views() -> None:
    row = {"id": "r1", "ref": "ops.fix", "pack": "ops", "name": "fix", "description": "",
           "enabled": True, "trigger": {"type": "core.st2.webhook",
                                        "parameters": {"url": "a"}},
           "trigger_ref": "core.123", "criteria": {}, "action": {"ref": "core.noop"},
           "context": {"user": "ann"}, "tags": [], "metadata_file": ""}
    shown = model.view(row)
    assert shown["uid"] == "rule:ops:fix" and shown["trigger"]["ref"] == "core.123"
    assert shown["type"] == {"ref": "standard", "parameters": {}}
    enforcement = model.enforcement_view({
        "id": "e1", "rule_id": "r1", "rule_ref": "ops.fix", "trigger_instance_id": "t1",
        "execution_id": None, "status": "failed", "failure_reason": "no action",
        "enforced_at": None})
    assert enforcement["rule"] == {"id": "r1", "ref": "ops.fix", "uid": "rule:ops:fix"}
    assert enforcement["failure_reason"] == "no action"
    assert enforcement["execution_id"] == ""
