"""The payloads of the triggers an execution's ending records (``core.st2.generic.
actiontrigger``, ``core.st2.generic.notifytrigger``): the instance is written with the
ending as a small row (``payload_from`` = the execution id) and completed here, from the
execution, when the rules engine processes it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

Row = dict[str, Any]


def complete(conn: Connection, instances: list[Row]) -> dict[str, Any]:
    """The full payload of each instance that has a ``payload_from``, by instance id.

    Not written yet (issue 13 in progress): each payload is returned as recorded.
    """
    return {row["id"]: row["payload"] for row in instances if row.get("payload_from")}
