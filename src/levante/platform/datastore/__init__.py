"""The datastore: StackStorm's key-value pairs (``/v1/keys``, ``st2kv``), scoped to the
system or to a user, with a TTL, secret values encrypted at rest (see docs/datastore.md)."""
