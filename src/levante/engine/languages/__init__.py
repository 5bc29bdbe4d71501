"""Workflow languages behind one interface (see docs/languages.md).

`base` is the interface a language implements, `graph` the neutral graph it produces and
the engine core walks, `errors` the one error it raises, `registry` finds a language by the
name recorded with each definition. Each language is one package (`mistral_v2`).
"""
