import hashlib
import json
from pathlib import Path

import pytest


def write_dataset(directory: Path, lines: list[str], name: str = "Beauty", attributes: dict | None = None) -> Path:
    """Write NAME.txt, NAME_item2attributes.json and a matching SHA256SUMS into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.txt").write_text("".join(line + "\n" for line in lines))
    if attributes is None:
        n_items = max(int(t) for line in lines for t in line.split()[1:] if t.lstrip("-").isdigit())
        attributes = {str(i): [1 + i % 3] for i in range(1, n_items + 1)}
    (directory / f"{name}_item2attributes.json").write_text(json.dumps(attributes))
    sums = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}"
            for p in sorted(directory.iterdir()) if p.name != "SHA256SUMS"]
    (directory / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    return directory


@pytest.fixture
def synthetic_dir(tmp_path, monkeypatch):
    """A small dataset in which every (user, position) has its own item: leaks are detectable by id."""
    lines, next_item = [], 1
    for user in range(1, 61):
        length = 4 + user % 9
        lines.append(" ".join([str(user)] + [str(next_item + i) for i in range(length)]))
        next_item += length
    directory = write_dataset(tmp_path / "data", lines)
    monkeypatch.setenv("SEQREC_DATA", str(directory))
    monkeypatch.setenv("SEQREC_CACHE", str(tmp_path / "cache"))
    return directory


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQREC_CACHE", str(tmp_path / "cache"))
    return tmp_path
