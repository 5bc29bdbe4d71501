"""The engine's SQL: definitions (`definitions`) and read-only listings (`queries`)."""

from levante.engine.store.definitions import (
    DefinitionError,
    DuplicateError,
    InvalidRequest,
    NotFound,
)

__all__ = ["DefinitionError", "DuplicateError", "InvalidRequest", "NotFound"]
