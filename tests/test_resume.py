"""Kill a real run with SIGKILL mid-training, rerun the same command: it resumes and ends with the numbers an
uninterrupted run gives."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.slow

# smoke, on a fifth of its images: three runs of it are this file's whole cost (was 4.5 min on 2 cores at 5,000)
ARGS = ["run", "mnist", "--profile", "smoke", "--rerun", "--no-progress", "--set", "teacher.epochs=6",
        "--set", "teacher.train_subset=1000", "--set", "small.train_subset=1000", "--set", "distilled.train_subset=1000"]


def start(results, data_dir, env_extra=None):
    env = dict(os.environ, REPRODUCE_DATA_DIR=str(data_dir), REPRODUCE_CHECKPOINT_EVERY_S="0", **(env_extra or {}))
    return subprocess.Popen([sys.executable, "-m", "reproduce.cli", *ARGS, "--results-dir", str(results)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_sigkill_then_rerun_gives_the_uninterrupted_result(tmp_path):
    from reproduce.datasets import mnist as data
    data.load_mnist()  # fetch once into the shared cache, then copy it into the private data folders
    cache = data.cache_path()
    for name in ("a", "b"):
        d = tmp_path / name / "mnist"
        d.mkdir(parents=True)
        for f in (cache, cache.with_suffix(".npz.sha256")):
            (d / f.name).write_bytes(f.read_bytes())

    whole = start(tmp_path / "res_a", tmp_path / "a")
    assert whole.wait(timeout=600) == 0, whole.stdout.read()
    # one machine, one cached probe: the killed run and its rerun read the products probe that the uninterrupted run
    # took, as a user's runs share $REPRODUCE_DATA_DIR. Each run probing for itself can choose MKL in one and oneDNN in
    # the other where their products time within the probe's margin (seen on an AMD EPYC), and the curves then
    # differ in the last bits, which is not what this test is about
    for probe in (tmp_path / "a").glob("*-probe.json"):
        (tmp_path / "b" / probe.name).write_bytes(probe.read_bytes())

    victim = start(tmp_path / "res_b", tmp_path / "b")
    runs = tmp_path / "b" / "runs"
    deadline = time.time() + 300
    while time.time() < deadline:  # kill as soon as the teacher has checkpointed an epoch or two
        cks = list(runs.glob("teacher-*.pt")) if runs.exists() else []
        if cks and victim.poll() is None:
            time.sleep(1.0)
            break
        time.sleep(0.05)
    assert victim.poll() is None, "the run finished before it could be killed"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert not (tmp_path / "res_b" / "smoke" / "mnist.json").exists()  # no half-written record

    again = start(tmp_path / "res_b", tmp_path / "b")
    out, _ = again.communicate(timeout=600)
    assert again.returncode == 0, out
    a = json.loads((tmp_path / "res_a" / "smoke" / "mnist.json").read_text())
    b = json.loads((tmp_path / "res_b" / "smoke" / "mnist.json").read_text())
    assert b["results"]["teacher"]["resumed_from_epoch"] > 0
    for role in ("teacher", "small", "distilled"):
        assert a["results"][role]["test_errors"]["values"] == b["results"][role]["test_errors"]["values"], role
        assert a["results"][role]["curves"] == b["results"][role]["curves"], role
