"""Every tolerance the regression tests use, in one place, each with its reason.

Smoke runs train on 5,000 images for a few epochs. On CPU they are bit-for-bit deterministic for a given
torch build and thread count, so on CI's 2-core machine a fresh run should equal the record exactly. Other CPUs
pick other BLAS kernels (AVX2 vs AVX-512) whose rounding differs, and a few hundred SGD steps amplify that. The
tolerances are about 3x the spread between the two seeds of the recorded smoke runs, so "the same" survives a
change of CPU, while a real regression (a broken loss, dropout, jitter, schedule or bias sweep) moves these
numbers by hundreds of errors.
"""
SMOKE = {
    # mean test errors over seeds (of 10,000); seed spread in the record ~20
    "mnist": {"teacher.test_errors.mean": 60, "small.test_errors.mean": 60, "distilled.test_errors.mean": 60},
    # seed spread ~175 before the shift (weak smoke teacher), ~40 after; shifts are on a 0.05 grid, spread ~0.4
    "omitted-digit": {"no3.errors_before.mean": 300, "no3.errors_test_optimal.mean": 120,
                      "no3.shift_test_optimal.mean": 1.0, "only78.errors_test_optimal.mean": 300},
    # 2 epochs on 5,000 images: seed spread up to ~300 errors at 30 units, ~70 at 300 units
    "temperature-sweep": {"widths.30.errors_by_T.2.5.mean": 300, "widths.300.errors_by_T.2.5.mean": 120,
                          "widths.300.reference_errors.mean": 120, "widths.30.reference_errors.mean": 300},
    # speech: 3 epochs on ~24,000 generated frames (the corpus itself is deterministic); frame accuracy in %,
    # seed spread ~1.5 points; a broken context window, label alignment or soft-target averaging moves these by 5+
    "speech": {"baseline.test_acc.mean": 3.0, "ensemble.test_acc": 3.0, "hard3.test_acc_final.mean": 3.0,
               "soft3.test_acc_final.mean": 3.0},
}
# specialists: 6 epochs of a small CNN on 285 glyph classes, 2,280 test images; top-1 in %, seed spread ~1.2
# points, relative gain spread ~2.6 points. A broken dustbin shift, label map or combination moves these by 5+.
SMOKE["specialists"] = {"summary.generalist.test_acc_generalist.mean": 3.5,
                        "summary.dustbin.test_acc_combined.mean": 3.5,
                        "summary.dustbin.relative_top1_gain_pct.mean": 6.0,
                        "summary.soft.test_acc_combined.mean": 3.5}


def get(d: dict, dotted: str):
    """d["a"]["b"]... for "a.b..."; a key may itself contain a dot (temperatures such as "2.5")."""
    parts = dotted.split(".")
    while parts:
        for n in range(len(parts), 0, -1):
            key = ".".join(parts[:n])
            if key in d:
                d, parts = d[key], parts[n:]
                break
        else:
            raise KeyError(dotted)
    return d
