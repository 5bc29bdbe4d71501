"""The SQL database: connection setup, the shared metadata, migrations and the schema guard."""
