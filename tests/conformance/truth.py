"""Shared helpers of the export conformance checks: the study as Python Optuna itself reads
it from the source journal (the ground truth every export is compared with)."""

import math
import os
import shutil
import sys
import tempfile

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

optuna.logging.set_verbosity(optuna.logging.WARNING)

SERIES_PREFIX = "series:"


class CheckFailed(Exception):
    """A conformance check found a difference."""


def fail(msg):
    raise CheckFailed(msg)


def expect(cond, msg):
    if not cond:
        fail(msg)


def is_sqlite(path):
    """Whether `path` is an SQLite database file (else a journal)."""
    with open(path, "rb") as f:
        return f.read(16) == b"SQLite format 3\x00"


def storage_of(copy):
    """Optuna's storage for a file: `sqlite:///…` for an SQLite database, else a journal."""
    if is_sqlite(copy):
        return "sqlite:///" + os.path.abspath(copy)
    return JournalStorage(JournalFileBackend(copy))


def load_study(journal, study_name):
    """Loads `study_name` from a copy of `journal` (Optuna may create lock files), a
    journal file or an SQLite database."""
    tmp = tempfile.mkdtemp(prefix="sweeplab-conf-")
    copy = os.path.join(tmp, "study.db" if is_sqlite(journal) else "journal.log")
    shutil.copy(journal, copy)
    storage = storage_of(copy)
    study = optuna.load_study(study_name=study_name, storage=storage)
    trials = study.get_trials(deepcopy=True)
    shutil.rmtree(tmp, ignore_errors=True)
    return study, trials


def series_of(trial):
    """The metric series a trial logged: name -> list of (step, value, wall_time)."""
    out = {}
    for key, v in trial.user_attrs.items():
        if key.startswith(SERIES_PREFIX):
            out[key[len(SERIES_PREFIX):]] = list(zip(v["step"], v["value"], v["wall_time"]))
    return out


def same_float(a, b, rel=0.0):
    if a is None or b is None:
        return a is b
    if math.isnan(a) and math.isnan(b):
        return True
    if rel == 0.0:
        return a == b
    return abs(a - b) <= rel * max(1.0, abs(a), abs(b))


def run_checks(name, fn):
    """Runs `fn()`, prints OK or FAIL and exits 0 or 1."""
    try:
        fn()
    except CheckFailed as e:
        print(f"{name}: FAIL: {e}")
        sys.exit(1)
    print(f"{name}: OK")
    sys.exit(0)


HISTOGRAMS_PREFIX = "sweeplab:histograms:"


def histograms_of(trial):
    """A trial's histograms as {tag: [(epoch, histogram dict)]} in epoch order."""
    out = {}
    for key, rec in trial.system_attrs.items():
        if not key.startswith(HISTOGRAMS_PREFIX):
            continue
        epoch = int(key[len(HISTOGRAMS_PREFIX):])
        for tag, h in rec["histograms"].items():
            out.setdefault(tag, []).append((epoch, h))
    return {tag: sorted(pts, key=lambda p: p[0]) for tag, pts in out.items()}


def histogram_edges(h):
    """The 65 bin edges of a histogram dict, as NumPy's linspace makes them."""
    import numpy as np
    return np.linspace(h["lo"], h["hi"], len(h["counts"]) + 1)
