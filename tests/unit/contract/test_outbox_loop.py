"""The one delivery loop, with a route's differences as data: outcomes by verdict, waves
(commands first), rounds, and the hand-over of lines claimed elsewhere."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine

from levante.contract.delivery import EVENTS, REPORTS, Answer, Backoff
from levante.contract.outbox import Claimed, DeliveryLoop, LoopSettings
from levante.contract.store import PENDING, Outcome

CREATED = datetime(2026, 1, 1, tzinfo=UTC)


def _report(n: int, kind: str) -> dict[str, Any]:
    return {"id": n, "kind": kind, "execution_id": f"ex{n}", "target_id": f"t{n}",
            "body": {"state": "SUCCESS"}, "attempts": 0, "created_at": CREATED}


class Fake(DeliveryLoop):
    """A loop whose claims hand out prepared lines and whose requests answer as told."""

    def __init__(self, route: Any, answers: dict[int, Answer], *, rounds: bool = False,
                 max_age: float | None = None) -> None:
        super().__init__(route, create_engine("sqlite://"), LoopSettings(
            poll=0.01, concurrency=10, backoff=Backoff(1.0, 1.0, max_age), timeout=1.0,
            rounds=rounds))
        self.answers = answers
        self.queue: list[list[list[dict[str, Any]]]] = []
        self.sent: list[int] = []
        self.recorded: list[Outcome] = []
        self.claims: list[int] = []
        self.gate = asyncio.Event()
        self.gate.set()

    def claim(self, outcomes: Sequence[Outcome], limit: int, direct: bool = False) -> Claimed:
        self.recorded.extend(outcomes)
        self.claims.append(limit)
        if limit <= 0 or not self.queue:
            return Claimed()
        return Claimed(self.queue.pop(0))

    async def request(self, client: httpx.AsyncClient, line: list[dict[str, Any]],
                      material: Any) -> Answer:
        await self.gate.wait()
        self.sent.append(line[0]["id"])
        return self.answers[line[0]["id"]]

    async def open_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient()


async def _settle(loop: Fake, count: int) -> None:
    for _ in range(500):
        if len(loop.recorded) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"recorded {loop.recorded}")


def test_outcomes_follow_the_routes_verdicts() -> None:
    async def main() -> Fake:
        loop = Fake(REPORTS, {1: Answer(204, None, 1), 2: Answer(404, "HTTP 404: gone", 1),
                              3: Answer(503, "HTTP 503: busy", 1),
                              4: Answer(409, "HTTP 409: has already ended", 1)})
        loop.queue.append([[_report(n, "action")] for n in (1, 2, 3, 4)])
        stopping = asyncio.Event()
        runner = asyncio.create_task(loop.run(stopping))
        await _settle(loop, 4)
        stopping.set()
        await runner
        return loop

    loop = asyncio.run(main())
    states = {o.message_id: o.state for o in loop.recorded}
    assert states == {1: "acknowledged", 2: "rejected", 3: PENDING, 4: "acknowledged"}
    retry = next(o for o in loop.recorded if o.message_id == 3)
    assert retry.retry_at is not None and retry.error == "HTTP 503: busy"


def test_an_event_past_its_retry_age_is_given_up() -> None:
    async def main() -> Fake:
        row = {"id": 1, "kind": "webhook", "event": "WORKFLOW_SUCCEEDED", "event_id": 5,
               "execution_id": "wf", "task_execution_id": None, "attempts": 3,
               "created_at": CREATED}
        loop = Fake(EVENTS, {1: Answer(None, "ConnectError", 1)}, max_age=60.0)
        loop.queue.append([[row]])
        stopping = asyncio.Event()
        runner = asyncio.create_task(loop.run(stopping))
        await _settle(loop, 1)
        stopping.set()
        await runner
        return loop

    [outcome] = asyncio.run(main()).recorded
    assert (outcome.state, outcome.retry_at) == ("failed", None)


def test_commands_go_before_the_ends_claimed_with_them() -> None:
    async def main() -> Fake:
        ok = Answer(204, None, 1)
        loop = Fake(REPORTS, {1: ok, 2: ok, 3: ok})
        loop.queue.append([[_report(1, "action")], [_report(2, "workflow")],
                           [_report(3, "action")]])
        stopping = asyncio.Event()
        runner = asyncio.create_task(loop.run(stopping))
        await _settle(loop, 3)
        stopping.set()
        await runner
        return loop

    assert asyncio.run(main()).sent[0] == 2


@pytest.mark.parametrize("rounds", [True, False])
def test_rounds_hold_the_next_claim_until_the_round_is_answered(rounds: bool) -> None:
    async def main() -> Fake:
        ok = Answer(204, None, 1)
        loop = Fake(REPORTS, {1: ok, 2: ok}, rounds=rounds)
        loop.gate.clear()  # the first round hangs
        loop.queue.append([[_report(1, "action")]])
        loop.queue.append([[_report(2, "action")]])
        stopping = asyncio.Event()
        runner = asyncio.create_task(loop.run(stopping))
        if rounds:
            await asyncio.sleep(0.1)  # long enough for a second claim it must not make
        else:
            for _ in range(500):  # it claims the second at once (a loaded machine: soon)
                if not loop.queue:
                    break
                await asyncio.sleep(0.01)
        claimed = len(loop.queue)
        loop.gate.set()
        await _settle(loop, 2)
        stopping.set()
        await runner
        loop.claimed_while_held = claimed  # type: ignore[attr-defined]
        return loop

    loop = asyncio.run(main())
    assert loop.claimed_while_held == (1 if rounds else 0)  # type: ignore[attr-defined]
    assert sorted(loop.sent) == [1, 2]


def test_lines_handed_over_are_sent_without_a_claim() -> None:
    async def main() -> Fake:
        loop = Fake(REPORTS, {7: Answer(204, None, 1)})
        stopping = asyncio.Event()
        runner = asyncio.create_task(loop.run(stopping))
        while loop.client is None:
            await asyncio.sleep(0.01)
        assert await asyncio.to_thread(loop.take, [[_report(7, "action")]])
        await _settle(loop, 1)
        stopping.set()
        await runner
        return loop

    loop = asyncio.run(main())
    assert loop.sent == [7] and loop.recorded[0].state == "acknowledged"
