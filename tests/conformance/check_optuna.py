"""Checks a sweeplab Optuna export (a journal, or an SQLite database: `study.db`) with
Optuna and optuna-dashboard.

usage: check_optuna.py EXPORT SOURCE_JOURNAL STUDY [--dashboard]

1. a journal: every line is one JSON object ending in a newline, with a known op_code;
   a database: Optuna 5.0's RDBStorage opens it (schema version and alembic revision);
2. `optuna.load_study` on the export sees the same trials as on the source: numbers, states,
   params, distributions, values, intermediate values, user attributes (metric series
   included) and times;
3. with --dashboard: `optuna-dashboard EXPORT` on 127.0.0.1 (a free port) serves
   /api/studies and /api/studies/<id> with every trial; then it is stopped.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from truth import expect, is_sqlite, load_study, run_checks, same_float


def raw_lines(path):
    data = open(path, "rb").read()
    expect(data.endswith(b"\n"), f"{path}: last line has no newline")
    lines = data.decode("utf-8").split("\n")[:-1]
    for i, line in enumerate(lines, 1):
        op = json.loads(line)
        expect(isinstance(op, dict) and op.get("op_code") in range(10), f"{path}:{i}: bad op {line[:80]}")
    return len(lines)


def same_attrs(a, b):
    if a.keys() != b.keys():
        return False
    return all(json.dumps(a[k], sort_keys=True) == json.dumps(b[k], sort_keys=True) for k in a)


def compare(exported, source, name):
    _, got = load_study(exported, name)
    _, want = load_study(source, name)
    expect(len(got) == len(want), f"{len(got)} trials, the source has {len(want)}")
    for g, w in zip(got, want):
        tag = f"trial {w.number}"
        expect(g.number == w.number, f"{tag}: number {g.number}")
        expect(g.state == w.state, f"{tag}: state {g.state} != {w.state}")
        expect(g.params == w.params, f"{tag}: params {g.params} != {w.params}")
        expect(g.distributions == w.distributions, f"{tag}: distributions differ")
        if w.values is None:
            expect(g.values is None, f"{tag}: values {g.values} != None")
        else:
            expect(g.values is not None and len(g.values) == len(w.values)
                   and all(same_float(a, b) for a, b in zip(g.values, w.values)),
                   f"{tag}: values {g.values} != {w.values}")
        expect(g.intermediate_values.keys() == w.intermediate_values.keys()
               and all(same_float(g.intermediate_values[k], w.intermediate_values[k])
                       for k in w.intermediate_values),
               f"{tag}: intermediate values {g.intermediate_values} != {w.intermediate_values}")
        expect(same_attrs(g.user_attrs, w.user_attrs), f"{tag}: user attrs differ")
        expect(same_attrs(g.system_attrs, w.system_attrs), f"{tag}: system attrs differ")
        expect(g.datetime_start == w.datetime_start, f"{tag}: start {g.datetime_start} != {w.datetime_start}")
        expect(g.datetime_complete == w.datetime_complete, f"{tag}: complete differs")
    return len(got)


def dashboard(path, name, n_trials):
    exe = os.path.join(os.path.dirname(sys.executable), "optuna-dashboard")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tmp = tempfile.mkdtemp(prefix="sweeplab-dash-")
    copy = os.path.join(tmp, "study.db" if is_sqlite(path) else "journal.log")
    shutil.copy(path, copy)
    target = "sqlite:///" + copy if is_sqlite(path) else copy
    proc = subprocess.Popen([exe, target, "--host", "127.0.0.1", "--port", str(port), "--server", "wsgiref"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/api/studies", timeout=5) as r:
                    studies = json.loads(r.read())["study_summaries"]
                break
            except OSError:
                expect(proc.poll() is None, f"optuna-dashboard exited with {proc.returncode}")
                expect(time.time() < deadline, "optuna-dashboard did not answer within 60 s")
                time.sleep(0.5)
        names = [s["study_name"] for s in studies]
        expect(names == [name], f"dashboard lists {names}, want [{name!r}]")
        with urllib.request.urlopen(f"{base}/api/studies/{studies[0]['study_id']}", timeout=30) as r:
            detail = json.loads(r.read())
        n = len(detail.get("trials", []))
        expect(n == n_trials, f"dashboard shows {n} trials, Optuna {n_trials}")
        print(f"optuna-dashboard (pid {proc.pid}, port {port}): /api/studies -> {names}, {n} trials")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    exported, source, name = sys.argv[1:4]
    if is_sqlite(exported):
        n = compare(exported, source, name)
        print(f"SQLite database: optuna.load_study sees the same {n} trials as the source")
    else:
        n_lines = raw_lines(exported)
        n = compare(exported, source, name)
        print(f"journal: {n_lines} lines; optuna.load_study sees the same {n} trials as the source")
    if "--dashboard" in sys.argv[4:]:
        dashboard(exported, name, n)


if __name__ == "__main__":
    run_checks("optuna", main)
