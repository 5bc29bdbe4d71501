"""The engine's side of the handshake with the platform: the notifier that delivers
outbox events (:mod:`.delivery`) and its table (:mod:`.tables`; its SQL is in
:mod:`levante.engine.store.outbox`). What crosses the wire is declared in
:mod:`levante.contract`."""
