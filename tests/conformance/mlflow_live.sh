#!/usr/bin/env bash
# `sweeplab sweep --mlflow-uri`: a real MLflow tracking server (MLflow's venv, SQLite backend,
# a loopback port, a temporary directory) receives every trial of a sweep as it runs, and
# MLflow's client reads back each run's params, metric histories, tags and status, as
# Optuna reads the study from the sweep's journal. A sweep whose server is unreachable
# warns once, finishes with its journal complete, and a later run with the server up
# catches the server up; `export --format mlflow` of the same study reads back too.
#
#   tests/conformance/mlflow_live.sh SWEEPLAB_BIN
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
work="$(mktemp -d "${TMPDIR:-/tmp}/sweeplab-mlflow-live.XXXXXX")"
server_pid=""
cleanup() {
    [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL  $*"; [[ -f "$work/server.log" ]] && tail -n 20 "$work/server.log"; exit 1; }

python="$(timeout 1200 "$here/venv.sh" 2>"$work/venv.log" | tail -n 1)" || fail "venv.sh: $(tail -n 5 "$work/venv.log")"
mlpython="$(timeout 1200 "$here/venv.sh" mlflow 2>"$work/venv-mlflow.log" | tail -n 1)" || fail "venv.sh mlflow: $(tail -n 5 "$work/venv-mlflow.log")"
export PYTHONPATH="$here" PYTHONDONTWRITEBYTECODE=1 TZ=UTC

port="$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
closed="$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
(cd "$work" && exec "$(dirname "$mlpython")/mlflow" server --backend-store-uri "sqlite:///$work/mlflow.db" \
    --default-artifact-root "$work/artifacts" --host 127.0.0.1 --port "$port" --workers 1) >"$work/server.log" 2>&1 &
server_pid=$!
url="http://127.0.0.1:$port"
for _ in $(seq 1 120); do
    curl -sf "$url/health" >/dev/null 2>&1 && break
    kill -0 "$server_pid" 2>/dev/null || fail "mlflow server exited"
    sleep 0.5
done
curl -sf "$url/health" >/dev/null || fail "mlflow server did not answer on $url"
echo "ok    mlflow server ($("$mlpython" -c 'import mlflow; print(mlflow.__version__)')) on $url"

cat >"$work/sweep.yaml" <<'YAML'
name: NAME
method: bayes
metric: {name: val/loss, goal: minimize}
run_cap: 12
parameters:
  lr: {distribution: log_uniform_values, min: 0.001, max: 0.1}
  width: {values: [4, 8]}
  epochs: {value: 6}
sweeplab:
  dataset: xor
  samples: 100
  model: mlp
  seed: 1
  batch_size: 32
  pruner: {type: hyperband, min_resource: 1, max_resource: 6, reduction_factor: 2}
YAML

check_server() { # OUT STUDY
    "$python" "$here/dump_truth.py" "$1/journal.log" "$2" "$work/$2.json" >/dev/null || fail "dump_truth $2"
    "$mlpython" "$here/check_mlflow.py" "$url" "$work/$2.json" || fail "check_mlflow on the server: $2"
}

# 1. Live: every trial on the server as the sweep runs.
sed 's/NAME/live/' "$work/sweep.yaml" >"$work/live.yaml"
"$bin" sweep "$work/live.yaml" --out "$work/live" --backend cpu --quiet --mlflow-uri "$url" \
    >"$work/live.log" 2>&1 || fail "sweep --mlflow-uri: $(tail -n 5 "$work/live.log")"
grep -q warning "$work/live.log" && fail "a warning with the server up: $(grep warning "$work/live.log")"
check_server "$work/live" live

# 2. Unreachable: one warning, the sweep and its journal complete; a rerun with the server up
#    catches it up; the file-store export of the same study reads back as well.
sed 's/NAME/down/' "$work/sweep.yaml" >"$work/down.yaml"
"$bin" sweep "$work/down.yaml" --out "$work/down" --backend cpu --quiet --mlflow-uri "http://127.0.0.1:$closed" \
    >"$work/down.log" 2>&1 || fail "sweep with the server down failed: $(tail -n 5 "$work/down.log")"
[[ "$(grep -c 'warning: MLflow' "$work/down.log")" -eq 1 ]] || fail "not one warning: $(cat "$work/down.log")"
grep -q "done: 12 trials" "$work/down.log" || fail "the sweep did not finish: $(tail -n 3 "$work/down.log")"
echo "ok    server down: one warning, 12 trials done"
"$bin" sweep "$work/down.yaml" --out "$work/down" --backend cpu --quiet --mlflow-uri "$url" \
    >"$work/down2.log" 2>&1 || fail "rerun with the server up: $(tail -n 5 "$work/down2.log")"
check_server "$work/down" down
"$bin" export --storage "$work/down/journal.log" --study-name down --format mlflow --out "$work/down-ml" \
    2>/dev/null || fail "export --format mlflow"
MLFLOW_ALLOW_FILE_STORE=true "$mlpython" "$here/check_mlflow.py" "$work/down-ml" "$work/down.json" || fail "check_mlflow on the export"
echo "mlflow live: 3 checks passed"
