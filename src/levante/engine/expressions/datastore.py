"""``st2kv(key, decrypt=false, default=null)`` for YAQL and Jinja: a key of the platform's
datastore (see :mod:`levante.engine.datastore_client`). The expression context reads it
(``st2kv`` method), so that an evaluation outside a workflow execution says so."""

from __future__ import annotations

from typing import Any

from levante.engine.expressions.context import ExpressionContext


def st2kv(ctx: ExpressionContext, key: Any, decrypt: Any = False, default: Any = None) -> Any:
    reader = getattr(ctx, "st2kv", None)
    if reader is None:
        raise RuntimeError("st2kv() reads the platform's datastore: it is available in "
                           "workflow executions only")
    if not isinstance(decrypt, bool):
        raise TypeError(f"st2kv: 'decrypt' must be true or false, not {decrypt!r}")
    return reader(key, decrypt, default)
