#!/usr/bin/env bash
# Creates (or reuses) the Python venv with the real readers that the export conformance
# tests run: tensorboard, wandb, optuna, optuna-dashboard, pinned in requirements.txt.
#
#   tests/conformance/venv.sh          # prints the venv's python path on its last line
#   tests/conformance/venv.sh mlflow   # the same for MLflow's venv (venv-mlflow)
#
# The venv lives in "${CARGO_TARGET_DIR:-<repo>/target}/venv-conformance". It is rebuilt only
# when requirements.txt changes (a stamp file holds a hash of it), so calling this again is
# cheap. Needs python3 (3.10+) with the venv module and access to PyPI on the first run.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
# `venv.sh mlflow`: MLflow's own venv (requirements-mlflow.txt), apart from the readers'
# pins, whose protobuf and numpy MLflow would move.
if [[ "${1:-}" == "mlflow" ]]; then
    venv="$target/venv-mlflow"
    req="$here/requirements-mlflow.txt"
    imports='import mlflow'
else
    venv="$target/venv-conformance"
    req="$here/requirements.txt"
    imports='import tensorboard, wandb, optuna, optuna_dashboard, google.protobuf, psycopg, redis, rustuna'
fi
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"

if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "venv.sh: reusing $venv" >&2
else
    python="${PYTHON:-python3}"
    command -v "$python" >/dev/null || { echo "venv.sh: $python not found" >&2; exit 1; }
    echo "venv.sh: creating $venv from $req" >&2
    rm -rf "$venv"
    mkdir -p "$target"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --disable-pip-version-check --quiet --upgrade pip >&2
    "$venv/bin/python" -m pip install --disable-pip-version-check --quiet -r "$req" >&2
    # Fail now, not in the middle of the tests, if an import is broken.
    "$venv/bin/python" -c "$imports" >&2
    echo "$want" >"$stamp"
fi
echo "$venv/bin/python"
