"""Optuna 5.0.0's side of sweeplab's ask-latency benchmark (docs/tpe-benchmark.md).

usage: python tpe_speed_optuna.py N ASKS SEED [sweeplab] → JSON on stdout: {"ms": [per-ask milliseconds]}

A study holds N random COMPLETE trials over 5 parameters (x1, x2 float[-5,5]; x3 float[1e-4,1]
log; x4 int[0,100]; x5 cat{a,b,c,d}), added with add_trials. Each timed call is
`study.ask(fixed_distributions=…)` with the default TPESampler (multivariate, constant liar);
the matching tell (FAIL, so the history stays at N) is not timed. With `sweeplab`, the
TPESampler has sweeplab's tuning instead: n_ei_candidates=48, gamma(n) = min(ceil(0.2 n), 25).
"""
import json
import math
import sys
import time

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

optuna.logging.set_verbosity(optuna.logging.ERROR)

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
    trials = []
    for _ in range(n):
        p = {
            "x1": float(rng.uniform(-5, 5)),
            "x2": float(rng.uniform(-5, 5)),
            "x3": float(np.exp(rng.uniform(np.log(1e-4), 0))),
            "x4": int(rng.randint(0, 101)),
            "x5": ["a", "b", "c", "d"][rng.randint(0, 4)],
        }
        v = p["x1"] ** 2 + p["x2"] ** 2 + abs(np.log10(p["x3"]) + 2) + abs(p["x4"] - 50) / 50 + (p["x5"] != "b")
        trials.append(optuna.trial.create_trial(params=p, distributions=SPACE, value=v))
    if len(sys.argv) > 4 and sys.argv[4] == "sweeplab":
        sampler = optuna.samplers.TPESampler(
            seed=seed, n_ei_candidates=48, gamma=lambda k: min(math.ceil(0.2 * k), 25)
        )
    else:
        sampler = optuna.samplers.TPESampler(seed=seed)
    study = optuna.create_study(sampler=sampler)
    study.add_trials(trials)
    ms = []
    for _ in range(asks):
        t0 = time.perf_counter()
        t = study.ask(fixed_distributions=SPACE)
        ms.append((time.perf_counter() - t0) * 1000.0)
        study.tell(t, state=optuna.trial.TrialState.FAIL)
    json.dump({"ms": ms}, sys.stdout)


if __name__ == "__main__":
    main()
