"""Password hashing."""

from __future__ import annotations

import hashlib
import hmac
import os

ITERATIONS = 10_000  # low for the tests; production sets PASSWORD_ITERATIONS


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    iterations = int(os.environ.get("PASSWORD_ITERATIONS", ITERATIONS))
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"pbkdf2_sha256${iterations}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    _, iterations, salt, digest = stored.split("$")
    candidate = hashlib.pbkdf2_hmac(
        "sha256", password.encode(), bytes.fromhex(salt), int(iterations)
    )
    return hmac.compare_digest(candidate.hex(), digest)
