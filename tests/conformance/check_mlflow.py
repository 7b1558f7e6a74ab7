"""Checks a sweeplab MLflow export (a directory holding `mlruns/`) with MLflow itself.

usage: check_mlflow.py EXPORT_DIR|http://SERVER TRUTH_JSON [--migrate]

Run with MLFLOW_ALLOW_FILE_STORE=true (MLflow 3.13 refuses the file store without it), in
the MLflow venv (`tests/conformance/venv.sh mlflow`). TRUTH_JSON is the study as Optuna reads
it (dump_truth.py). Through `MlflowClient` on the file store: one experiment named after the
study; one run per started trial, named `trial-NNN`, with status FINISHED / KILLED / FAILED /
RUNNING for COMPLETE / PRUNED / FAIL / RUNNING; params as `str()` of Optuna's values; tags
number, state, direction and `<param>_distribution` (Optuna's repr); and the full history of
every metric series, the intermediate values and the objective, step by step. Given a
tracking server's URL instead of a directory, the same is checked on the server (what
`sweeplab sweep --mlflow-uri` logged). With
`--migrate`, `mlflow migrate-filestore` imports the store into SQLite and the same runs,
params and metric histories read back from there.
"""

import json
import math
import os
import subprocess
import sys
import tempfile

import mlflow
from mlflow.tracking import MlflowClient

STATUS = {"COMPLETE": "FINISHED", "PRUNED": "KILLED", "FAIL": "FAILED", "RUNNING": "RUNNING"}


class Failed(Exception):
    pass


def expect(cond, msg):
    if not cond:
        raise Failed(msg)


def same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == b


def check_runs(client, truth, label):
    exp = client.get_experiment_by_name(truth["study"])
    expect(exp is not None, f"{label}: no experiment named {truth['study']!r}")
    runs = client.search_runs([exp.experiment_id], max_results=10000)
    by_number = {int(r.data.tags["number"]): r for r in runs}
    expect(len(runs) == len(truth["trials"]) == len(by_number),
           f"{label}: {len(runs)} runs for {len(truth['trials'])} trials")
    points = 0
    for t in truth["trials"]:
        r = by_number.get(t["number"])
        expect(r is not None, f"{label}: no run for trial {t['number']}")
        name = f"trial-{t['number']:03d}"
        expect(r.info.run_name == name, f"{label}: run name {r.info.run_name!r}, want {name!r}")
        expect(r.info.status == STATUS[t["state"]],
               f"{label}: {name} status {r.info.status}, state {t['state']}")
        expect(r.data.params == t["params"], f"{label}: {name} params {r.data.params} != {t['params']}")
        expect(r.data.tags.get("state") == t["state"], f"{label}: {name} state tag")
        expect(r.data.tags.get("direction") == ", ".join(truth["directions"]),
               f"{label}: {name} direction tag {r.data.tags.get('direction')}")
        for p, d in t["distributions"].items():
            got = r.data.tags.get(f"{p}_distribution")
            expect(got == d, f"{label}: {name} {p}_distribution {got!r} != {d!r}")
        want = {k: v for k, v in t["series"].items()}
        if t["intermediate"]:
            want["intermediate_value"] = t["intermediate"]
        for key, pts in want.items():
            hist = client.get_metric_history(r.info.run_id, key)
            got = sorted((m.step, m.value) for m in hist)
            expect(len(got) == len(pts), f"{label}: {name} {key}: {len(got)} points, want {len(pts)}")
            for (gs, gv), (ws, wv) in zip(got, sorted(tuple(p) for p in pts)):
                expect(gs == ws and same(gv, wv), f"{label}: {name} {key}: ({gs}, {gv}) != ({ws}, {wv})")
            points += len(got)
        if t["values"] is not None and t["state"] == "COMPLETE":
            hist = client.get_metric_history(r.info.run_id, "objective")
            expect(len(hist) == 1 and same(hist[0].value, t["values"][0]),
                   f"{label}: {name} objective {[m.value for m in hist]} != {t['values']}")
    return len(runs), points


def main():
    out, truth_path = sys.argv[1:3]
    migrate = "--migrate" in sys.argv[3:]
    with open(truth_path) as f:
        truth = json.load(f)
    if out.startswith("http://") or out.startswith("https://"):
        store = out
    else:
        store = "file://" + os.path.abspath(os.path.join(out, "mlruns"))
    try:
        n, points = check_runs(MlflowClient(tracking_uri=store), truth, "file store")
        msg = f"mlflow {mlflow.__version__}: {n} runs, {points} metric points"
        if migrate:
            db = os.path.join(tempfile.mkdtemp(prefix="sweeplab-mlflow-"), "mlflow.db")
            subprocess.run(
                [os.path.join(os.path.dirname(sys.executable), "mlflow"), "migrate-filestore",
                 "--source", out, "--target", f"sqlite:///{db}", "--no-progress"],
                check=True, capture_output=True, text=True)
            m, _ = check_runs(MlflowClient(tracking_uri=f"sqlite:///{db}"), truth, "migrated")
            msg += f"; migrate-filestore into SQLite: {m} runs read back"
    except Failed as e:
        print(f"mlflow: FAIL: {e}")
        sys.exit(1)
    except subprocess.CalledProcessError as e:
        print(f"mlflow: FAIL: migrate-filestore: {e.stderr[-2000:]}")
        sys.exit(1)
    print(f"mlflow: OK ({msg})")


if __name__ == "__main__":
    main()
