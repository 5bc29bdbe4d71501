"""The handshake contract between the engine and the platform.

Both services import this package; it imports neither of them. It says what crosses the
wire between them and what it means: the events and the states they stand for
(:mod:`.events`), the state lists of both sides (:mod:`.states`), paths, runner names and
the names in a launched workflow's ``params`` (:mod:`.wire`), the shape of an event body
(:mod:`.body`) and how deliveries are signed (:mod:`.signing`); and the one outbox both
directions use: its table (:mod:`.tables`), its SQL (:mod:`.store`), the routes as data
(:mod:`.delivery`) and the claim-and-send loop (:mod:`.outbox`). Adding an event means
adding it here (with its meaning) and emitting it in the engine; see
``docs/architecture.md``.
"""
