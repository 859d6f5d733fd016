#!/usr/bin/env bash
# Create (or reuse) the Python environment and install the project into it.
# - Inside an activated virtualenv or conda env, that env is used as it is; otherwise ./.venv is created.
# - An installed torch is never replaced (a GPU user's CUDA build stays). Without one: the CUDA build from PyPI
#   when an NVIDIA GPU is visible, else $TORCH_SPEC (default torch==2.13.0, a CPU build where one is on disk;
#   elsewhere add PIP_TORCH_ARGS="--index-url https://download.pytorch.org/whl/cpu" for a small CPU wheel).
# Prints the environment's python path on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${VIRTUAL_ENV:-}" ]; then py="$VIRTUAL_ENV/bin/python"
elif [ -n "${CONDA_PREFIX:-}" ]; then py="$CONDA_PREFIX/bin/python"
else
  [ -x .venv/bin/python ] || python3 -m venv .venv >&2
  py="$PWD/.venv/bin/python"
fi
stamp="$("$py" -c 'import sys; print(sys.prefix)')/.reproduce-installed"
want="$(cat pyproject.toml | sha256sum | cut -c1-16)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$py" -c "import torch, reproduce" 2>/dev/null; then
  echo "$py"; exit 0
fi
if ! "$py" -c "import torch" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then spec="torch"
  else spec="${TORCH_SPEC:-torch==2.13.0}"; fi
  echo "installing $spec into $py" >&2
  # shellcheck disable=SC2086
  "$py" -m pip install -q --disable-pip-version-check ${PIP_TORCH_ARGS:-} "$spec" >&2
fi
"$py" -m pip install -q --disable-pip-version-check -e ".[book,test,speech]" >&2
echo "$want" > "$stamp"
echo "$py"
