"""Who is calling: API keys and tokens, shared by the platform and the engine.

Both services authenticate requests against the same identity tables (``api_keys`` and
``tokens``, see :mod:`levante.identity.tables`): a key made on the platform
(``levante apikey create``, ``st2 apikey create``) opens the engine API too. Neither
service imports the other: both import this package.

- :mod:`levante.identity.tables`: the two tables.
- :mod:`levante.identity.store`: every SQL statement on them.
- :mod:`levante.identity.keys`: hashing, look-ups (with a short cache), tokens, and the
  *service keys* Levante's own processes use to call each other.
"""
