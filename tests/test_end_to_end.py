"""The chapter end to end at the `smoke` profile: papermill runs the notebook (which trains on real MNIST),
the book builds with -W -n, and the fresh numbers match the recorded smoke run (CI's regression check)."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reproduce.results import REPO_ROOT, read_record
from tolerances import SMOKE_TEST_ERRORS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def executed(tmp_path_factory):
    """Execute notebooks/01_mnist.ipynb at smoke; its record goes to a private results folder."""
    import papermill
    tmp = tmp_path_factory.mktemp("e2e")
    out = tmp / "01_mnist.ipynb"
    papermill.execute_notebook(str(REPO_ROOT / "notebooks" / "01_mnist.ipynb"), str(out), cwd=str(REPO_ROOT),
                               parameters={"profile": "smoke", "results_dir": str(tmp / "results"), "rerun": True},
                               progress_bar=False, kernel_name="python3")
    return tmp, out


def test_notebook_records_a_smoke_result(executed):
    tmp, _ = executed
    rec = read_record("smoke", "mnist", tmp / "results")
    assert rec["profile"] == "smoke" and rec["config"]["seeds"] == 2
    for key in ("commit", "torch", "device", "wall_s", "date"):
        assert rec["provenance"][key]
    for role in ("teacher", "small", "distilled"):
        s = rec["results"][role]["test_errors"]
        assert s["n"] == 2 and len(s["values"]) == 2 and s["min"] <= s["mean"] <= s["max"]
        assert rec["results"][role]["curves"]


def test_fresh_smoke_numbers_match_the_recorded_ones(executed):
    tmp, _ = executed
    fresh = read_record("smoke", "mnist", tmp / "results")
    recorded = read_record("smoke", "mnist")
    assert recorded is not None, "results/smoke/mnist.json is missing: run `reproduce run mnist --profile smoke`"
    assert fresh["fingerprint"] == recorded["fingerprint"], "the smoke config changed: record it again"
    for role, tol in SMOKE_TEST_ERRORS["mnist"].items():
        a = fresh["results"][role]["test_errors"]["mean"]
        b = recorded["results"][role]["test_errors"]["mean"]
        assert abs(a - b) <= tol, f"{role}: fresh {a} vs recorded {b} (tolerance {tol})"


def test_executed_notebook_has_no_errors_and_shows_the_table(executed):
    _, out = executed
    nb = json.loads(out.read_text())
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
    html = "".join("".join(o.get("data", {}).get("text/html", "")) for o in outputs)
    assert "distilled at T = 20" in html and "this run (`smoke`)" in html
    assert any("image/png" in o.get("data", {}) for o in outputs)


def test_book_builds_without_warnings(executed, tmp_path):
    _, out = executed
    src = tmp_path / "src"
    (src / "book" / "chapters").mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(REPO_ROOT / name, src / name)
    for md in (REPO_ROOT / "book").glob("*.md"):
        shutil.copy(md, src / "book" / md.name)
    shutil.copy(out, src / "book" / "chapters" / "01_mnist.ipynb")
    jb = Path(sys.executable).parent / "jupyter-book"
    done = subprocess.run([str(jb), "build", str(src), "-W", "-n", "--keep-going"], capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    page = (src / "_build" / "html" / "book" / "chapters" / "01_mnist.html").read_text()
    assert "Paper beside ours" in page and "<img" in page
    # the numbers in the prose are the glued values of this run, not text typed into the notebook
    rec = read_record("smoke", "mnist", executed[0] / "results")
    for role in ("teacher", "small", "distilled"):
        assert f"{rec['results'][role]['test_errors']['mean']:.1f}" in page
    assert (src / "_build" / "html" / "index.html").exists()
