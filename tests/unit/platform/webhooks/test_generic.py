"""The generic webhook and core.inject_trigger take the same input, refused alike."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from levante.platform.runners.base import ActionMeta, RunRequest
from levante.platform.webhooks.generic import BadGenericRequest, generic_instance
from levante.platform.webhooks.inject import run_inject_trigger


def test_a_trigger_and_a_payload_object() -> None:
    assert generic_instance("pack.t", {"a": 1}) == ("pack.t", {"a": 1})
    assert generic_instance("pack.t", None) == ("pack.t", {})


@pytest.mark.parametrize(("trigger", "payload", "words"), [
    (None, {}, "Trigger not specified"),
    ("", {}, "Trigger not specified"),
    (3, {}, "'trigger' must be a trigger ref"),
    ("pack.t", [1], "'payload' must be an object"),
    ("pack.t", "text", "'payload' must be an object"),
])
def test_what_is_refused_says_which(trigger: Any, payload: Any, words: str) -> None:
    with pytest.raises(BadGenericRequest, match=words):
        generic_instance(trigger, payload)
    # The runner fails with the same words, before it needs a database.
    from levante.platform.runners.action_chain import DATABASE

    action = ActionMeta(ref="core.inject_trigger", pack="core", name="inject_trigger",
                        description="", runner_type="inject-trigger", entry_point="",
                        enabled=True, parameters={})
    token = DATABASE.set(object())  # type: ignore[arg-type]
    try:
        outcome = asyncio.run(run_inject_trigger(
            RunRequest("e1", action, {"trigger": trigger, "payload": payload}),
            lambda *_: None))
    finally:
        DATABASE.reset(token)
    assert outcome.status == "failed" and words in outcome.result["error"]
