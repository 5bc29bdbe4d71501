"""The platform's side of the handshake with the engine, in one package.

- :mod:`.launch`: a workflow action started on the engine (and :mod:`.rerun`, re-runs);
- :mod:`.receiver`: the engine's events applied to platform executions;
- :mod:`.tracker`: the results tracker, polling the engine when events do not come;
- :mod:`.reports`: the outbox of reports to the engine (a child's end, cancel/pause/resume);
- :mod:`.tree_status`: statuses across a tree of workflow executions;
- :mod:`.engine_auth`: how the platform authenticates to the engine;
- :mod:`.tables` and :mod:`.store`: its tables and every SQL statement on them.

What crosses the wire is declared in :mod:`levante.contract`.
"""
