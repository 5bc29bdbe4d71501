"""The platform: StackStorm's packs, actions and executions, and its v1 API.

- ``core/``: packs and their actions, parameters, executions, API keys, the runner loop,
  the core tables (``models``) and ``store`` (all the core's SQL).
- ``runners/``: how an action is carried out (local, remote, python, http, chains, ...).
- ``api/``: the HTTP app (authentication, errors, the core routes) and what routes share.
- ``<feature>/``: one package per feature (``configs/`` is the first): ``tables.py``,
  ``store.py`` (all its SQL), ``api.py`` with ``routes()``, and if it has them
  ``service.py`` and ``cli.py``. It is mounted with one line each in
  ``api.app.FEATURES``, ``levante.db.metadata.MODEL_MODULES``,
  ``levante.roles.FEATURE_SERVICES`` and ``levante.cli.main.COMMANDS``.
- The handshake with the engine (launching workflows, receiving their events, tracking and
  reporting) sits beside these; the platform never imports the engine.
"""
