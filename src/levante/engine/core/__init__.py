"""The engine core: what runs workflows, whatever the language they are written in.

`machine` (pure decisions), `step` (one transaction: load, decide, write), `runtime`
(`EngineRuntime`, the public operations), `scheduler` and `worker` (the durable work
queue and the loop that drains it), `cron` (cron triggers), `context` (what expressions
see), `claims`, `exceptions`.
"""
