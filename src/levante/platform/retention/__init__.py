"""Retention: finished history older than the configured age is deleted in small batches.

`store` holds the platform's purge statements, `service` the loop of the
``garbagecollector`` role; `levante-db-manage purge` runs the same purges by hand.
"""
