import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reproduce.catalog import CHAPTERS, PAGES
from reproduce.chapter import hide_parameter_cells
from reproduce.datasets import mnist as data
from reproduce.results import REPO_ROOT

os.environ.setdefault("REPRODUCE_NO_PROGRESS", "1")


def private_mnist(folder: Path) -> Path:
    """A data folder holding a copy of the shared MNIST cache (fetched once), and nothing of any earlier run."""
    data.load_mnist()
    (folder / "mnist").mkdir(parents=True, exist_ok=True)
    for f in (data.cache_path(), data.cache_path().with_suffix(".npz.sha256")):
        shutil.copy(f, folder / "mnist" / f.name)
    return folder


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """An empty, private data folder (REPRODUCE_DATA_DIR)."""
    d = tmp_path / "data"
    monkeypatch.setenv("REPRODUCE_DATA_DIR", str(d))
    return d


NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))
EXPERIMENT_OF = {**{c.notebook: c.name for c in CHAPTERS}, **dict.fromkeys(PAGES)}  # notebook -> experiment


@pytest.fixture(scope="session")
def executed(tmp_path_factory):
    """Execute every notebook at smoke; records go to a private results folder, checkpoints to a private data dir."""
    import papermill
    tmp = tmp_path_factory.mktemp("e2e")
    private_mnist(tmp / "data")  # a copy, so that no checkpoint of an earlier run is reused
    old = os.environ.get("REPRODUCE_DATA_DIR")
    os.environ["REPRODUCE_DATA_DIR"] = str(tmp / "data")
    try:
        outs = {}
        for nb in NOTEBOOKS:
            out = tmp / nb.name
            papermill.execute_notebook(str(nb), str(out), cwd=str(REPO_ROOT), progress_bar=False,
                                       parameters={"profile": "smoke", "results_dir": str(tmp / "results"),
                                                   "rerun": True}, kernel_name="python3")
            hide_parameter_cells(out)  # as `make book` does
            outs[nb.stem] = out
    finally:
        if old is None:
            os.environ.pop("REPRODUCE_DATA_DIR", None)
        else:
            os.environ["REPRODUCE_DATA_DIR"] = old
    return tmp, outs


@pytest.fixture(scope="session")
def built_book(executed, tmp_path_factory):
    """The book built with -W -n --keep-going from the executed notebooks, in a copy of the book's sources."""
    _, outs = executed
    src = tmp_path_factory.mktemp("book") / "src"
    (src / "book" / "chapters").mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(REPO_ROOT / name, src / name)
    shutil.copytree(REPO_ROOT / "_static", src / "_static")
    for md in (REPO_ROOT / "book").glob("*.md"):
        shutil.copy(md, src / "book" / md.name)
    for name, out in outs.items():
        shutil.copy(out, src / "book" / "chapters" / f"{name}.ipynb")
    jb = Path(sys.executable).parent / "jupyter-book"
    done = subprocess.run([str(jb), "build", str(src), "-W", "-n", "--keep-going"], capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return src / "_build" / "html"
