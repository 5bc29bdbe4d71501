"""Webhooks: ``POST /v1/webhooks/<url>`` for rules on ``core.st2.webhook`` and the generic
``POST /v1/webhooks/st2``; each request records trigger instances in one small commit."""
