"""Scale-out: under torchrun with 2 CPU ranks (gloo) the recorded result equals the single-process one for the same
seeds, and a rank that dies stops the run with a message; rerunning resumes the shards and gives the same numbers."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reproduce.datasets.speech import corpus as C
from tolerances import SMOKE, get

pytestmark = pytest.mark.slow
TORCHRUN = Path(sys.executable).parent / "torchrun"
ARGS = ["run", "speech", "--profile", "smoke", "--no-progress", "--seeds", "4",
        "--set", "corpus.train_speakers=4", "--set", "corpus.test_speakers=2", "--set", "corpus.utterances_per_speaker=6",
        "--set", "baseline.epochs=6", "--set", "distilled.epochs=1", "--set", "hard3.epochs=2",
        "--set", "soft3.epochs=2", "--set", "hard3.eval_every=1", "--set", "soft3.eval_every=1"]


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    from reproduce.experiments.speech import resolve_config
    d = tmp_path_factory.mktemp("corpus")
    C.load(resolve_config("smoke", 4, ARGS[ARGS.index("--set"):][1::2])["corpus"], root=d, progress=False)
    return d


def _env(data):
    # one thread per process everywhere: thread count changes CPU rounding, and 2 ranks x 1 thread fill 2 cores
    return dict(os.environ, REPRODUCE_DATA_DIR=str(data), OMP_NUM_THREADS="1", REPRODUCE_CHECKPOINT_EVERY_S="0",
                REPRODUCE_NO_PROGRESS="1")


def _fresh(tmp_path, name, corpus_dir):
    d = tmp_path / name
    shutil.copytree(corpus_dir, d)  # the generated corpus only (speech/), no checkpoints
    return d


def _numbers(path):
    r = json.loads(path.read_text())["results"]
    for role in ("baseline", "distilled", "hard3", "soft3"):
        r[role].pop("wall_s")
    return r


def _assert_same_record(a, b):
    """Sharded and single-process records hold the same numbers to float rounding: equal where every product went
    through the same kernel, else within the smoke tolerances (derived from the rounding of another GEMM library,
    a larger change than another batch size; tests/tolerances.py)."""
    na, nb = _numbers(a), _numbers(b)
    if na == nb:
        return
    assert set(na) == set(nb) and all(na[k].get("seeds") == nb[k].get("seeds") for k in na if isinstance(na[k], dict))
    for path, tol in SMOKE["speech"].items():
        assert abs(get(na, path) - get(nb, path)) <= tol, (path, get(na, path), get(nb, path))


def _torchrun(data, res, **kw):
    return subprocess.Popen([str(TORCHRUN), "--nproc_per_node=2", "-m", "reproduce.cli", *ARGS, "--results-dir",
                             str(res)], env=_env(data), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def test_two_ranks_record_what_one_process_records(tmp_path, corpus_dir):
    one = subprocess.run([sys.executable, "-m", "reproduce.cli", *ARGS, "--results-dir", str(tmp_path / "r1")],
                         env=_env(_fresh(tmp_path, "d1", corpus_dir)), capture_output=True, text=True, timeout=600)
    assert one.returncode == 0, one.stderr[-2000:]
    two = _torchrun(_fresh(tmp_path, "d2", corpus_dir), tmp_path / "r2")
    out, _ = two.communicate(timeout=600)
    assert two.returncode == 0, out[-3000:]
    a, b = tmp_path / "r1" / "smoke" / "speech.json", tmp_path / "r2" / "smoke" / "speech.json"
    _assert_same_record(a, b)
    assert json.loads(b.read_text())["provenance"]["ranks"] == 2
    # each rank trained and checkpointed only its own members: two checkpoints per role
    assert len(list((tmp_path / "d2" / "runs").glob("speech-baseline-*.pt"))) == 2


def _children(pid):
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def test_a_dead_rank_stops_the_run_and_a_rerun_resumes_to_the_same_numbers(tmp_path, corpus_dir):
    clean = _torchrun(_fresh(tmp_path, "clean", corpus_dir), tmp_path / "rc")
    out, _ = clean.communicate(timeout=600)
    assert clean.returncode == 0, out[-3000:]
    data = _fresh(tmp_path, "d", corpus_dir)
    run = _torchrun(data, tmp_path / "r")
    deadline = time.time() + 300
    while time.time() < deadline and len(list((data / "runs").glob("speech-baseline-*.pt"))) < 2:
        time.sleep(0.2)  # both ranks have checkpointed at least one epoch of their members
    workers = _children(run.pid)
    assert len(workers) == 2 and run.poll() is None, "the run finished before a rank could be killed"
    os.kill(workers[1], signal.SIGKILL)
    out, _ = run.communicate(timeout=300)
    assert run.returncode != 0 and "reproduce.cli" in out  # torchrun names the failed command and stops
    assert not (tmp_path / "r" / "smoke" / "speech.json").exists()  # nothing half-recorded
    again = _torchrun(data, tmp_path / "r")
    out, _ = again.communicate(timeout=600)
    assert again.returncode == 0, out[-3000:]
    # the same ranks on the same machine: a resumed shard repeats the clean run exactly
    assert _numbers(tmp_path / "r" / "smoke" / "speech.json") == _numbers(tmp_path / "rc" / "smoke" / "speech.json")
