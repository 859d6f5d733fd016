"""Every chapter end to end at the `smoke` profile: papermill runs each notebook (training on real MNIST, in a
private data folder so nothing is reused), the book builds with -W -n, and the fresh numbers match the recorded
smoke runs (CI's regression check)."""
import json
import re

import pytest

from conftest import EXPERIMENT_OF, NOTEBOOKS
from reproduce.results import read_record
from tolerances import SMOKE, get as _get

pytestmark = pytest.mark.slow


def test_every_notebook_has_an_experiment():
    assert [nb.stem for nb in NOTEBOOKS] == sorted(EXPERIMENT_OF)


def test_notebooks_record_smoke_results_with_provenance(executed):
    tmp, _ = executed
    for exp in filter(None, EXPERIMENT_OF.values()):
        rec = read_record("smoke", exp, tmp / "results")
        assert rec["profile"] == "smoke" and rec["config"]["seeds"] >= 2
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


def test_executed_notebooks_have_no_errors_and_show_figures(executed):
    _, outs = executed
    for name, out in outs.items():
        nb = json.loads(out.read_text())
        outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
        assert not [o for o in outputs if o["output_type"] == "error"], name
        text = "".join("".join(v) for o in outputs for k, v in o.get("data", {}).items() if "text" in k)
        if EXPERIMENT_OF[name]:
            assert "profile `smoke`" in text, name  # the provenance of this run is shown
            assert any("image/png" in o.get("data", {}) for o in outputs), name


def test_book_builds_without_warnings(executed, built_book):
    results, _ = executed
    html = built_book
    assert (html / "index.html").exists()
    page = (html / "book" / "chapters" / "01_mnist.html").read_text()
    assert "Paper beside ours" in page and "<img" in page
    # the numbers in the prose are the glued values of this run, not text typed into the notebook
    rec = read_record("smoke", "mnist", results / "results")
    for role in ("teacher", "small", "distilled"):
        assert f"{rec['results'][role]['test_errors']['mean']:.1f}" in page
    page2 = (html / "book" / "chapters" / "02_omitted_digit.html").read_text()
    assert "validation-chosen" in page2 and page2.count("<img") >= 2
    page4 = (html / "book" / "chapters" / "04_speech.html").read_text()
    rec4 = read_record("smoke", "speech", results / "results")
    assert "Table 5" in page4 and page4.count("<img") >= 3
    assert f"keeps {rec4['results']['distilled']['gain_kept_pct']:.0f}% of" in page4  # glued verdict of this run
    from reproduce.reports.speech import per_claims
    assert f"test phone error rate is {per_claims(rec4)['baseline']:.2f}%" in page4  # MyST curls the apostrophes
    card = (html / "book" / "chapters" / "99_scorecard.html").read_text()
    assert "[smoke]" in card and "not yet run" in card
    # a missing or undefined number reads as words, never as pandas' NaN (a table cell or a percentage)
    for page_path in sorted((html / "book").rglob("*.html")):
        shown = re.findall(r">\s*nan\s*<|[+-]?\bnan%", page_path.read_text())
        assert not shown, f"{page_path.name} shows {shown[:3]}"
