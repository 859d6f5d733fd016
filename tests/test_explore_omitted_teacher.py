"""scripts/explore_omitted_teacher.py: the omitted-digit teacher grid (issue 26, part 4) lands one exploration per
cell, each the real chapter command with its teacher state and temperature, and skips a cell already recorded."""
import json
import os
import subprocess
import sys

from conftest import private_mnist
from reproduce.results import REPO_ROOT

SCRIPT = [sys.executable, str(REPO_ROOT / "scripts" / "explore_omitted_teacher.py"), "--profile", "smoke"]


def _run(args, data, **kw):
    return subprocess.run(SCRIPT + args, capture_output=True, text=True, cwd=REPO_ROOT,
                          env=dict(os.environ, REPRODUCE_DATA_DIR=str(data), REPRODUCE_NO_PROGRESS="1"), **kw)


def test_bad_cells_are_one_clear_line(tmp_path):
    for args, words in ((["--epochs", "5"], "keeps its state at epochs [1, 2, 3, 4], not at [5]"),
                        (["--epochs", "two"], "'two' is not a comma-separated list of numbers"),
                        (["--temperatures", "0,2"], "give positive temperatures")):
        p = _run(args + ["--results-dir", str(tmp_path)], tmp_path)
        assert p.returncode != 0 and words in p.stderr, p.stderr
        assert "Traceback" not in p.stderr


def test_a_cell_is_the_chapter_on_that_teacher_state_and_is_not_run_twice(tmp_path):
    data = private_mnist(tmp_path / "data")
    args = ["--epochs", "1", "--temperatures", "4", "--short", "--results-dir", str(tmp_path / "res")]
    p = _run(args, data, timeout=900)
    assert p.returncode == 0, p.stderr[-3000:]
    rec = json.loads((tmp_path / "res" / "smoke" / "omitted-digit-explore" / "teacher-e1-T4-short.json").read_text())
    c = rec["config"]
    assert rec["experiment"] == "omitted-digit" and c["teacher_epoch"] == 1
    assert (c["no3"]["temperature"], c["only78"]["temperature"]) == (4.0, 4.0)
    assert (c["no3"]["epochs"], c["only78"]["epochs"]) == (1, 1)  # a tenth of the smoke profile's 3, at least 1
    assert "--set teacher_epoch=1" in rec["provenance"]["command"]
    again = _run(args, data, timeout=300)
    assert again.returncode == 0 and "teacher-e1-T4-short: recorded already" in again.stdout
