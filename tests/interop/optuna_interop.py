#!/usr/bin/env python3
"""Python Optuna (pinned 5.0.0) and the `sweeplab` CLI share one journal file.

usage: python optuna_interop.py SWEEPLAB_BIN

Checks, each printed as PASS/FAIL, then a final "N passed, M failed" line:
  1. interleaved ask/tell from Python and sweeplab on one study: both see every trial;
  2. a study created by Python is driven by sweeplab, and Python's TPE samples from
     sweeplab's trials (and vice versa);
  3. 8 processes of both at once (Optuna's symlink lock), 1,000 trials: no trial lost or
     duplicated;
  4. what sweeplab wrote passes Optuna's own replay of every line;
  5. two `sweeplab sweep`s and a Python ask/tell loop on one journal at once: Python sees
     every trial finished, each with its own value.
"""
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from checks import check, report  # this folder's harness

optuna.logging.set_verbosity(optuna.logging.ERROR)

SWEEPLAB = None

SPACE = {
    "x": optuna.distributions.FloatDistribution(-5.0, 5.0),
    "lr": optuna.distributions.FloatDistribution(1e-5, 1e-1, log=True),
    "layers": optuna.distributions.IntDistribution(1, 6),
    "opt": optuna.distributions.CategoricalDistribution(["adam", "sgd"]),
}
SPACE_JSON = json.dumps({k: json.loads(optuna.distributions.distribution_to_json(d)) for k, d in SPACE.items()})


def objective_value(p):
    return (p["x"] - 1.0) ** 2 + abs(p["layers"] - 3) + (0.5 if p["opt"] == "sgd" else 0.0)


def sl(*args, check=True):
    out = subprocess.run([SWEEPLAB, *args], capture_output=True, text=True, timeout=120)
    if check and out.returncode != 0:
        raise RuntimeError(f"sweeplab {' '.join(args)} failed ({out.returncode}): {out.stderr.strip()}")
    return out


def sl_ask(path, name, kwargs='{"seed": 1}'):
    out = sl("ask", "--storage", path, "--study-name", name, "--sampler-kwargs", kwargs,
             "--search-space", SPACE_JSON)
    return json.loads(out.stdout)


def sl_tell(path, name, number, value):
    sl("tell", "--storage", path, "--study-name", name, "--trial-number", str(number),
       "--values", repr(value))


def storage(path):
    return JournalStorage(JournalFileBackend(path))


def interleaved():
    d = tempfile.mkdtemp()
    path = os.path.join(d, "journal.log")
    sl("create-study", "--storage", path, "--study-name", "shared")
    study = optuna.load_study(study_name="shared", storage=storage(path),
                              sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=4))
    for i in range(8):
        if i % 2 == 0:
            t = study.ask(SPACE)
            study.tell(t, objective_value(t.params))
        else:
            out = sl_ask(path, "shared")
            sl_tell(path, "shared", out["number"], objective_value(out["params"]))
    # sweeplab sees Python's trials, Python sees sweeplab's.
    listing = sl("studies", "--storage", path).stdout
    assert "trials=8" in listing and "complete=8" in listing, listing
    again = optuna.load_study(study_name="shared", storage=storage(path))
    assert len(again.trials) == 8
    assert [t.number for t in again.trials] == list(range(8))
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in again.trials)
    for t in again.trials:
        assert set(t.params) == set(SPACE), t.params
        assert abs(t.value - objective_value(t.params)) < 1e-12
        for k, dist in t.distributions.items():
            assert dist == SPACE[k], (k, dist)


def python_study_driven_by_sweeplab():
    d = tempfile.mkdtemp()
    path = os.path.join(d, "journal.log")
    study = optuna.create_study(study_name="py", storage=storage(path), direction="maximize")
    study.set_user_attr("owner", "python")
    for _ in range(3):
        t = study.ask(SPACE)
        study.tell(t, -objective_value(t.params))
    study.enqueue_trial({"x": 1.0, "lr": 0.001, "layers": 3, "opt": "adam"})
    # sweeplab takes the enqueued trial first, then samples with TPE from Python's history.
    first = sl_ask(path, "py", '{"seed": 0, "n_startup_trials": 3}')
    assert first["number"] == 3 and first["params"]["x"] == 1.0 and first["params"]["layers"] == 3, first
    sl_tell(path, "py", first["number"], -objective_value(first["params"]))
    for _ in range(6):
        out = sl_ask(path, "py", '{"seed": 0, "n_startup_trials": 3}')
        sl_tell(path, "py", out["number"], -objective_value(out["params"]))
    # Python's TPE reads sweeplab's trials and continues the study.
    study = optuna.load_study(study_name="py", storage=storage(path),
                              sampler=optuna.samplers.TPESampler(seed=1, n_startup_trials=3))
    study.optimize(lambda t: -objective_value({k: getattr(t, f"suggest_{kind}")(k, *args, **kw)
                                               for k, kind, args, kw in [
                                                   ("x", "float", (-5.0, 5.0), {}),
                                                   ("lr", "float", (1e-5, 1e-1), {"log": True}),
                                                   ("layers", "int", (1, 6), {}),
                                                   ("opt", "categorical", (["adam", "sgd"],), {})]}),
                   n_trials=3)
    assert len(study.trials) == 13, len(study.trials)
    assert study.user_attrs == {"owner": "python"}
    assert study.best_value == max(t.value for t in study.trials)
    assert study.best_value >= -1.0, study.best_value  # the enqueued optimum region


def _py_worker(args):
    path, n, _ = args
    st = storage(path)
    study = optuna.load_study(study_name="race", storage=st, sampler=optuna.samplers.RandomSampler())
    nums = []
    for _ in range(n):
        t = study.ask(SPACE)
        study.tell(t, objective_value(t.params))
        nums.append(t.number)
    return nums


def _sl_worker(args):
    global SWEEPLAB
    path, n, SWEEPLAB = args
    nums = []
    for _ in range(n):
        out = sl_ask(path, "race", "{}")
        sl_tell(path, "race", out["number"], objective_value(out["params"]))
        nums.append(out["number"])
    return nums


def many_processes():
    d = tempfile.mkdtemp()
    path = os.path.join(d, "journal.log")
    sl("create-study", "--storage", path, "--study-name", "race")
    per = 125
    jobs = [(_sl_worker, (path, per, SWEEPLAB))] * 4 + [(_py_worker, (path, per, SWEEPLAB))] * 4
    ctx = mp.get_context("spawn")
    with ctx.Pool(len(jobs)) as pool:
        results = [pool.apply_async(fn, (a,)) for fn, a in jobs]
        numbers = sorted(n for r in results for n in r.get(timeout=600))
    total = per * len(jobs)
    assert numbers == list(range(total)), numbers
    study = optuna.load_study(study_name="race", storage=storage(path))
    assert len(study.trials) == total
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    listing = sl("studies", "--storage", path).stdout
    assert f"trials={total}" in listing and f"complete={total}" in listing, listing
    assert not os.path.exists(path + ".lock"), "the lock was released"
    # Every line is one JSON object ending in a newline.
    with open(path, "rb") as f:
        data = f.read()
    assert data.endswith(b"\n")
    for line in data.split(b"\n")[:-1]:
        json.loads(line)


SWEEP_YAML = """\
name: {name}
method: random
metric: {{name: val/loss, goal: minimize}}
run_cap: 4
parameters:
  lr: {{distribution: log_uniform_values, min: 0.003, max: 0.03}}
  width: {{values: [8, 16]}}
  epochs: {{value: 12}}
sweeplab:
  dataset: spiral
  samples: 200
  model: mlp
  seed: 5
  batch_size: 16
"""


def sweeps_and_python_share_a_journal():
    d = tempfile.mkdtemp()
    path = os.path.join(d, "journal.log")
    procs = []
    for i, name in enumerate(["sweep-a", "sweep-b"]):
        cfg = os.path.join(d, f"{name}.yaml")
        with open(cfg, "w") as f:
            f.write(SWEEP_YAML.format(name=name))
        procs.append(subprocess.Popen(
            [SWEEPLAB, "sweep", cfg, "--out", os.path.join(d, name), "--storage", path,
             "--backend", "cpu", "--quiet"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
        if i == 0:
            import time
            time.sleep(0.7)
    study = optuna.create_study(study_name="python-loop", storage=storage(path),
                                sampler=optuna.samplers.RandomSampler(seed=0))
    for i in range(10):
        t = study.ask(SPACE)
        study.tell(t, float(i))
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        assert "done: 4 trials" in err, err
    for name in ["sweep-a", "sweep-b"]:
        s = optuna.load_study(study_name=name, storage=storage(path))
        assert len(s.trials) == 4, s.trials
        for t in s.trials:
            assert t.state == optuna.trial.TrialState.COMPLETE, t
            last = t.intermediate_values[max(t.intermediate_values)]
            assert t.value == last, (t.number, t.value, last)
            assert set(t.params) == {"lr", "width"}, t.params
    s = optuna.load_study(study_name="python-loop", storage=storage(path))
    assert [t.value for t in s.trials] == [float(i) for i in range(10)], s.trials


def main():
    global SWEEPLAB
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    SWEEPLAB = os.path.abspath(sys.argv[1])
    check("interleaved ask/tell: Python and sweeplab see every trial")(interleaved)
    check("a Python study driven by sweeplab, and Python's TPE continuing it")(python_study_driven_by_sweeplab)
    check("4 sweeplab + 4 Python processes at once, 1,000 trials: nothing lost or duplicated")(many_processes)
    check("two sweeps and a Python ask/tell loop on one journal: every trial has its own lines")(
        sweeps_and_python_share_a_journal)
    report()


if __name__ == "__main__":
    main()
