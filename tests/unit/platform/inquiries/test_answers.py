"""Answers to inquiries: the schema check (with StackStorm's draft-3 `required: true`),
defaults, the permission check and when an inquiry expires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from levante.platform.inquiries import answers
from levante.platform.inquiries.answers import BadAnswer, BadSchema, NotAllowed
from levante.platform.inquiries.service import expired

ID = "0123456789abcdef01234567"


def test_the_default_schema_wants_a_boolean_continue() -> None:
    schema = answers.checked_schema(None)
    assert schema["required"] == ["continue"]
    assert answers.validated_answer(ID, schema, {"continue": True}) == {"continue": True}
    with pytest.raises(BadAnswer, match=r"response\.continue: 'yes' is not of type 'boolean'"):
        answers.validated_answer(ID, schema, {"continue": "yes"})
    with pytest.raises(BadAnswer, match="'continue' is a required property"):
        answers.validated_answer(ID, schema, {"other": 1})


def test_property_level_required_true_as_stackstorm_packs_write_it() -> None:
    schema = {"type": "object", "properties": {
        "approved": {"type": "boolean", "required": True},
        "reason": {"type": "string"}}}
    assert answers.checked_schema(schema) == schema  # kept as given
    with pytest.raises(BadAnswer, match="'approved' is a required property"):
        answers.validated_answer(ID, schema, {"reason": "x"})
    assert answers.validated_answer(ID, schema, {"approved": False}) == {"approved": False}


def test_every_wrong_property_is_named_with_the_inquiry() -> None:
    schema = {"type": "object", "properties": {
        "count": {"type": "integer", "minimum": 1},
        "colour": {"type": "string", "enum": ["red", "green"]}}}
    with pytest.raises(BadAnswer) as caught:
        answers.validated_answer(ID, schema, {"count": 0, "colour": "blue"})
    text = str(caught.value)
    assert ID in text
    assert "response.colour: 'blue' is not one of ['red', 'green']" in text
    assert "response.count: 0 is less than the minimum of 1" in text


def test_defaults_of_the_schema_fill_the_answer() -> None:
    schema = {"type": "object", "properties": {
        "continue": {"type": "boolean"}, "note": {"type": "string", "default": "none"}}}
    assert answers.validated_answer(ID, schema, {"continue": True}) == {
        "continue": True, "note": "none"}


def test_an_answer_must_be_an_object() -> None:
    with pytest.raises(BadAnswer, match="must be a JSON object, not list"):
        answers.validated_answer(ID, answers.checked_schema(None), [True])


def test_a_schema_that_is_not_one_is_refused_naming_where() -> None:
    with pytest.raises(BadSchema, match="not a valid JSON schema at properties/x/type"):
        answers.checked_schema({"type": "object", "properties": {"x": {"type": "nope"}}})
    with pytest.raises(BadSchema, match="not str"):
        answers.checked_schema("yes")


def test_users_and_roles_both_must_pass() -> None:
    answers.check_permission(ID, "bob", [], [])
    answers.check_permission(ID, "alice", ["alice"], [])
    with pytest.raises(NotAllowed, match='User "bob" does not have permission'):
        answers.check_permission(ID, "bob", ["alice"], [])
    # Without RBAC only the administrator and service keys hold a role.
    with pytest.raises(NotAllowed):
        answers.check_permission(ID, "alice", [], ["approvers"])
    answers.check_permission(ID, "admin", [], ["approvers"])
    answers.check_permission(ID, "robot", [], ["approvers"], service=True)
    with pytest.raises(NotAllowed):  # a listed role does not lift the users list
        answers.check_permission(ID, "admin", ["alice"], ["approvers"])


def test_an_inquiry_expires_after_its_ttl_and_never_with_ttl_0() -> None:
    asked = datetime(2026, 1, 1, tzinfo=UTC)
    assert not expired(asked, 2, 60.0, asked + timedelta(minutes=2))
    assert expired(asked, 2, 60.0, asked + timedelta(minutes=2, seconds=1))
    assert not expired(asked, 0, 60.0, asked + timedelta(days=400))
    assert expired(asked, 3, 0.5, asked + timedelta(seconds=1.6))
