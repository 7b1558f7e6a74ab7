"""rustuna 0.2.0's side of sweeplab's ask-latency benchmark (docs/tpe-benchmark.md).

usage: python tpe_speed_rustuna.py N ASKS SEED → JSON on stdout: {"ms": [per-ask milliseconds]}

rustuna (PyPI `rustuna`, MIT) is Optuna's TPE written in Rust, with Optuna's defaults
(multivariate, 24 EI candidates, 10 startup trials); its TPESampler takes no other settings.
A study holds N random COMPLETE trials over the benchmark's 5 parameters (x1, x2
float[-5,5]; x3 float[1e-4,1] log; x4 int[0,100]; x5 cat{a,b,c,d}), added with add_trial.
Each timed call is `study.ask()` plus the five `suggest_*` calls (rustuna's ask takes no
fixed distributions); the matching tell (FAIL, so the history stays at N) is not timed.
"""
import json
import sys
import time

import numpy as np
import rustuna
from rustuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from rustuna.trial import TrialState

SPACE = {
    "x1": FloatDistribution(-5, 5),
    "x2": FloatDistribution(-5, 5),
    "x3": FloatDistribution(1e-4, 1, log=True),
    "x4": IntDistribution(0, 100),
    "x5": CategoricalDistribution(["a", "b", "c", "d"]),
}


def main():
    n, asks, seed = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    rng = np.random.RandomState(seed)
    study = rustuna.create_study(sampler=rustuna.samplers.TPESampler(seed=seed))
    for _ in range(n):
        p = {
            "x1": float(rng.uniform(-5, 5)),
            "x2": float(rng.uniform(-5, 5)),
            "x3": float(np.exp(rng.uniform(np.log(1e-4), 0))),
            "x4": int(rng.randint(0, 101)),
            "x5": ["a", "b", "c", "d"][rng.randint(0, 4)],
        }
        v = p["x1"] ** 2 + p["x2"] ** 2 + abs(np.log10(p["x3"]) + 2) + abs(p["x4"] - 50) / 50 + (p["x5"] != "b")
        study.add_trial(rustuna.trial.create_trial(params=p, distributions=SPACE, value=float(v)))
    ms = []
    for _ in range(asks):
        t0 = time.perf_counter()
        t = study.ask()
        t.suggest_float("x1", -5, 5)
        t.suggest_float("x2", -5, 5)
        t.suggest_float("x3", 1e-4, 1, log=True)
        t.suggest_int("x4", 0, 100)
        t.suggest_categorical("x5", ["a", "b", "c", "d"])
        ms.append((time.perf_counter() - t0) * 1000.0)
        study.tell(t.number, state=TrialState.FAIL)
    json.dump({"ms": ms}, sys.stdout)


if __name__ == "__main__":
    main()
