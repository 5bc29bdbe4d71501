"""Alembic migrations: the only code that creates, alters or drops tables."""
