"""Each injected bug of tests/mutants.py makes the tests named for it fail, and the unmutated copy passes them:
the tests that guard the objective and the honest bias shift can fail."""
import pytest

from mutants import MUTANTS, mutated_copy, run_tests


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_injected_bug_is_caught(name, tmp_path):
    root = mutated_copy(name, tmp_path / "repo")
    done = run_tests(root, MUTANTS[name][4])
    assert done.returncode == 1, f"mutant {name} ({MUTANTS[name][3]}) passed its tests:\n{done.stdout[-2000:]}"


def test_the_same_tests_pass_without_a_bug(tmp_path):
    tests = sorted({t for m in MUTANTS.values() for t in m[4]})
    done = run_tests(mutated_copy(None, tmp_path / "repo"), tests)
    assert done.returncode == 0, done.stdout[-2000:]
