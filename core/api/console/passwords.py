"""Console passwords, hashed with scrypt (the standard library's ``hashlib.scrypt``).

Parameters follow OWASP's password-storage advice for scrypt: N = 2**17
(128 MiB of memory), r = 8, p = 1, a 16-byte random salt and a 32-byte key.
They are stored with each hash (``scrypt$17$8$1$<salt>$<key>``, base64), so
that stronger parameters later still verify the passwords hashed before.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = ["MIN_LENGTH", "hash_password", "verify_password"]

#: log2 of scrypt's CPU/memory cost N.
LOG_N = 17
#: scrypt's block size r and parallelism p.
R, P = 8, 1
#: Bytes of salt and of derived key.
SALT_BYTES, KEY_BYTES = 16, 32
#: The shortest password ``dunning users add`` accepts.
MIN_LENGTH = 12
#: A hash checked when the user does not exist, so a wrong name costs what a wrong password does.
_DUMMY = f"scrypt${LOG_N}${R}${P}$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


def _derive(password: str, salt: bytes, log_n: int, r: int, p: int) -> bytes:
    n = 2**log_n
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=2 * 128 * n * r * p, dklen=KEY_BYTES
    )


def hash_password(password: str) -> str:
    """A salted scrypt hash of ``password``, with its parameters."""
    salt = secrets.token_bytes(SALT_BYTES)
    key = _derive(password, salt, LOG_N, R, P)
    encode = base64.b64encode
    return f"scrypt${LOG_N}${R}${P}${encode(salt).decode()}${encode(key).decode()}"


def verify_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches ``stored`` (None: no such user; checked anyway, and false)."""
    try:
        scheme, log_n, r, p, salt, key = (stored or _DUMMY).split("$")
        if scheme != "scrypt":
            return False
        derived = _derive(password, base64.b64decode(salt), int(log_n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return stored is not None and hmac.compare_digest(derived, base64.b64decode(key))
