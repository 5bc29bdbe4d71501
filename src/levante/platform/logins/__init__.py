"""Logins: users with passwords (an htpasswd file), tokens for them, and ``/v1/user``.

- :mod:`.users`: the users file (bcrypt hashes), read and written.
- :mod:`.api`: ``POST /auth/v1/tokens`` with HTTP Basic credentials, ``GET /v1/user``.
- :mod:`.listeners`: the extra ports st2client assumes (auth on 9100, stream on 9102).
- :mod:`.cli`: ``levante user add|passwd|delete|list``.
"""
