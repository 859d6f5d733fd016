"""Measure how far honest differences move the smoke numbers that CI's regression test compares.

A fresh smoke run on another machine is not bit-identical to the recorded one: another CPU (Intel vs AMD), another
GEMM library (oneDNN vs MKL) or another thread count rounds the products differently, and a few hundred SGD steps
carry that rounding into the test errors. This script reruns every smoke experiment of tests/tolerances.py under
the honest variants this machine can produce, side by side in one script, and records, for each compared number,
the recorded smoke value, each variant's value and the per-seed values (the seed spread):

    python scripts/measure_smoke_spread.py                      # all variants, all experiments (~20 min, 2 cores)
    python scripts/measure_smoke_spread.py --variants mkl,threads1 --experiments mnist

Writes results/smoke-spread/<cpu-slug>.json (provenance names the CPU and its ISA). tests/tolerances.py derives
each tolerance from these records (its docstring says how) and tests/test_tolerances.py checks that every
tolerance still covers every recorded honest deviation.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from reproduce.datasets import mnist as data  # noqa: E402
from reproduce.io import atomic_write_json  # noqa: E402
from reproduce.results import RESULTS_DIR, provenance, summarize  # noqa: E402
from tolerances import SMOKE, get  # noqa: E402

# name: environment changes of the variant (the default is this machine as CI runs it: 2 threads, auto GEMM)
VARIANTS = {
    "default": {},
    "onednn": {"REPRODUCE_CPU_GEMM": "onednn"},   # every product through oneDNN, the small nets' too
    "mkl": {"REPRODUCE_CPU_GEMM": "mkl"},         # every product through MKL, the teacher's too
    "threads1": {"OMP_NUM_THREADS": "1"},         # one thread: other blocking of every product
}


def per_seed(results: dict, path: str) -> list[float] | None:
    """The per-seed values behind a compared mean (path ends in .mean), when the record keeps them."""
    if not path.endswith(".mean"):
        return None
    try:
        return get(results, path[:-len(".mean")] + ".values")
    except KeyError:
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of {', '.join(VARIANTS)}")
    ap.add_argument("--experiments", default=",".join(sorted(SMOKE)), help="comma-separated smoke experiments")
    args = ap.parse_args()
    variants = args.variants.split(",")
    experiments = args.experiments.split(",")
    bad = [v for v in variants if v not in VARIANTS] + [e for e in experiments if e not in SMOKE]
    if bad:
        ap.error(f"unknown: {', '.join(bad)}")
    data.load_mnist()
    t0 = time.time()
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for v in variants:
            d = Path(tmp) / v / "data"
            (d / "mnist").mkdir(parents=True)  # a private data folder: no checkpoint of another variant is reused
            for f in (data.cache_path(), data.cache_path().with_suffix(".npz.sha256")):
                shutil.copy(f, d / "mnist" / f.name)
            shared_speech = data.data_dir() / "speech"
            if shared_speech.exists():  # the generated corpus is deterministic; copying it saves its generation
                shutil.copytree(shared_speech, d / "speech")
            env = dict(os.environ, REPRODUCE_DATA_DIR=str(d), REPRODUCE_NO_PROGRESS="1", **VARIANTS[v])
            for exp in experiments:
                res = Path(tmp) / v / "results"
                cmd = [sys.executable, "-m", "reproduce.cli", "run", exp, "--profile", "smoke", "--rerun",
                       "--no-progress", "--results-dir", str(res)]
                t = time.time()
                done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
                if done.returncode:
                    sys.exit(f"{v} {exp} failed:\n{done.stderr[-3000:]}")
                rec = json.loads((res / "smoke" / f"{exp}.json").read_text())
                print(f"{v:9} {exp:18} {time.time() - t:6.0f} s", flush=True)
                out.setdefault(exp, {}).setdefault(v, rec["results"])
    recorded = {exp: json.loads((RESULTS_DIR / "smoke" / f"{exp}.json").read_text())["results"] for exp in experiments}
    numbers = {}
    for exp in experiments:
        for path in SMOKE[exp]:
            vals = {v: get(out[exp][v], path) for v in variants}
            base = get(recorded[exp], path)
            numbers[f"{exp}:{path}"] = {
                "recorded": base, "variants": vals,
                "max_abs_deviation_from_recorded": max(abs(x - base) for x in vals.values()),
                "per_seed_recorded": per_seed(recorded[exp], path),
                "per_seed_variants": {v: per_seed(out[exp][v], path) for v in variants}}
    prov = provenance(__import__("torch").device("cpu"), time.time() - t0)
    slug = re.sub(r"[^A-Za-z0-9]+", "-", prov["cpu_model"]).strip("-").lower()
    rec = {"what": "smoke numbers under honest variants (GEMM library, thread count) beside the recorded ones",
           "variants": {v: VARIANTS[v] for v in variants}, "numbers": numbers,
           "seed_spread": {k: summarize(n["per_seed_recorded"]) for k, n in numbers.items()
                           if n["per_seed_recorded"] and len(n["per_seed_recorded"]) > 1},
           "provenance": prov}
    path = atomic_write_json(RESULTS_DIR / "smoke-spread" / f"{slug}.json", rec)
    print(f"recorded {path}")


if __name__ == "__main__":
    main()
