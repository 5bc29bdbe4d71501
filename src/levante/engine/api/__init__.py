"""The engine REST API, Mistral v2 compatible (see `app.create_app`)."""
