"""Inquiries: StackStorm's ``core.ask``, a question a workflow asks a person.

An execution of an action of the ``inquirer`` runner becomes an inquiry: it is ``pending``
(holding no runner worker), and when it has a parent, the root workflow above it is asked
to pause. An answer (``PUT /v1/inquiries/<id>``, ``st2 inquiry respond``), checked against
the inquiry's JSON schema and its ``users``/``roles``, ends it ``succeeded`` with the
answer in its result (``response``) and resumes the root workflow; an inquiry nobody
answers within its ``ttl`` ends ``timeout`` and resumes the root too (the sweep of
:mod:`levante.platform.inquiries.service`).

Modules: ``tables`` (the table), ``store`` (its SQL), ``answers`` (schema and permission
checks), ``runner`` (the ``inquirer`` runner), ``workflows`` (pause and resume of the
root), ``service`` (respond, the TTL sweep), ``api`` (``/v1/inquiries``), ``cli``
(``levante inquiry``). Nothing is imported here: the runner catalog imports the runner
type alone.
"""
