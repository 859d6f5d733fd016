#!/usr/bin/env bash
# The long CPU `paper` runs, one after another, from a git worktree pinned at a clean commit (so their records say
# "clean"), each resuming from its checkpoints: rerun the same line in the next session and it goes on where the
# last one stopped. Records go to RESULTS; copy them into results/ from a clean commit.
#
#   git worktree add /work/wt-paper HEAD
#   nohup setsid scripts/cpu_queue.sh /work/wt-paper ~/res-paper mnist omitted-digit temperature-sweep \
#       "scripts/explore_mnist_consistent.py --seeds 3 --tag consistent-T20 --results-dir ~/res-paper" > ~/queue.log 2>&1 &
#
# An item with a space is a script and its arguments, run with python in the worktree; give it --results-dir
# outside the worktree (a record written inside it makes the next records say dirty, and the queue stops there).
#
# Uses this checkout's environment (.venv, `make env`) with the worktree's code first on the path.
#
# The checkpoints live in $REPRODUCE_DATA_DIR/runs/ on this machine: a session handed a new machine starts over.
# Move the pin only while no queue runs, and only to a commit with the same training-code digest
# (`python -c "from reproduce.train.fingerprint import CODE_DIGEST; print(CODE_DIGEST)"` in the worktree), or the
# runs start again from epoch 0.
#
# Landing a finished record (from main's checkout, clean):
#   git mv results/paper/X.json results/paper/X-explore/<what-it-was>.json    (the record it replaces, kept)
#   cp ~/res-paper/paper/X.json results/paper/; drop ("paper", "X") from AWAITING_RERUN in
#   tests/test_records_current.py; pytest tests/test_records_current.py tests/test_report*.py; commit; then
#   `reproduce verdicts --write` from that clean tree and commit results/verdicts.json on its own.
set -u
WT=$(cd "${1:?usage: cpu_queue.sh WORKTREE RESULTS EXPERIMENT...}" && pwd); RES=${2:?results folder}; shift 2
PY=${PY:-$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/python}
export REPRODUCE_DATA_DIR=${REPRODUCE_DATA_DIR:-$HOME/.cache/reproduce-distillation} PYTHONUNBUFFERED=1
for item in "$@"; do
  [ -z "$(git -C "$WT" status --porcelain)" ] || { echo "$WT has changes before '$item'; stopping" >&2; exit 2; }
  echo "[$(date +%F' '%T)] start $item at $(git -C "$WT" rev-parse --short HEAD)"
  case "$item" in
    *" "*) (cd "$WT" && eval "PYTHONPATH=\"$WT\" \"$PY\" $item") ;;
    *) (cd "$WT" && PYTHONPATH="$WT" "$PY" -m reproduce.cli run "$item" --profile "${PROFILE:-paper}" --results-dir "$RES") ;;
  esac || { echo "[$(date +%F' '%T)] $item failed (rc $?)"; exit 1; }
  echo "[$(date +%F' '%T)] done $item"
done
