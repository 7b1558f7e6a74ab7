#!/usr/bin/env python3
"""Python Optuna (pinned 5.0.0) and the `sweeplab` CLI share Optuna's database storages.

usage: python optuna_rdb.py SWEEPLAB_BIN [POSTGRES_URL [REDIS_URL]]

Runs every check on a fresh SQLite file and, when server URLs are given (`cargo xtask test`
starts throw-away servers and passes them), on a fresh PostgreSQL database and a fresh key
prefix of Optuna's JournalRedisBackend too. Each check prints PASS/FAIL; the last line is
"N passed, M failed".

  1. a database created by Python Optuna is used as it is: sweeplab takes the enqueued
     trial, samples with TPE from Python's trials, and Python reads sweeplab's;
  2. a database created by sweeplab is read by `optuna.load_study` value for value (inf,
     NaN intermediate values, categorical params, attributes); an RDB one is also listed by
     `optuna studies`, left as it is by `optuna storage upgrade`, and listed by
     optuna-dashboard's server;
  3. sweeplab and Python workers at once (4 + 4 processes, 1,000 trials, on each storage): every trial
     number appears exactly once, every tell lands once with its own value, and both read
     identical studies;
  4. sweeplab killed with SIGKILL in the middle of tells leaves a database Optuna reads:
     every trial is RUNNING or COMPLETE with its value;
  5. (SQLite) a database rustuna wrote is read and continued, rustuna reads sweeplab's
     trials, and trials rustuna discarded keep their rows and numbers, read as rustuna's
     storages read them by default (apply_discard=False) and as Optuna reads them;
  6. `sweeplab sweep` on three workers at once keeps run_cap together; killed with SIGKILL
     mid-trial, a worker run again fails their trials once their heartbeats are stale and
     finishes the study, which Optuna reads;
  7. bad input is one line on stderr and exit status 2: a malformed URL, an unreachable
     server, wrong credentials, a schema newer than Optuna 5.0's, an unknown study.
"""
import json
import math
import multiprocessing as mp
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

import optuna

from checks import check, report  # this folder's harness

optuna.logging.set_verbosity(optuna.logging.ERROR)

SWEEPLAB = None

SPACE = {
    "x": optuna.distributions.FloatDistribution(-5.0, 5.0),
    "lr": optuna.distributions.FloatDistribution(1e-5, 1e-1, log=True),
    "layers": optuna.distributions.IntDistribution(1, 6),
    "opt": optuna.distributions.CategoricalDistribution(["adam", "sgd"]),
}
SPACE_JSON = json.dumps(
    {k: json.loads(optuna.distributions.distribution_to_json(d)) for k, d in SPACE.items()}
)


def objective_value(p):
    return (p["x"] - 1.0) ** 2 + abs(p["layers"] - 3) + (0.5 if p["opt"] == "sgd" else 0.0)


def sl(*args, check=True, timeout=120):
    out = subprocess.run([SWEEPLAB, *args], capture_output=True, text=True, timeout=timeout)
    if check and out.returncode != 0:
        raise RuntimeError(f"sweeplab {' '.join(args)} failed ({out.returncode}): {out.stderr.strip()}")
    return out


def sl_ask(url, name, kwargs='{"seed": 1}', sampler="TPESampler"):
    out = sl("ask", "--storage", url, "--study-name", name, "--sampler", sampler,
             "--sampler-kwargs", kwargs, "--search-space", SPACE_JSON)
    return json.loads(out.stdout)


def sl_tell(url, name, number, value):
    sl("tell", "--storage", url, "--study-name", name, "--trial-number", str(number),
       "--values", repr(value))


def py_storage(url):
    """What Python Optuna opens for a storage URL sweeplab takes."""
    if url.startswith("redis://"):
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalRedisBackend
        base, _, query = url.partition("?")
        prefix = dict(p.split("=", 1) for p in query.split("&") if p).get("prefix", "")
        return JournalStorage(JournalRedisBackend(base, prefix=prefix))
    if url.startswith("sqlite:///"):
        # Up to eight processes share the file: wait for its lock as long as sweeplab does
        # (120 s), not sqlite3's default 5 s, which a loaded machine can pass ("database is
        # locked" in an Optuna worker).
        return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 120}})
    return url


class Backend:
    """Fresh storages of one kind: an SQLite file each, a new PostgreSQL database, or a new
    key prefix on a Redis server."""

    def __init__(self, kind, admin_url=None):
        self.kind = kind
        self.admin_url = admin_url
        self.n = 0

    def fresh(self):
        self.n += 1
        if self.kind == "sqlite":
            d = tempfile.mkdtemp()
            return f"sqlite:///{os.path.join(d, 'study.db')}"
        if self.kind == "redis":
            return f"{self.admin_url}?prefix=sweeplab-{os.getpid()}-{self.n}"
        import psycopg
        base, _, _ = self.admin_url.rpartition("/")
        name = f"sweeplab_rdb_{os.getpid()}_{self.n}"
        with psycopg.connect(self.admin_url, autocommit=True) as c:
            c.execute(f"DROP DATABASE IF EXISTS {name}")
            c.execute(f"CREATE DATABASE {name}")
        return f"{base}/{name}"


def same_trials(a, b):
    assert len(a) == len(b), (len(a), len(b))
    for s, t in zip(a, b):
        assert s.number == t.number and s.state == t.state, (s, t)
        assert s.params == t.params and s.distributions == t.distributions, (s.params, t.params)
        assert (s.values or []) == (t.values or []), (s.values, t.values)


def python_created(backend):
    url = backend.fresh()
    study = optuna.create_study(study_name="py", storage=py_storage(url), direction="maximize")
    study.set_user_attr("owner", "python")
    for _ in range(4):
        t = study.ask(SPACE)
        study.tell(t, -objective_value(t.params))
    study.enqueue_trial({"x": 1.0, "lr": 0.001, "layers": 3, "opt": "adam"})
    first = sl_ask(url, "py", '{"seed": 0, "n_startup_trials": 4}')
    assert first["number"] == 4 and first["params"]["x"] == 1.0, first
    sl_tell(url, "py", first["number"], -objective_value(first["params"]))
    for _ in range(5):
        out = sl_ask(url, "py", '{"seed": 0, "n_startup_trials": 4}')
        sl_tell(url, "py", out["number"], -objective_value(out["params"]))
    study = optuna.load_study(study_name="py", storage=py_storage(url),
                              sampler=optuna.samplers.TPESampler(seed=1, n_startup_trials=3))
    assert len(study.trials) == 10 and [t.number for t in study.trials] == list(range(10))
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    for t in study.trials:
        assert t.value == -objective_value(t.params), (t.number, t.value, t.params)
        assert t.distributions == SPACE, t.distributions
    assert study.user_attrs == {"owner": "python"}
    listing = sl("studies", "--storage", url).stdout
    assert "py\tmaximize\ttrials=10\tcomplete=10" in listing, listing


def sweeplab_created(backend):
    url = backend.fresh()
    sl("create-study", "--storage", url, "--study-name", "sl", "--direction", "minimize")
    told = {}
    for i in range(6):
        out = sl_ask(url, "sl")
        value = [objective_value(out["params"]), float("inf"), float("-inf")][i % 3]
        if i == 4:
            sl("tell", "--storage", url, "--study-name", "sl", "--trial-number",
               str(out["number"]), "--state", "pruned")
        else:
            sl_tell(url, "sl", out["number"], value)
            told[out["number"]] = value
    running = sl_ask(url, "sl")
    study = optuna.load_study(study_name="sl", storage=py_storage(url))
    assert [t.number for t in study.trials] == list(range(7))
    for n, v in told.items():
        assert study.trials[n].value == v, (n, study.trials[n].value, v)
    assert study.trials[4].state == optuna.trial.TrialState.PRUNED
    assert study.trials[6].state == optuna.trial.TrialState.RUNNING
    assert study.trials[6].params == running["params"]
    for t in study.trials:
        assert t.distributions == SPACE, t.distributions
        assert t.datetime_start is not None
    # Python adds NaN intermediate values and attributes; sweeplab reads them back.
    t = study.ask(SPACE)
    t.report(float("nan"), 0)
    t.report(float("inf"), 1)
    t.report(0.25, 2)
    t.set_user_attr("nan", float("nan"))
    t.set_user_attr("nested", {"a": [1, 2.5, "z"]})
    study.tell(t, 1.5)
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "journal.log")
        sl("export", "--storage", url, "--study-name", "sl", "--format", "optuna", "--out", out)
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend
        copy = optuna.load_study(study_name="sl", storage=JournalStorage(JournalFileBackend(out)))
        same_trials(optuna.load_study(study_name="sl", storage=py_storage(url)).trials, copy.trials)
        last = copy.trials[-1]
        assert math.isnan(last.intermediate_values[0]) and last.intermediate_values[1] == math.inf
        assert last.intermediate_values[2] == 0.25
        assert math.isnan(last.user_attrs["nan"]) and last.user_attrs["nested"] == {"a": [1, 2.5, "z"]}
    if backend.kind == "redis":
        return
    # Optuna's own tools on it.
    env = dict(os.environ)
    bindir = os.path.dirname(sys.executable)
    listing = subprocess.run([os.path.join(bindir, "optuna"), "studies", "--storage", url],
                             capture_output=True, text=True, env=env, timeout=120)
    assert listing.returncode == 0 and " sl " in listing.stdout, listing.stdout + listing.stderr
    up = subprocess.run([os.path.join(bindir, "optuna"), "storage", "upgrade", "--storage", url],
                        capture_output=True, text=True, env=env, timeout=120)
    assert up.returncode == 0 and "up-to-date" in (up.stdout + up.stderr), up.stdout + up.stderr
    dashboard_lists(url, "sl")


def dashboard_lists(url, name):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    bindir = os.path.dirname(sys.executable)
    proc = subprocess.Popen([os.path.join(bindir, "optuna-dashboard"), url, "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=5) as r:
                    studies = json.load(r)["study_summaries"]
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.5)
        names = [s["study_name"] for s in studies]
        assert name in names, names
        sid = next(s["study_id"] for s in studies if s["study_name"] == name)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies/{sid}", timeout=30) as r:
            detail = json.load(r)
        assert len(detail["trials"]) >= 7, len(detail["trials"])
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _py_worker(args):
    url, n = args
    study = optuna.load_study(study_name="race", storage=py_storage(url),
                              sampler=optuna.samplers.TPESampler(n_startup_trials=5, constant_liar=True))
    told = []
    for _ in range(n):
        t = study.ask(SPACE)
        v = objective_value(t.params)
        study.tell(t, v)
        told.append((t.number, v))
    return told


def _sl_worker(args):
    global SWEEPLAB
    url, n, SWEEPLAB = args
    told = []
    for _ in range(n):
        out = sl_ask(url, "race", '{"n_startup_trials": 5, "constant_liar": true}')
        v = objective_value(out["params"])
        sl_tell(url, "race", out["number"], v)
        told.append((out["number"], v))
    return told


def many_workers(backend, n_sl, n_py, total):
    url = backend.fresh()
    sl("create-study", "--storage", url, "--study-name", "race")
    per = total // (n_sl + n_py)
    jobs = [(_sl_worker, (url, per, SWEEPLAB))] * n_sl + [(_py_worker, (url, per))] * n_py
    ctx = mp.get_context("spawn")
    with ctx.Pool(len(jobs)) as pool:
        results = [pool.apply_async(fn, (a,)) for fn, a in jobs]
        told = [x for r in results for x in r.get(timeout=1800)]
    numbers = sorted(n for n, _ in told)
    assert numbers == list(range(total)), numbers
    study = optuna.load_study(study_name="race", storage=py_storage(url))
    assert len(study.trials) == total
    by_number = {t.number: t for t in study.trials}
    for n, v in told:
        t = by_number[n]
        assert t.state == optuna.trial.TrialState.COMPLETE and t.value == v, (n, t.state, t.value, v)
    listing = sl("studies", "--storage", url).stdout
    assert f"trials={total}\tcomplete={total}" in listing, listing
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "journal.log")
        sl("export", "--storage", url, "--study-name", "race", "--format", "optuna", "--out", out)
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend
        copy = optuna.load_study(study_name="race", storage=JournalStorage(JournalFileBackend(out)))
        same_trials(study.trials, copy.trials)


def killed_mid_tell(backend):
    url = backend.fresh()
    sl("create-study", "--storage", url, "--study-name", "kill")
    rng = random.Random(0)
    asked = []
    n = 40
    for _ in range(n + 1):
        out = sl_ask(url, "kill", sampler="RandomSampler", kwargs="{}")
        asked.append(out)
    # How long one whole tell takes on this machine now (a loaded CI machine is slower):
    # the kills below spread from before a process has started to well after it has ended.
    started = time.monotonic()
    sl_tell(url, "kill", asked[0]["number"], objective_value(asked[0]["params"]))
    whole = time.monotonic() - started
    for i, out in enumerate(asked[1:]):
        p = subprocess.Popen([SWEEPLAB, "tell", "--storage", url, "--study-name", "kill",
                              "--trial-number", str(out["number"]), "--values",
                              repr(objective_value(out["params"]))],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep((3.0 * whole + 0.03) * i / n + rng.uniform(0.0, 0.002))
        p.send_signal(signal.SIGKILL)
        p.wait()
    study = optuna.load_study(study_name="kill", storage=py_storage(url))
    assert len(study.trials) == n + 1
    states = {t.state for t in study.trials[1:]}
    assert states == {optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.RUNNING}, states
    for t, out in zip(study.trials, asked):
        assert t.params == out["params"]
        if t.state == optuna.trial.TrialState.COMPLETE:
            assert t.value == objective_value(out["params"]), (t.number, t.value)
        else:
            assert t.state == optuna.trial.TrialState.RUNNING and t.values is None, t
    # The ones a kill cut short can still be told.
    for t in study.trials:
        if t.state == optuna.trial.TrialState.RUNNING:
            sl_tell(url, "kill", t.number, objective_value(t.params))
    study = optuna.load_study(study_name="kill", storage=py_storage(url))
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)


def rustuna_database(backend):
    import rustuna
    url = backend.fresh()
    path = url[len("sqlite:///"):]
    st = rustuna.storages.SQLite3Storage(path, create_database=True)
    study = rustuna.create_study(study_name="ru", storage=st, direction="minimize")
    for _ in range(5):
        t = study.ask()
        x = t.suggest_float("x", -5.0, 5.0)
        study.tell(t.number, (x - 1.0) ** 2)
    space = json.dumps({"x": json.loads(optuna.distributions.distribution_to_json(SPACE["x"]))})
    for _ in range(3):
        out = json.loads(sl("ask", "--storage", url, "--study-name", "ru", "--search-space", space).stdout)
        sl_tell(url, "ru", out["number"], (out["params"]["x"] - 1.0) ** 2)
    again = rustuna.load_study(study_name="ru", storage=rustuna.storages.SQLite3Storage(path))
    assert [t.number for t in again.trials] == list(range(8)), [t.number for t in again.trials]
    assert all(str(t.state).endswith("COMPLETE") for t in again.trials)
    listing = sl("studies", "--storage", url).stdout
    assert "ru\tminimize\ttrials=8\tcomplete=8" in listing, listing
    # A discarded trial keeps its row and number (rustuna's `trials.discarded_at`): rustuna's
    # default view, Optuna and sweeplab all read it, and new trials number after it.
    st.discard_trials([again.trials[2]._trial_id])
    listing = sl("studies", "--storage", url).stdout
    assert "ru\tminimize\ttrials=8\tcomplete=8" in listing, listing
    out = json.loads(sl("ask", "--storage", url, "--study-name", "ru", "--search-space", space).stdout)
    assert out["number"] == 8, out
    sl_tell(url, "ru", 8, (out["params"]["x"] - 1.0) ** 2)
    default = rustuna.load_study(study_name="ru", storage=rustuna.storages.SQLite3Storage(path))
    assert [t.number for t in default.trials] == list(range(9)), [t.number for t in default.trials]
    applied = rustuna.load_study(
        study_name="ru", storage=rustuna.storages.SQLite3Storage(path, apply_discard=True))
    assert [t.number for t in applied.trials] == [0, 1, 3, 4, 5, 6, 7, 8], [t.number for t in applied.trials]
    py = optuna.load_study(study_name="ru", storage=py_storage(url))
    assert [t.number for t in py.trials] == list(range(9))


SWEEP_YAML = """\
name: {name}
method: bayes
metric: {{name: val/loss, goal: minimize}}
run_cap: {cap}
parameters:
  lr: {{distribution: log_uniform_values, min: 0.003, max: 0.03}}
  width: {{values: [8, 16]}}
  epochs: {{value: {epochs}}}
sweeplab:
  dataset: spiral
  samples: 300
  model: mlp
  seed: 5
  batch_size: 16
"""

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def sweep_worker(cfg, out, url, *extra):
    return subprocess.Popen([SWEEPLAB, "sweep", cfg, "--out", out, "--backend", "cpu", "--engine",
                             "burn", "--quiet", "--storage", url, *extra],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(p, timeout=300):
    """A sweep worker's stderr once it exits; one that hangs is killed, and what it printed
    is the failure."""
    try:
        return p.communicate(timeout=timeout)[1]
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
        raise AssertionError(f"a sweep worker still ran after {timeout} s; it printed:\n{err}")


def sweep_workers(backend):
    url = backend.fresh()
    d = tempfile.mkdtemp()
    cfg = os.path.join(d, "together.yaml")
    with open(cfg, "w") as f:
        f.write(SWEEP_YAML.format(name="together", cap=6, epochs=6))
    procs = [sweep_worker(cfg, os.path.join(d, f"out{i}"), url) for i in range(3)]
    for p in procs:
        err = finish(p)
        assert p.returncode == 0, err
    study = optuna.load_study(study_name="together", storage=py_storage(url))
    assert [t.number for t in study.trials] == list(range(6)), [t.number for t in study.trials]
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    # Killed mid-trial, resumed by one worker once the heartbeats are stale.
    cfg = os.path.join(d, "killed.yaml")
    epochs = 400
    with open(cfg, "w") as f:
        f.write(SWEEP_YAML.format(name="killed", cap=6, epochs=epochs))
    hb = ["--heartbeat-interval", "1", "--grace-period", "3"]
    procs = [sweep_worker(cfg, os.path.join(d, f"k{i}"), url, *hb) for i in range(3)]
    deadline = time.time() + 300
    while True:
        for p in procs:
            if p.poll() is not None:
                err = p.communicate()[1]
                raise AssertionError(f"a sweep worker exited ({p.returncode}) before the kill:\n{err}")
        try:
            trials = optuna.load_study(study_name="killed", storage=py_storage(url)).trials
        except KeyError:
            trials = []
        running = [t for t in trials if t.state == optuna.trial.TrialState.RUNNING]
        # A trial that has reported under a quarter of its epochs (one intermediate value
        # each) has most of its training ahead of it: killed now, it cannot have finished,
        # however slowly this poll (a whole study read back) runs on a loaded machine.
        early = [t for t in running if len(t.intermediate_values) < epochs // 4]
        if len(running) >= 2 and early:
            break
        assert time.time() < deadline, [(t.number, t.state, len(t.intermediate_values)) for t in trials]
        time.sleep(0.1)
    for p in procs:
        p.send_signal(signal.SIGKILL)
        p.communicate()
    left = [t.number for t in optuna.load_study(study_name="killed", storage=py_storage(url)).trials
            if t.state == optuna.trial.TrialState.RUNNING]
    # An early trial cannot have finished; one may have been failed as stale by another
    # worker whose look came between its worker's heartbeats on a loaded machine (the grace
    # period here is 3 s), so at least one of them is still RUNNING.
    assert set(t.number for t in early) & set(left), (left, [t.number for t in early])
    # Each has a heartbeat, even one a worker asked just before the kill (the ask writes
    # it): a trial without one would never be stale, and the resumed worker would wait.
    beats = heartbeat_times(url, "killed", left)
    assert all(b is not None for b in beats), list(zip(left, beats))
    p = sweep_worker(cfg, os.path.join(d, "again"), url, *hb)
    err = finish(p)
    assert p.returncode == 0 and "stale trial" in err, err
    study = optuna.load_study(study_name="killed", storage=py_storage(url))
    counted = [t for t in study.trials if t.state.is_finished() and "interrupted" not in t.user_attrs]
    assert len(counted) == 6, [(t.number, t.state) for t in study.trials]
    for n in left:
        t = study.trials[n]
        assert t.state == optuna.trial.TrialState.FAIL and t.user_attrs.get("interrupted"), t


def heartbeat_times(url, study, numbers):
    """The last heartbeat of each trial (None: none), read the way the storage keeps it."""
    if url.startswith("redis://"):
        import redis
        base, _, query = url.partition("?")
        prefix = dict(p.split("=", 1) for p in query.split("&") if p).get("prefix", "")
        r = redis.Redis.from_url(base)
        return [r.hget(f"{prefix}:sweeplab:heartbeats", f"{study}\x1f{n}") for n in numbers]
    storage = optuna.storages.RDBStorage(url)
    import sqlalchemy
    out = []
    with storage.engine.connect() as c:
        for n in numbers:
            out.append(c.execute(sqlalchemy.text(
                "SELECT h.heartbeat FROM trial_heartbeats h JOIN trials t ON t.trial_id = h.trial_id "
                "JOIN studies s ON s.study_id = t.study_id WHERE s.study_name = :s AND t.number = :n"),
                {"s": study, "n": n}).scalar())
    storage.remove_session()
    return out


def one_line_error(args, *needles):
    out = sl(*args, check=False)
    lines = [l for l in out.stderr.splitlines() if l.strip()]
    assert out.returncode == 2, (args, out.returncode, out.stderr)
    assert len(lines) == 1, out.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


def bad_input(backend):
    url = backend.fresh()
    sl("create-study", "--storage", url, "--study-name", "ok")
    one_line_error(["ask", "--storage", url, "--study-name", "missing", "--search-space", SPACE_JSON],
                   "no study named `missing`")
    one_line_error(["studies", "--storage", "sqlite://relative.db"], "three slashes")
    one_line_error(["studies", "--storage", "mysql://u@h/db"], "not supported")
    one_line_error(["studies", "--storage", "postgresql://u:secret@127.0.0.1:notaport/db"], "port")
    if backend.kind == "redis":
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
        s.close()
        one_line_error(["studies", "--storage", f"redis://127.0.0.1:{free}/0"], "Redis")
        one_line_error(["studies", "--storage", "redis://127.0.0.1:1/notanumber"], "not a number")
        return
    if backend.kind == "sqlite":
        path = url[len("sqlite:///"):]
        c = sqlite3.connect(path)
        c.execute("UPDATE alembic_version SET version_num = 'v9.0.0.a'")
        c.commit()
        c.close()
    else:
        import psycopg
        with psycopg.connect(url, autocommit=True) as c:
            c.execute("UPDATE alembic_version SET version_num = 'v9.0.0.a'")
    line = one_line_error(["studies", "--storage", url], "v9.0.0.a", "newer")
    if backend.kind == "postgres":
        from urllib.parse import urlsplit
        parts = urlsplit(url)
        user, host = parts.username, f"{parts.hostname}:{parts.port}"
        if parts.password:
            # Only a server that asks for passwords can refuse one (the test server does).
            wrong = one_line_error(
                ["studies", "--storage", f"postgresql://{user}:wrong-password@{host}/postgres"],
                "password authentication failed")
            assert "wrong-password" not in wrong, wrong
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
        s.close()
        one_line_error(["studies", "--storage", f"postgresql://{user}:x@127.0.0.1:{free}/db"],
                       "error connecting to server")


def main():
    global SWEEPLAB
    SWEEPLAB = sys.argv[1]
    # 8 processes, sweeplab and Python Optuna mixed, 1,000 trials on each storage.
    backends = [(Backend("sqlite"), 4, 4, 1000)]
    if len(sys.argv) > 2:
        backends.append((Backend("postgres", sys.argv[2]), 4, 4, 1000))
    if len(sys.argv) > 3:
        backends.append((Backend("redis", sys.argv[3]), 4, 4, 1000))
    for backend, n_sl, n_py, total in backends:
        k = backend.kind
        check(f"{k}: a database Python Optuna created is used as it is")(lambda: python_created(backend))
        check(f"{k}: Optuna (and for databases its CLI and optuna-dashboard) reads what sweeplab wrote")(lambda: sweeplab_created(backend))
        check(f"{k}: {n_sl} sweeplab + {n_py} Optuna workers, {total} trials, each once")(
            lambda: many_workers(backend, n_sl, n_py, total))
        check(f"{k}: SIGKILL in the middle of tells leaves a consistent database")(lambda: killed_mid_tell(backend))
        if k == "sqlite":
            check("sqlite: rustuna's databases are read, continued and read back by rustuna")(
                lambda: rustuna_database(backend))
        check(f"{k}: three sweep workers keep run_cap, and resume after SIGKILL")(
            lambda: sweep_workers(backend))
        check(f"{k}: bad input is one line and exit status 2")(lambda: bad_input(backend))
    report()


if __name__ == "__main__":
    main()
