"""The prepared GPU session script refuses a step it does not know before it starts anything."""
import subprocess
import sys

from reproduce.results import REPO_ROOT


def test_unknown_step_is_named_with_the_allowed_ones(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "OUT": str(tmp_path / "out"), "PY": sys.executable, "STEPS": "mnist mnsit"}
    r = subprocess.run(["bash", "scripts/gpu_session.sh", "smoke"], cwd=REPO_ROOT, env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2
    assert "unknown step 'mnsit'" in r.stderr and "omitted-digit" in r.stderr
    assert not (tmp_path / "out" / "session.log").exists()  # refused before anything ran
