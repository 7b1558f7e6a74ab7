#!/usr/bin/env bash
# Export conformance: a real study made with the sweeplab CLI is exported in every format and
# each export is read by the real tool (TensorBoard, wandb, Optuna, optuna-dashboard, MLflow), through
# the checker scripts in this directory.
#
#   tests/conformance/run.sh SWEEPLAB_BIN
#
# Creates/reuses the pinned venv (venv.sh), works in a temporary directory, bounds every step
# with a timeout, prints one line per check and a final `N passed, M failed`; exits non-zero
# if any check failed.
set -uo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 SWEEPLAB_BIN" >&2
    exit 2
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
[[ -x "$bin" ]] || { echo "run.sh: $1 is not an executable" >&2; exit 2; }

passed=0
failed=0
work="$(mktemp -d "${TMPDIR:-/tmp}/sweeplab-conformance.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# check NAME TIMEOUT_S COMMAND...: runs a check, records its result, shows its log on failure.
check() {
    local name="$1" limit="$2"
    shift 2
    local log="$work/${name//\//_}.log"
    local t0=$SECONDS
    # A fresh bash so that shell functions (exported below) run under the timeout too.
    if timeout --kill-after=10 "$limit" bash -c '"$@"' "$name" "$@" >"$log" 2>&1; then
        passed=$((passed + 1))
        printf 'ok    %-22s (%ss) %s\n' "$name" "$((SECONDS - t0))" "$(tail -n 1 "$log")"
    else
        local rc=$?
        failed=$((failed + 1))
        printf 'FAIL  %-22s (rc=%s)\n' "$name" "$rc"
        sed 's/^/      /' "$log" | tail -n 40
    fi
}

finish() {
    echo "$passed passed, $failed failed"
    [[ $failed -eq 0 ]]
    exit $?
}

if ! python="$(timeout 1200 "$here/venv.sh" 2>"$work/venv.log" | tail -n 1)" || [[ ! -x "$python" ]]; then
    echo "FAIL  venv (tests/conformance/venv.sh)"
    sed 's/^/      /' "$work/venv.log" | tail -n 20
    failed=$((failed + 1))
    finish
fi
export PYTHONPATH="$here" PYTHONDONTWRITEBYTECODE=1 TZ=UTC MPLBACKEND=Agg
journal="$work/study.log"
study="conformance"

# ---------------------------------------------------------------- a real study, via the CLI
SPACE='{"lr": {"name": "FloatDistribution", "attributes": {"low": 0.0001, "high": 0.1, "log": true, "step": null}},
 "layers": {"name": "IntDistribution", "attributes": {"low": 1, "high": 4, "log": false, "step": 1}},
 "optimizer": {"name": "CategoricalDistribution", "attributes": {"choices": ["adam", "sgd", "rmsprop"]}},
 "dropout": {"name": "FloatDistribution", "attributes": {"low": 0.0, "high": 0.5, "log": false, "step": 0.1}},
 "batch_norm": {"name": "CategoricalDistribution", "attributes": {"choices": [true, false]}}}'

make_study() {
    set -e
    "$bin" create-study --storage "$journal" --study-name "$study"
    "$bin" create-study --storage "$journal" --study-name other --direction maximize
    for i in 0 1 2 3 4 5 6; do
        "$bin" ask --storage "$journal" --study-name "$study" --sampler-kwargs '{"seed": 7}' \
            --search-space "$SPACE"
    done
    "$bin" ask --storage "$journal" --study-name other --search-space "$SPACE"
    # The trainer reports intermediate values and metric series into the shared journal.
    "$python" "$here/report_study.py" "$journal" "$study"
    "$bin" tell --storage "$journal" --study-name "$study" --trial-number 0 --values 0.31
    "$bin" tell --storage "$journal" --study-name "$study" --trial-number 1 --state pruned
    "$bin" tell --storage "$journal" --study-name "$study" --trial-number 2 --values 0.12
    "$bin" tell --storage "$journal" --study-name "$study" --trial-number 3 --state fail
    "$bin" tell --storage "$journal" --study-name "$study" --trial-number 4 --values 0.57
    "$bin" tell --storage "$journal" --study-name "$study" --trial-number 5 --values nan
    # Trial 6 stays RUNNING.
    "$bin" studies --storage "$journal"
}
export bin python here journal study work SPACE
export -f make_study
check make-study 300 make_study
if [[ $failed -ne 0 ]]; then finish; fi

# ---------------------------------------------------------------- exports
out="$work/out"
export_as() { "$bin" export --storage "$journal" --study-name "$study" --format "$1" --out "$2"; }
export -f export_as
check export-tensorboard 60 export_as tensorboard "$out/tb"
check export-wandb 60 export_as wandb "$out/wb"
check export-optuna 60 export_as optuna "$out/study.log"
check export-csv 60 export_as csv "$out/trials.csv"
check export-zip 60 export_as zip "$out/all.zip"
check export-mlflow 60 export_as mlflow "$out/ml"

# ---------------------------------------------------------------- the real readers
check tensorboard 300 "$python" "$here/check_tensorboard.py" "$out/tb" "$journal" "$study"
check wandb 300 "$python" "$here/check_wandb.py" "$out/wb" "$journal" "$study"
check optuna+dashboard 300 "$python" "$here/check_optuna.py" "$out/study.log" "$journal" "$study" --dashboard
check csv 120 "$python" "$here/check_csv.py" "$out/trials.csv" "$journal" "$study"
check zip 120 "$python" "$here/check_zip.py" "$out/all.zip" "$out/unzipped"
check zip/tensorboard 300 "$python" "$here/check_tensorboard.py" "$out/unzipped/tensorboard" "$journal" "$study"
check zip/wandb 300 "$python" "$here/check_wandb.py" "$out/unzipped" "$journal" "$study"
check zip/optuna 300 "$python" "$here/check_optuna.py" "$out/unzipped/optuna/journal.log" "$journal" "$study"
check zip/csv 120 "$python" "$here/check_csv.py" "$out/unzipped/trials.csv" "$journal" "$study"

# ---------------------------------------------------------------- a real sweep's histograms
# The trainer's own weight and gradient histograms (on by default) in the logs `sweep` keeps:
# TensorBoard's histograms plugin and W&B's reader get NumPy's counts and edges back.
hist_sweep() {
    set -e
    "$bin" sweep "$here/hist-sweep.yaml" --out "$work/hist" --backend cpu --quiet
}
export -f hist_sweep
check hist-sweep 300 hist_sweep
check hist/tensorboard 300 "$python" "$here/check_tensorboard.py" "$work/hist/tensorboard" "$work/hist/journal.log" hist
check hist/wandb 300 "$python" "$here/check_wandb.py" "$work/hist" "$work/hist/journal.log" hist

# ---------------------------------------------------------------- bad input
# MLflow reads the file store (and imports it into SQLite) in its own venv; the truth it is
# compared with is Optuna's view of the journal, written as JSON here.
mlflow_checks() {
    set -e
    local mlpython
    mlpython="$(timeout 1200 "$here/venv.sh" mlflow 2>"$work/venv-mlflow.log" | tail -n 1)" || {
        tail -n 20 "$work/venv-mlflow.log"
        return 1
    }
    "$python" "$here/dump_truth.py" "$journal" "$study" "$work/truth.json"
    MLFLOW_ALLOW_FILE_STORE=true "$mlpython" "$here/check_mlflow.py" "$out/ml" "$work/truth.json" --migrate
    MLFLOW_ALLOW_FILE_STORE=true "$mlpython" "$here/check_mlflow.py" "$out/unzipped" "$work/truth.json"
}
export out
export -f mlflow_checks
check mlflow 1500 mlflow_checks

# ---------------------------------------------------------------- the language model's files
# A one-trial LoRA sweep from the shipped base; Hugging Face's safetensors reads the base and the
# trial's adapters, and NumPy's own forward pass of the merged weights writes what `sweeplab
# generate` writes.
lm_files() {
    set -e
    cat >"$work/lora.yaml" <<'YAML'
name: lora-files
method: random
metric: {name: val/loss, goal: minimize}
run_cap: 1
parameters:
  lr: {value: 0.01}
  lora_r: {value: 4}
  lora_alpha: {value: 8}
  lora_targets: {value: qkvo}
  steps: {value: 8}
  epochs: {value: 1}
sweeplab:
  dataset: devils-dictionary
  model: lora
  seed: 2
  batch_size: 4
YAML
    SWEEPLAB_DATA_DIR="$here/../../static/data" "$bin" sweep "$work/lora.yaml" --out "$work/lora" \
        --backend cpu --quiet
    SWEEPLAB_DATA_DIR="$here/../../static/data" "$python" "$here/check_lm.py" "$bin" \
        "$here/../../static/data/lm/base.safetensors" "$work/lora/adapters/trial-000"
}
export -f lm_files
check lm-safetensors 600 lm_files

bad_input() {
    local err rc
    err="$("$bin" export --storage "$journal" --study-name nope --format csv --out "$work/x.csv" 2>&1)"
    rc=$?
    [[ $rc -eq 2 && $(printf '%s\n' "$err" | wc -l) -eq 1 && ! -e "$work/x.csv" ]] || {
        echo "rc=$rc: $err"
        return 1
    }
    echo "unknown study: exit 2, one line: $err"
}
export -f bad_input
check bad-input 30 bad_input

finish
