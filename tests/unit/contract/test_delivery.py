"""The delivery rules both directions share, as data (levante.contract.delivery)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from levante.contract.delivery import EVENTS, REPORTS, Backoff, Verdict


def test_backoff_doubles_up_to_its_maximum_and_gives_up_after_its_age() -> None:
    policy = Backoff(0.5, 3.0, max_age=100.0)
    assert [policy.delay(n) for n in range(0, 6)] == [0, 0.5, 1, 2, 3, 3]
    created = datetime(2026, 1, 1, tzinfo=UTC)
    soon = created + timedelta(seconds=10)
    assert policy.retry_at(1, created, soon) == soon + timedelta(seconds=0.5)
    assert policy.retry_at(3, created, created + timedelta(seconds=99)) is None
    assert Backoff(1.0, 60.0).retry_at(50, created, created + timedelta(days=9)) is not None


def test_events_are_retried_on_any_answer_but_a_2xx() -> None:
    judge = EVENTS.acceptance.judge
    assert judge(204, None) is Verdict.DELIVERED
    for status in (None, 400, 401, 404, 409, 500):
        assert judge(status, "HTTP: already ended") is Verdict.RETRY


def test_reports_are_refused_on_a_definite_4xx_and_done_when_the_engine_had_them() -> None:
    judge = REPORTS.acceptance.judge
    assert judge(200, None) is Verdict.DELIVERED
    assert judge(409, "HTTP 409: The action execution has already ended") is Verdict.DELIVERED
    assert judge(400, "HTTP 400: bad state") is Verdict.REFUSED
    assert judge(404, "HTTP 404: not found") is Verdict.REFUSED
    for status in (None, 401, 408, 425, 429, 500, 503):
        assert judge(status, "busy") is Verdict.RETRY


def test_the_promised_log_lines() -> None:
    fields = {"wf": "W", "event": "WORKFLOW_SUCCEEDED", "subject": "W", "target": "levante"}
    assert EVENTS.before["workflow"].format(**fields) == (
        "[W] The workflow event WORKFLOW_SUCCEEDED for W will be published to levante.")
    assert EVENTS.after["workflow"].format(**fields) == (
        "[W] The workflow event WORKFLOW_SUCCEEDED for W is published to levante.")
    task = {**fields, "event": "TASK_SUCCEEDED", "subject": "T"}
    assert EVENTS.before["task"].format(**task) == (
        "[W] The task event TASK_SUCCEEDED for T will be processed for levante.")
    assert EVENTS.after["task"].format(**task) == (
        "[W] The task event TASK_SUCCEEDED for T is processed for levante.")
