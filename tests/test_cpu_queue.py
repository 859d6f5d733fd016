"""The CPU queue runs its items in order in the pinned worktree, and stops where a worktree is dirty (its records
would say so) or an item fails."""
import subprocess

from reproduce.results import REPO_ROOT


def _queue(wt, *items, py="/bin/echo"):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(wt.parent), "PY": py}
    return subprocess.run(["bash", str(REPO_ROOT / "scripts" / "cpu_queue.sh"), str(wt), "/tmp/res", *items],
                          env=env, capture_output=True, text=True, timeout=60)


def _worktree(tmp_path):
    wt = tmp_path / "wt"
    wt.mkdir()
    git = lambda *a: subprocess.run(["git", "-C", str(wt), *a], check=True, capture_output=True)  # noqa: E731
    git("init", "-q")
    (wt / "f").write_text("x")
    git("add", "f")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c")
    return wt


def test_items_run_in_order_in_the_worktree(tmp_path):
    wt = _worktree(tmp_path)
    r = _queue(wt, "mnist", "scripts/explore.py --tag a --results-dir /tmp/x", "omitted-digit")
    assert r.returncode == 0, r.stderr
    ran = [line for line in r.stdout.splitlines() if not line.startswith("[")]
    assert ran == ["-m reproduce.cli run mnist --profile paper --results-dir /tmp/res",
                   "scripts/explore.py --tag a --results-dir /tmp/x",
                   "-m reproduce.cli run omitted-digit --profile paper --results-dir /tmp/res"]


def test_a_dirty_worktree_or_a_failed_item_stops_the_queue(tmp_path):
    wt = _worktree(tmp_path)
    (wt / "record.json").write_text("{}")  # what a script writing into the worktree leaves
    r = _queue(wt, "mnist")
    assert r.returncode == 2 and "has changes before 'mnist'" in r.stderr and "reproduce.cli" not in r.stdout
    (wt / "record.json").unlink()
    r = _queue(wt, "mnist", "omitted-digit", py="/bin/false")
    assert r.returncode == 1 and "mnist failed" in r.stdout and "start omitted-digit" not in r.stdout
