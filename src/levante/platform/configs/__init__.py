"""Pack configs: each pack's ``config.schema.yaml`` and ``<configs_path>/<pack>.yaml``,
checked at registration and served on /v1/configs and /v1/config_schemas.

The model for a platform feature package: ``tables.py`` (its tables, listed in
``levante.db.metadata.MODEL_MODULES``), ``store.py`` (all its SQL), ``api.py`` (its
routes, one line in ``levante.platform.api.app.FEATURES``), and when it has them
``service.py`` (a loop, one line in ``levante.roles.FEATURE_SERVICES``) and ``cli.py`` (Click
commands, one line in ``levante.cli.main.COMMANDS``). Its own logic sits beside them
(here ``schema.py``, the checking of a schema and a config).
"""
