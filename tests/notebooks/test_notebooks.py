"""Every notebook runs end to end with papermill on the smoke profile (tiny data, trains in seconds)."""
import re
from pathlib import Path

import nbformat
import papermill
import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))


@pytest.fixture(scope="module")
def smoke_workspace(tmp_path_factory):
    """One results folder and cache for all notebooks: a run two notebooks need trains once."""
    return tmp_path_factory.mktemp("smoke")


@pytest.mark.notebooks
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_on_the_smoke_profile(path, tmp_path, monkeypatch, smoke_workspace):
    monkeypatch.setenv("SEQREC_CACHE", str(smoke_workspace / "cache"))  # the kernel inherits it
    wanted = {"profile": "smoke", "train_missing": True, "analyse_missing": True, "seeds": [1, 2], "datasets": ["Beauty"],
              "results_dir": str(smoke_workspace / "results"), "figures_dir": str(tmp_path / "figures")}
    declared = papermill.inspect_notebook(str(path))
    parameters = {k: v for k, v in wanted.items() if k in declared}
    papermill.execute_notebook(str(path), str(tmp_path / path.name), parameters=parameters, cwd=str(NOTEBOOK_DIR),
                               kernel_name="python3", progress_bar=False)
    if "figures_dir" in parameters:
        assert list((tmp_path / "figures").glob("*.png")), f"{path.name} drew no figure"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_papermill_sees_every_parameter(path):
    cells = [c for c in nbformat.read(path, as_version=4).cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{path.name} needs exactly one cell tagged 'parameters'"
    assigned = set(re.findall(r"^(\w+)\s*=", cells[0].source, flags=re.M))
    assert assigned == set(papermill.inspect_notebook(str(path))), "papermill cannot parse a parameter line"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebooks_are_executed(path):
    """nbval can only compare what is stored: every checked cell must carry its outputs (run `make book`)."""
    cells = nbformat.read(path, as_version=4).cells
    checked = [c for c in cells if c.cell_type == "code" and "NBVAL_CHECK_OUTPUT" in c.source]
    assert checked, f"{path.name} checks no output"
    assert all(c.outputs for c in checked), f"{path.name} is stored unexecuted: run `make book` and commit it"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_book_shows_code_only_on_request(path):
    """Readers see the results; every code cell but the parameters is folded behind "Show code cell source"."""
    cells = nbformat.read(path, as_version=4).cells
    shown = [i for i, c in enumerate(cells) if c.cell_type == "code"
             and not {"hide-input", "parameters"} & set(c.metadata.get("tags", []))]
    assert not shown, f"{path.name}: code cells {shown} lack the 'hide-input' tag"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_figure_has_alt_text(path):
    """A figure a screen reader (or a reader whose images fail to load) meets needs words: myst-nb takes them from
    the cell's metadata, mystnb.image.alt."""
    cells = nbformat.read(path, as_version=4).cells
    drawn = [i for i, c in enumerate(cells) if c.cell_type == "code"
             and any("image/png" in o.get("data", {}) for o in c.get("outputs", []))]
    bare = [i for i in drawn if not cells[i].metadata.get("mystnb", {}).get("image", {}).get("alt")]
    assert not bare, f"{path.name}: cells {bare} draw a figure without alt text (metadata mystnb.image.alt)"
