"""The regression tolerances cover the honest differences measured on every CPU recorded so far
(results/smoke-spread/<cpu>.json, made by scripts/measure_smoke_spread.py), with a margin of 3."""
import json

import pytest

from reproduce.results import RESULTS_DIR
from tolerances import SMOKE

MARGIN = 3.0
MEASURED = sorted((RESULTS_DIR / "smoke-spread").glob("*.json"))


def test_a_measurement_is_recorded():
    assert MEASURED, "no results/smoke-spread/*.json: run scripts/measure_smoke_spread.py"


@pytest.mark.parametrize("path", MEASURED, ids=[p.stem for p in MEASURED])
def test_every_tolerance_covers_the_measured_honest_deviations(path):
    rec = json.loads(path.read_text())
    assert rec["provenance"]["cpu_model"] and "variants" in rec
    for key, n in rec["numbers"].items():
        exp, number = key.split(":", 1)
        assert number in SMOKE[exp], f"{key} was measured but is no longer compared: measure again"
        dev = n["max_abs_deviation_from_recorded"]
        assert MARGIN * dev <= SMOKE[exp][number], (
            f"{key}: an honest variant on {rec['provenance']['cpu_model']} moved it by {dev:g}, more than a third of "
            f"its tolerance {SMOKE[exp][number]}")


def test_every_compared_number_was_measured():
    measured = {k for p in MEASURED for k in json.loads(p.read_text())["numbers"]}
    compared = {f"{exp}:{n}" for exp, d in SMOKE.items() for n in d}
    assert compared <= measured, sorted(compared - measured)


def test_every_experiment_has_smoke_tolerances():
    from reproduce.catalog import EXPERIMENTS
    assert set(SMOKE) == set(EXPERIMENTS), "give each experiment of reproduce/catalog.py its block in tests/tolerances.py"
