"""Exported files: written whole, even by several writers at once."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from core.errors import AgentRegistryError
from registry.files import export_path, write_atomically


def test_concurrent_writers_never_share_a_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "out" / "agent.md"
    payloads = [bytes([65 + n]) * 200_000 for n in range(8)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(payloads))

    def writer(data: bytes) -> None:
        start.wait()
        try:
            for _ in range(20):
                write_atomically(target, data)
        except BaseException as err:  # reported below: a thread's exception is otherwise lost
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(p,)) for p in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert target.read_bytes() in payloads  # one writer's bytes, whole
    assert [p.name for p in target.parent.iterdir()] == ["agent.md"]


def test_export_path(tmp_path: Path) -> None:
    assert export_path(str(tmp_path), "a") == tmp_path / "a.md"
    assert export_path(f"{tmp_path}/new/", "a") == tmp_path / "new" / "a.md"
    assert export_path(f"{tmp_path}/new", "a") == tmp_path / "new"


@pytest.mark.parametrize(
    "name", ["../../../evil", "a/b", "..", ".", "", "/abs", "a\\b", "a\0b", "sub/.."]
)
def test_export_path_refuses_a_name_that_is_not_a_plain_file_name(
    tmp_path: Path, name: str
) -> None:
    with pytest.raises(AgentRegistryError, match="is not a plain file name"):
        export_path(f"{tmp_path}/", name)
