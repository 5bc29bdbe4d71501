"""The live event stream, ``/v1/stream``: StackStorm's server-sent events.

- :mod:`.tables`: ``stream_changes``, the change feed on SQLite.
- :mod:`.store`: every statement of the feature (the change rows, NOTIFY, LISTEN).
- :mod:`.changes`: the hook the platform store calls after each execution or output
  write (SQLite: a row in the same transaction; PostgreSQL: ``NOTIFY``).
- :mod:`.hub`: one feed reader per process, fanned out to subscribers' bounded queues.
- :mod:`.events`: the event names and bodies st2client expects.
- :mod:`.api`: the SSE route; :mod:`.service`: ends open streams when the API stops.
- :mod:`.cli`: ``levante execution tail`` on the stream.
"""
