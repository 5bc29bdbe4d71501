"""StackStorm's own expression functions, shared by the engine's workflow expressions and
the platform's rendered Jinja (parameters, action-chains).

Neither service owns them: both import this package, which imports neither. `JINJA_FILTERS`
maps a Jinja filter name to its function; `YAQL_FUNCTIONS` a workflow (YAQL) function name
to its function.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

JINJA_FILTERS: dict[str, Callable[..., Any]] = {}
YAQL_FUNCTIONS: dict[str, Callable[..., Any]] = {}
