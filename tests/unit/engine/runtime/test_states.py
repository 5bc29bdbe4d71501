from __future__ import annotations

from levante.engine import states


def test_mistral_state_names() -> None:
    assert states.DELAYED == states.RUNNING_DELAYED
    assert states.DELAYED == "DELAYED"
    assert {
        "IDLE", "WAITING", "RUNNING", "DELAYED", "PAUSED", "SUCCESS", "ERROR", "CANCELLED",
        "SKIPPED",
    } == states.ALL


def test_transitions() -> None:
    assert states.is_valid_transition("RUNNING", "PAUSED")
    assert states.is_valid_transition("PAUSED", "RUNNING")
    assert states.is_valid_transition("ERROR", "RUNNING")  # re-run
    assert not states.is_valid_transition("SUCCESS", "RUNNING")
    assert not states.is_valid_transition("CANCELLED", "SUCCESS")
    assert states.is_completed("SKIPPED") and not states.is_completed("WAITING")
