"""Bugs injected on purpose, one at a time, into a copy of the package, to prove that the tests catch them.

Each mutant is a text replacement in one source file and the tests that must fail with it (tests/test_mutants.py
checks that they do, in a private copy of the repository). The slow half, whether the smoke regression check of
CI (tests/test_end_to_end.py, tolerances in tests/tolerances.py) catches it too, is measured by hand:

    python tests/mutants.py                       # the fast tests of every mutant (about a minute)
    python tests/mutants.py --smoke mnist,omitted-digit   # plus: fresh smoke runs against the recorded numbers

Why these six: each is a way to get the paper's objective subtly wrong and still train something that looks
reasonable (the soft term's T^2, the weights of the two terms, which image a soft target belongs to, where T
divides), plus the one honest-reporting path (the validation-chosen bias shift) that only a test can guard.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# name: (file, text, replacement, what it breaks, tests that must fail)
MUTANTS = {
    "a_no_T_squared": (
        "reproduce/train/loss.py", "loss = (1 - a) * T * T * soft_kl(", "loss = (1 - a) * soft_kl(",
        "the T^2 factor on the soft term dropped",
        ["tests/test_distill.py::test_golden_weighted_loss_T2",
         "tests/test_distill.py::test_T_squared_keeps_soft_gradient_scale"]),
    "b_weights_swapped": (
        "reproduce/train/loss.py", "loss = (1 - a) * T * T * soft_kl(student_logits, teacher_logits, temperature)\n"
        "    loss = loss + a * hard_cross_entropy(",
        "loss = a * T * T * soft_kl(student_logits, teacher_logits, temperature)\n"
        "    loss = loss + (1 - a) * hard_cross_entropy(",
        "the soft and hard weights swapped",
        ["tests/test_distill.py::test_golden_weighted_loss_T1"]),
    "c_targets_misaligned": (
        "reproduce/train/trainer.py", "1, idx.unsqueeze(-1).expand(-1, -1, self.teacher_logits.shape[-1])), y,",
        "1, ((idx + 1) % self.n_train).unsqueeze(-1).expand(-1, -1, self.teacher_logits.shape[-1])), y,",
        "each soft target taken from the next image",
        ["tests/test_core.py::test_soft_targets_belong_to_the_image_they_are_applied_to"]),
    "d_student_not_softened": (
        "reproduce/train/loss.py", "return (logp.exp() * (logp - torch.log_softmax(student_logits / T, dim=-1)))",
        "return (logp.exp() * (logp - torch.log_softmax(student_logits, dim=-1)))",
        "the student's logits not divided by T in the soft term",
        ["tests/test_distill.py::test_golden_weighted_loss_T2"]),
    "e_teacher_at_T1": (
        "reproduce/train/loss.py", "logp = torch.log_softmax(teacher_logits / T, dim=-1)",
        "logp = torch.log_softmax(teacher_logits, dim=-1)",
        "the teacher softened at T = 1 whatever T is",
        ["tests/test_distill.py::test_golden_weighted_loss_T2"]),
    "f_shift_chosen_on_test": (
        "reproduce/experiments/omitted_digit.py", "s_val = bias.best_shift(vtot, shifts)",
        "s_val = bias.best_shift(tot, shifts)",
        "the 'validation-chosen' bias shift chosen on the test set",
        ["tests/test_bias.py::test_validation_chosen_shift_never_reads_the_test_labels"]),
}


def mutated_copy(name: str | None, dest: Path) -> Path:
    """A copy of the repository's package, tests and results with mutant `name` applied (None: unmutated); returns
    its root."""
    for part in ("reproduce", "tests", "results", "notebooks"):
        shutil.copytree(ROOT / part, dest / part, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for f in ("pyproject.toml", "_config.yml", "_toc.yml"):
        shutil.copy(ROOT / f, dest / f)
    if name is None:
        return dest
    file, old, new, _, _ = MUTANTS[name]
    src = (dest / file).read_text()
    if src.count(old) != 1:
        raise AssertionError(f"mutant {name}: its text is not found exactly once in {file}; update tests/mutants.py")
    (dest / file).write_text(src.replace(old, new))
    return dest


def run_tests(root: Path, tests: list[str]) -> subprocess.CompletedProcess:
    """pytest on `tests` inside a mutated copy (its package first on the path, no cache written)."""
    env = dict(os.environ, PYTHONPATH=str(root), REPRODUCE_NO_PROGRESS="1")
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", *tests],
                          cwd=root, env=env, capture_output=True, text=True, timeout=900)


def smoke_deviations(root: Path, experiments: list[str], data_dir: Path) -> dict:
    """Fresh smoke runs of the mutated code against the recorded smoke numbers: {experiment: {path: (fresh,
    recorded, tolerance, caught)}}."""
    sys.path.insert(0, str(ROOT / "tests"))
    from tolerances import SMOKE, get
    env = dict(os.environ, PYTHONPATH=str(root), REPRODUCE_NO_PROGRESS="1", REPRODUCE_DATA_DIR=str(data_dir))
    out = {}
    for exp in experiments:
        res = root / "_results"
        subprocess.run([sys.executable, "-m", "reproduce.cli", "run", exp, "--profile", "smoke", "--rerun",
                        "--no-progress", "--results-dir", str(res)], cwd=root, env=env, check=True,
                       capture_output=True, text=True)
        fresh = json.loads((res / "smoke" / f"{exp}.json").read_text())["results"]
        recorded = json.loads((ROOT / "results" / "smoke" / f"{exp}.json").read_text())["results"]
        out[exp] = {p: (get(fresh, p), get(recorded, p), tol, abs(get(fresh, p) - get(recorded, p)) > tol)
                    for p, tol in SMOKE[exp].items()}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default=",".join(MUTANTS), help="comma-separated mutants")
    ap.add_argument("--smoke", default="", help="comma-separated smoke experiments to rerun per mutant")
    args = ap.parse_args()
    smoke = [e for e in args.smoke.split(",") if e]
    data_dir = None
    if smoke:
        from reproduce.datasets import mnist as data
        data.load_mnist()
    for name in args.only.split(","):
        _, _, _, what, tests = MUTANTS[name]
        with tempfile.TemporaryDirectory() as tmp:
            root = mutated_copy(name, Path(tmp) / "repo")
            done = run_tests(root, tests)
            line = f"{name:24} {what:58} fast tests: {'FAIL (caught)' if done.returncode else 'pass (MISSED)'}"
            if smoke:
                data_dir = Path(tmp) / "data"
                (data_dir / "mnist").mkdir(parents=True)
                from reproduce.datasets import mnist as data
                for f in (data.cache_path(), data.cache_path().with_suffix(".npz.sha256")):
                    shutil.copy(f, data_dir / "mnist" / f.name)
                devs = smoke_deviations(root, smoke, data_dir)
                caught = [f"{e}:{p} {v[0]:.1f} vs {v[1]:.1f} (tol {v[2]})" for e, d in devs.items()
                          for p, v in d.items() if v[3]]
                line += f"; smoke regression: {'caught by ' + '; '.join(caught) if caught else 'MISSED'}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
