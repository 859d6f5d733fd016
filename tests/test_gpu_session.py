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


def test_issue_26_steps_run_their_scripts_and_bring_back_records_in_their_folders(tmp_path):
    """Only the steps named run; each explore script gets the session's profile and results dir, and the records it
    writes come back under $OUT in their own folders (paper/mnist-explore/...), not flattened."""
    calls = tmp_path / "calls.txt"
    fake = tmp_path / "fake-python"  # records its arguments and writes a record where --results-dir points
    fake.write_text(f"""#!/bin/bash
echo "$*" >> {calls}
res=$(echo "$*" | sed -n 's/.*--results-dir \\([^ ]*\\).*/\\1/p')
tag=$(echo "$*" | sed -n 's/.*--tag \\([^ ]*\\).*/\\1/p')
[ -n "$res" ] && [ -n "$tag" ] && mkdir -p "$res/smoke/mnist-explore" && echo '{{}}' > "$res/smoke/mnist-explore/$tag.json"
exit 0
""")
    fake.chmod(0o755)
    env = {"PATH": "/usr/bin:/bin", "OUT": str(tmp_path / "out"), "PY": str(fake),
           "STEPS": "mnist-search mnist-consistent"}
    r = subprocess.run(["bash", "scripts/gpu_session.sh", "smoke"], cwd=REPO_ROOT, env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = [line for line in calls.read_text().splitlines() if "scripts/" in line]
    assert [line.split()[0] for line in lines] == ["scripts/explore_mnist_distill.py",
                                                   "scripts/explore_mnist_consistent.py"]
    assert "--teacher-profile smoke" in lines[0] and "--epochs 2" in lines[0] and "--tag dropout2012-lr0.5" in lines[0]
    assert "--profile smoke" in lines[1] and "--seeds 3" in lines[1]
    out = tmp_path / "out" / "smoke" / "mnist-explore"
    assert sorted(p.name for p in out.iterdir()) == ["consistent-T20.json", "dropout2012-lr0.5.json"]
