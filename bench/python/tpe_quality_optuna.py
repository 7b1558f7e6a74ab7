"""Optuna 5.0.0's side of sweeplab's TPE quality benchmark (docs/tpe-benchmark.md).

usage: python tpe_quality_optuna.py SEEDS  → JSON on stdout:
  {function: {sampler: {"50": [regret per seed], "100": [...]}}}
Samplers: random = RandomSampler(seed), tpe_default = TPESampler(seed),
tpe_univariate = TPESampler(multivariate=False, seed).
"""
import json
import math
import sys

import optuna

optuna.logging.set_verbosity(optuna.logging.ERROR)

PI = math.pi
H_ALPHA = [1.0, 1.2, 3.0, 3.2]
H_A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
H_P = [[0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886], [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
       [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650], [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381]]


def branin(t):
    x1, x2 = t.suggest_float("x1", -5, 10), t.suggest_float("x2", 0, 15)
    return (x2 - 5.1 * x1 ** 2 / (4 * PI ** 2) + 5 * x1 / PI - 6) ** 2 + 10 * (1 - 1 / (8 * PI)) * math.cos(x1) + 10


def hartmann6(t):
    x = [t.suggest_float(f"x{i}", 0, 1) for i in range(1, 7)]
    return -sum(H_ALPHA[i] * math.exp(-sum(H_A[i][j] * (x[j] - H_P[i][j]) ** 2 for j in range(6))) for i in range(4))


def rosenbrock5_log(t):
    x = [t.suggest_float("x1", 0.01, 10, log=True), t.suggest_float("x2", 0.01, 10, log=True)]
    x += [t.suggest_float(f"x{i}", -2, 2) for i in (3, 4, 5)]
    return sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(4))


def ackley5_mixed(t):
    x = [t.suggest_float(f"x{i}", -5, 10) for i in (1, 2, 3)] + [t.suggest_int(f"x{i}", -5, 10) for i in (4, 5)]
    d = len(x)
    return (-20 * math.exp(-0.2 * math.sqrt(sum(v * v for v in x) / d))
            - math.exp(sum(math.cos(2 * PI * v) for v in x) / d) + 20 + math.e)


def rastrigin4_disc(t):
    x = [t.suggest_float(f"x{i}", -5, 5, step=0.25) for i in (1, 2)] + [t.suggest_int(f"x{i}", -5, 5) for i in (3, 4)]
    return 40 + sum(v * v - 10 * math.cos(2 * PI * v) for v in x)


PROBLEMS = {
    "branin": (branin, 5 / (4 * PI)),
    "hartmann6": (hartmann6, -3.3223680114155147),
    "rosenbrock5_log": (rosenbrock5_log, 0.0),
    "ackley5_mixed": (ackley5_mixed, 0.0),
    "rastrigin4_disc": (rastrigin4_disc, 0.0),
}


def main():
    seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    out = {}
    for name, (f, opt) in PROBLEMS.items():
        out[name] = {}
        for sname, make in [
            ("random", lambda s: optuna.samplers.RandomSampler(seed=s)),
            ("tpe_default", lambda s: optuna.samplers.TPESampler(seed=s)),
            ("tpe_univariate", lambda s: optuna.samplers.TPESampler(seed=s, multivariate=False)),
        ]:
            r50, r100 = [], []
            for seed in range(seeds):
                study = optuna.create_study(sampler=make(seed))
                best = math.inf
                for i in range(100):
                    t = study.ask()
                    v = f(t)
                    study.tell(t, v)
                    best = min(best, v)
                    if i == 49:
                        r50.append(best - opt)
                r100.append(best - opt)
            out[name][sname] = {"50": r50, "100": r100}
            print(f"optuna: {name} {sname} done", file=sys.stderr, flush=True)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
