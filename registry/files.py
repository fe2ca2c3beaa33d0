"""Writing exported agent files: where ``-o`` points, and a write that is never half done."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from core.errors import AgentRegistryError
from variants.validate import name_problem


def export_path(output: str, name: str) -> Path:
    """A folder (existing, or written with a trailing slash) gets NAME.md; else it is the file.

    NAME.md never leaves the folder: a name unsafe as a file name is refused (publish refuses
    them too; this guards rows written by anything else).
    """
    if Path(output).is_dir() or output.endswith(("/", "\\")):
        problem = name_problem(name)
        if problem is not None:
            raise AgentRegistryError(
                f"refusing to export agent {name!r}: its name is not a plain file name "
                f"(it {problem})"
            )
        return Path(output) / f"{name}.md"
    return Path(output)


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` so that a crash leaves either the old file or the new one, never half.

    The temporary file has a name of its own per call, so two processes exporting to the same
    path never write into one shared temporary file; the last rename wins, whole. It is created
    with mode 0o666 so the umask decides the permissions, as for any other new file. Any OS
    error becomes one line naming the path.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next(
            (p for p in reversed(path.parents) if p.exists() and not p.is_dir()), path.parent
        )
        raise AgentRegistryError(f"cannot write {path}: {blocker} is not a folder") from None
    except (OSError, ValueError) as err:  # ValueError: a NUL byte in the path
        raise AgentRegistryError(f"cannot write {path}: {_reason(err)}") from None
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except (OSError, ValueError) as err:  # ValueError: a NUL byte in the path
        raise AgentRegistryError(f"cannot write {path}: {_reason(err)}") from None


def _reason(err: OSError | ValueError) -> str:
    return (err.strerror if isinstance(err, OSError) else None) or str(err)
