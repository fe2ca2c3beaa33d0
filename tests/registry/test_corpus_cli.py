"""Every real agent file of the corpus, and the seed, survive publish then export byte for byte."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import SEED, Cli, corpus_files


def test_whole_corpus_round_trips_through_the_cli(cli: Cli, tmp_path: Path) -> None:
    files = [*corpus_files(), SEED]
    assert len(files) == 164
    out = tmp_path / "exported"
    for i, path in enumerate(files):
        name = f"corpus-{i:03d}"  # corpus names clash across repositories; keep each apart
        cli.ok("publish", str(path), "--name", name)
        cli.ok("export", name, "-o", str(out) + "/")
        assert (out / f"{name}.md").read_bytes() == path.read_bytes(), path
    assert len(list(out.iterdir())) == len(files)
