"""Checks a sweeplab CSV export against Optuna's view of the source journal.

usage: check_csv.py CSV SOURCE_JOURNAL STUDY      (run with TZ=UTC: Optuna reads naive local times)

The header is `trials_dataframe()`'s default columns (`number, value, datetime_start,
datetime_complete, duration, params_*, user_attrs_*` (metric series left out),
`system_attrs_*, state`), one row per trial, and every cell is what pandas' `to_csv` writes
for Optuna's value.
"""

import csv
import datetime as dt
import math
import sys

from truth import HISTOGRAMS_PREFIX, SERIES_PREFIX, expect, load_study, run_checks, same_float


def fmt_time(t, fraction):
    return t.strftime("%Y-%m-%d %H:%M:%S") + (f".{t.microsecond:06d}" if fraction else "")


def fmt_duration(d, fraction):
    us = d // dt.timedelta(microseconds=1)
    days, rem = divmod(us, 86_400_000_000)
    secs, frac = divmod(rem, 1_000_000)
    s = f"{days} days {secs // 3600:02d}:{secs % 3600 // 60:02d}:{secs % 60:02d}"
    return s + (f".{frac:06d}" if fraction else "")


def main():
    path, journal, name = sys.argv[1:4]
    study, trials = load_study(journal, name)
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    params = sorted({p for t in trials for p in t.params})
    user = sorted({k for t in trials for k in t.user_attrs if not k.startswith(SERIES_PREFIX)})
    # Histograms (system attributes `sweeplab:histograms:<epoch>`) are not cells either.
    system = sorted({k for t in trials for k in t.system_attrs if not k.startswith(HISTOGRAMS_PREFIX)})
    want = (["number", "value", "datetime_start", "datetime_complete", "duration"]
            + [f"params_{p}" for p in params] + [f"user_attrs_{k}" for k in user]
            + [f"system_attrs_{k}" for k in system] + ["state"])
    expect(header == want, f"header {header} != {want}")
    expect(len(body) == len(trials), f"{len(body)} rows for {len(trials)} trials")
    col = {c: i for i, c in enumerate(header)}
    times = [t for tr in trials for t in (tr.datetime_start, tr.datetime_complete) if t]
    frac = any(t.microsecond for t in times)
    durs = [tr.duration for tr in trials if tr.duration is not None]
    dfrac = any(d.microseconds for d in durs)
    for row, t in zip(body, trials):
        tag = f"row {t.number}"
        expect(row[col["number"]] == str(t.number), f"{tag}: number {row[0]}")
        expect(row[col["state"]] == t.state.name, f"{tag}: state {row[col['state']]}")
        v = row[col["value"]]
        if t.value is None or math.isnan(t.value):
            expect(v == "", f"{tag}: value {v!r} for {t.value}")
        else:
            expect(v == repr(float(t.value)), f"{tag}: value {v!r} != {t.value!r}")
        for key, when in (("datetime_start", t.datetime_start), ("datetime_complete", t.datetime_complete)):
            want_cell = fmt_time(when, frac) if when else ""
            expect(row[col[key]] == want_cell, f"{tag}: {key} {row[col[key]]!r} != {want_cell!r}")
        want_d = fmt_duration(t.duration, dfrac) if t.duration is not None else ""
        expect(row[col["duration"]] == want_d, f"{tag}: duration {row[col['duration']]!r} != {want_d!r}")
        for p in params:
            cell = row[col[f"params_{p}"]]
            value = t.params.get(p)
            if value is None:
                expect(cell == "", f"{tag}: params_{p} {cell!r}")
            elif isinstance(value, bool) or isinstance(value, str):
                expect(cell == str(value), f"{tag}: params_{p} {cell!r} != {value!r}")
            else:
                expect(same_float(float(cell), float(value)), f"{tag}: params_{p} {cell!r} != {value!r}")
        for k in user:
            cell = row[col[f"user_attrs_{k}"]]
            value = t.user_attrs.get(k)
            expect(cell == ("" if value is None else str(value)), f"{tag}: user_attrs_{k} {cell!r} != {value!r}")
    print(f"csv: {len(header)} columns, {len(body)} rows match Optuna's trials")


if __name__ == "__main__":
    run_checks("csv", main)
