"""Every chapter end to end at the `smoke` profile: papermill runs each notebook (training on real MNIST, in a
private data folder so nothing is reused), the book builds with -W -n, and the fresh numbers match the recorded
smoke runs (CI's regression check)."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reproduce import data
from reproduce.results import REPO_ROOT, read_record
from tolerances import SMOKE

pytestmark = pytest.mark.slow
NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))
EXPERIMENT_OF = {"01_mnist": "mnist", "02_omitted_digit": "omitted-digit", "99_scorecard": None}


@pytest.fixture(scope="session")
def executed(tmp_path_factory):
    """Execute every notebook at smoke; records go to a private results folder, checkpoints to a private data dir."""
    import papermill
    tmp = tmp_path_factory.mktemp("e2e")
    data.load_mnist()  # the shared cache, fetched once; copied so that no checkpoint of an earlier run is reused
    private = tmp / "data" / "mnist"
    private.mkdir(parents=True)
    for f in (data.cache_path(), data.cache_path().with_suffix(".npz.sha256")):
        shutil.copy(f, private / f.name)
    old = os.environ.get("REPRODUCE_DATA_DIR")
    os.environ["REPRODUCE_DATA_DIR"] = str(tmp / "data")
    try:
        outs = {}
        for nb in NOTEBOOKS:
            out = tmp / nb.name
            papermill.execute_notebook(str(nb), str(out), cwd=str(REPO_ROOT), progress_bar=False,
                                       parameters={"profile": "smoke", "results_dir": str(tmp / "results"),
                                                   "rerun": True}, kernel_name="python3")
            outs[nb.stem] = out
    finally:
        if old is None:
            os.environ.pop("REPRODUCE_DATA_DIR", None)
        else:
            os.environ["REPRODUCE_DATA_DIR"] = old
    return tmp, outs


def test_every_notebook_has_an_experiment():
    assert [nb.stem for nb in NOTEBOOKS] == sorted(EXPERIMENT_OF)


def test_notebooks_record_smoke_results_with_provenance(executed):
    tmp, _ = executed
    for exp in filter(None, EXPERIMENT_OF.values()):
        rec = read_record("smoke", exp, tmp / "results")
        assert rec["profile"] == "smoke" and rec["config"]["seeds"] == 2
        for key in ("commit", "torch", "device", "wall_s", "date"):
            assert rec["provenance"][key]


@pytest.mark.parametrize("experiment", sorted(SMOKE))
def test_fresh_smoke_numbers_match_the_recorded_ones(executed, experiment):
    tmp, _ = executed
    fresh = read_record("smoke", experiment, tmp / "results")
    recorded = read_record("smoke", experiment)
    assert recorded is not None, f"results/smoke/{experiment}.json is missing: run `reproduce run {experiment} --profile smoke`"
    assert fresh["fingerprint"] == recorded["fingerprint"], "the smoke config changed: record it again"
    for path, tol in SMOKE[experiment].items():
        a, b = _get(fresh["results"], path), _get(recorded["results"], path)
        assert abs(a - b) <= tol, f"{experiment} {path}: fresh {a} vs recorded {b} (tolerance {tol})"


def _get(d, dotted):
    for part in dotted.split("."):
        d = d[part]
    return d


def test_executed_notebooks_have_no_errors_and_show_figures(executed):
    _, outs = executed
    for name, out in outs.items():
        nb = json.loads(out.read_text())
        outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
        assert not [o for o in outputs if o["output_type"] == "error"], name
        html = "".join("".join(o.get("data", {}).get("text/html", "")) for o in outputs)
        if EXPERIMENT_OF[name]:
            assert "this run (`smoke`)" in html, name
            assert any("image/png" in o.get("data", {}) for o in outputs), name


def test_book_builds_without_warnings(executed, tmp_path):
    results, outs = executed
    src = tmp_path / "src"
    (src / "book" / "chapters").mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(REPO_ROOT / name, src / name)
    for md in (REPO_ROOT / "book").glob("*.md"):
        shutil.copy(md, src / "book" / md.name)
    for name, out in outs.items():
        shutil.copy(out, src / "book" / "chapters" / f"{name}.ipynb")
    jb = Path(sys.executable).parent / "jupyter-book"
    done = subprocess.run([str(jb), "build", str(src), "-W", "-n", "--keep-going"], capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    html = src / "_build" / "html"
    assert (html / "index.html").exists()
    page = (html / "book" / "chapters" / "01_mnist.html").read_text()
    assert "Paper beside ours" in page and "<img" in page
    # the numbers in the prose are the glued values of this run, not text typed into the notebook
    rec = read_record("smoke", "mnist", results / "results")
    for role in ("teacher", "small", "distilled"):
        assert f"{rec['results'][role]['test_errors']['mean']:.1f}" in page
    page2 = (html / "book" / "chapters" / "02_omitted_digit.html").read_text()
    assert "validation-chosen" in page2 and page2.count("<img") >= 2
    card = (html / "book" / "chapters" / "99_scorecard.html").read_text()
    assert "[smoke]" in card and "not yet run" in card
