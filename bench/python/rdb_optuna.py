#!/usr/bin/env python3
"""Optuna 5.0's RDBStorage side of `rdb_bench`: N worker processes ask and tell TRIALS
trials (RandomSampler, 5 float parameters) of one study on STORAGE_URL together.

usage: rdb_optuna.py STORAGE_URL STUDY TRIALS WORKERS

Prints one JSON line: {"seconds": wall time from the moment every worker is ready until
the last one is done}. The study must exist.
"""
import json
import multiprocessing as mp
import sys
import time

import optuna

optuna.logging.set_verbosity(optuna.logging.ERROR)


def worker(url, study_name, n, ready, go, done):
    storage = optuna.storages.RDBStorage(url)
    study = optuna.load_study(study_name=study_name, storage=storage,
                              sampler=optuna.samplers.RandomSampler())
    ready.release()
    go.wait()
    for _ in range(n):
        t = study.ask()
        v = sum(t.suggest_float(f"x{i}", -5.0, 5.0) ** 2 for i in range(5))
        study.tell(t, v)
    done.release()


def main():
    url, study_name, trials, workers = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    ctx = mp.get_context("fork")
    ready, done, go = ctx.Semaphore(0), ctx.Semaphore(0), ctx.Event()
    shares = [trials // workers + (1 if i < trials % workers else 0) for i in range(workers)]
    procs = [ctx.Process(target=worker, args=(url, study_name, n, ready, go, done)) for n in shares]
    for p in procs:
        p.start()
    for _ in procs:
        ready.acquire()
    t0 = time.perf_counter()
    go.set()
    for _ in procs:
        done.acquire()
    seconds = time.perf_counter() - t0
    for p in procs:
        p.join()
    print(json.dumps({"seconds": seconds}))


if __name__ == "__main__":
    main()
