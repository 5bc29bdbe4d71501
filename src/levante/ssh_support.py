"""asyncssh, imported without the warnings it makes its dependency print.

asyncssh still names DSA key types, which `cryptography` marks as deprecated: importing
asyncssh prints five CryptographyDeprecationWarning blocks to the server's log, none of
them about anything Levante does. Every module that uses SSH imports asyncssh from here,
which ignores exactly that category of warning raised from asyncssh's own modules.
"""

from __future__ import annotations

import warnings

try:
    from cryptography.utils import CryptographyDeprecationWarning
except ImportError:  # pragma: no cover - cryptography always comes with asyncssh
    pass
else:
    warnings.filterwarnings("ignore", category=CryptographyDeprecationWarning,
                            module=r"asyncssh(\..*)?$")

import asyncssh

__all__ = ["asyncssh"]
