"""Command-line interfaces: levante, levante-db-manage, levante-track-result."""
