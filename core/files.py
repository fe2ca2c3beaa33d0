"""Reading a file a user names: a regular file only, and no more than a bound.

``/dev/zero``, ``/dev/urandom`` or a FIFO named as a body or a task suite would otherwise be read
forever (or block). Failures are ``OSError`` with a ``strerror`` for the caller's one line.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

MAX_SPEC_BYTES = 1_048_576  # a variant or experiment spec
MAX_SUITE_BYTES = 16_777_216  # a task suite


def read_regular_file(path: Path, limit: int) -> bytes:
    """The bytes of ``path``; ``OSError`` when it is not a regular file or is over ``limit``."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO opens without waiting for a writer
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        with os.fdopen(fd, "rb", closefd=False) as file:
            data = file.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"larger than the {limit:,}-byte limit", str(path))
    return data
