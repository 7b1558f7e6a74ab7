#!/usr/bin/env python3
"""Faults: a kill storm and a full disk, with Optuna 5.0, TensorBoard and wandb as judges.

usage: python kill_storm.py SWEEPLAB_BIN [--kills N]

1. Kill storm. `sweeplab sweep` (journal file, TensorBoard and W&B logs) is killed with
   SIGKILL at a random moment N times (100 by default), and restarted after each kill.
   After every kill:
     - the journal replays in Python Optuna (`optuna.load_study`);
     - no finished trial is lost: every trial seen finished before is still there, with
       the same state and value.
   Every 50 kills, `sweeplab export` writes TensorBoard, W&B, journal and CSV from the
   journal, and the real readers (tests/conformance/check_*.py) read them. At the end the
   sweep runs to its end; its own live logs are read by TensorBoard and wandb (one run per
   trial, none twice), and no temporary file is left.
2. Disk full. A sweep writes its journal and logs onto a small tmpfs that fills up. It
   exits with one clear error line (not a panic), the journal replays in Optuna with every line
   whole, and after space is freed a rerun resumes and finishes the study. (Skipped, with a
   line, where tmpfs cannot be mounted.)

Each check prints PASS/FAIL; the last line is "N passed, M failed".
"""
import glob
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from checks import check, report  # this folder's harness

optuna.logging.set_verbosity(optuna.logging.ERROR)

HERE = os.path.dirname(os.path.abspath(__file__))
CONFORMANCE = os.path.join(HERE, "..", "conformance")
SWEEPLAB = None
# The kill storm's study: enough trials that every restart has work to be killed in.
CAP = 150

SWEEP_YAML = """\
name: {name}
method: bayes
metric: {{name: val/loss, goal: minimize}}
run_cap: {cap}
parameters:
  lr: {{distribution: log_uniform_values, min: 0.003, max: 0.1}}
  width: {{values: [8, 16]}}
  epochs: {{value: {epochs}}}
sweeplab:
  pruner: {{type: median, n_startup_trials: 3, n_warmup_steps: 2}}
  dataset: spiral
  samples: 200
  model: mlp
  seed: 11
  batch_size: 16
"""


def load_trials(journal, name):
    """The study's trials as Optuna replays a copy of the journal (a killed writer may have
    left Optuna's lock behind; reading needs no lock)."""
    d = tempfile.mkdtemp(prefix="sweeplab-storm-")
    try:
        copy = os.path.join(d, "journal.log")
        shutil.copy(journal, copy)
        try:
            study = optuna.load_study(study_name=name, storage=JournalStorage(JournalFileBackend(copy)))
        except KeyError:
            return []
        return study.get_trials(deepcopy=False)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def finished(trials):
    """number -> (state, value) of the trials that finished for good (an interrupted trial
    is failed by the restart, which is also for good)."""
    return {t.number: (t.state, t.value) for t in trials if t.state.is_finished()}


def sweep(cfg, out, journal, **kw):
    return subprocess.Popen(
        [SWEEPLAB, "sweep", cfg, "--out", out, "--storage", journal, "--backend", "cpu", "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **kw)


def readers(journal, name, logdir_tb, logdir_wb):
    py = sys.executable
    for script, target in [("check_tensorboard.py", logdir_tb), ("check_wandb.py", logdir_wb)]:
        r = subprocess.run([py, os.path.join(CONFORMANCE, script), target, journal, name],
                           cwd=CONFORMANCE, capture_output=True, text=True, timeout=600,
                           env={**os.environ, "TZ": "UTC"})
        assert r.returncode == 0, f"{script}:\n{r.stdout}\n{r.stderr}"


def exports_read_back(journal, name, work):
    """`sweeplab export` in every format from the journal as it stands, read by the real
    readers."""
    snap = os.path.join(work, "snapshot.log")
    shutil.copy(journal, snap)
    exp = os.path.join(work, "export")
    shutil.rmtree(exp, ignore_errors=True)
    for fmt, out in [("tensorboard", "tb"), ("wandb", "wb"), ("optuna", "journal.log"), ("csv", "trials.csv")]:
        r = subprocess.run([SWEEPLAB, "export", "--storage", snap, "--study-name", name,
                            "--format", fmt, "--out", os.path.join(exp, out)],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
    readers(snap, name, os.path.join(exp, "tb"), os.path.join(exp, "wb"))
    r = subprocess.run([sys.executable, os.path.join(CONFORMANCE, "check_optuna.py"),
                        os.path.join(exp, "journal.log"), snap, name],
                       cwd=CONFORMANCE, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr


def kill_storm(kills):
    work = tempfile.mkdtemp(prefix="sweeplab-storm-")
    journal = os.path.join(work, "journal.log")
    out = os.path.join(work, "runs")
    cfg = os.path.join(work, "storm.yaml")
    with open(cfg, "w") as f:
        f.write(SWEEP_YAML.format(name="storm", cap=CAP, epochs=30))
    rng = random.Random(20261206)
    seen = {}
    landed = 0
    for i in range(1, kills + 1):
        p = sweep(cfg, out, journal)
        time.sleep(rng.uniform(0.05, 0.8))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            landed += 1
        _, err = p.communicate(timeout=120)
        assert p.returncode in (0, -signal.SIGKILL), f"kill {i}: exit {p.returncode}: {err}"
        now = finished(load_trials(journal, "storm"))
        lost = {n: v for n, v in seen.items() if now.get(n) != v}
        assert not lost, f"kill {i}: finished trials lost or changed: {lost}"
        seen = now
        if i % 50 == 0:
            exports_read_back(journal, "storm", work)
    # The study runs to its end, resuming once more, and its live logs are complete.
    p = sweep(cfg, out, journal)
    _, err = p.communicate(timeout=900)
    assert p.returncode == 0, err
    trials = load_trials(journal, "storm")
    counted = [t for t in trials if t.state.is_finished() and "interrupted" not in t.user_attrs]
    assert len(counted) == CAP, f"{len(counted)} counted trials, run_cap {CAP}"
    assert all(t.state.is_finished() for t in trials), "a trial is left RUNNING"
    readers(journal, "storm", os.path.join(out, "tensorboard"), out)
    runs = sorted(os.path.basename(d) for d in glob.glob(os.path.join(out, "tensorboard", "trial-*")))
    assert runs == [f"trial-{t.number:03d}" for t in trials], runs
    wb = glob.glob(os.path.join(out, "wandb", "offline-run-*"))
    assert len(wb) == len(trials), f"{len(wb)} W&B runs for {len(trials)} trials"
    temps = [f for f in glob.glob(os.path.join(out, "**", "*"), recursive=True) if ".tmp-" in os.path.basename(f)]
    assert not temps, f"temporary files left: {temps}"
    print(f"     {kills} restarts, {landed} SIGKILLs landed mid-run; {len(trials)} trials "
          f"({len(trials) - len(counted)} interrupted by kills), all read back", flush=True)
    shutil.rmtree(work, ignore_errors=True)


def disk_full():
    # Logs and journal on the small disk (the logs fill it), then the journal alone on it
    # (its own append meets the full disk).
    for size, logs_elsewhere in [("192k", False), ("48k", True)]:
        disk_full_once(size, logs_elsewhere)


def disk_full_once(size, logs_elsewhere):
    mnt = tempfile.mkdtemp(prefix="sweeplab-full-")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", mnt], capture_output=True, text=True)
    if r.returncode != 0:
        print(f"     skipped: cannot mount a tmpfs here ({r.stderr.strip()})", flush=True)
        os.rmdir(mnt)
        return
    elsewhere = tempfile.mkdtemp(prefix="sweeplab-logs-")
    try:
        journal = os.path.join(mnt, "journal.log")
        out = os.path.join(elsewhere if logs_elsewhere else mnt, "runs")
        cfg = os.path.join(mnt, "full.yaml")
        with open(cfg, "w") as f:
            f.write(SWEEP_YAML.format(name="full", cap=40, epochs=8))
        p = sweep(cfg, out, journal)
        _, err = p.communicate(timeout=600)
        assert p.returncode not in (0, 101), f"exit {p.returncode} on a full disk: {err}"
        lines = [l for l in err.strip().splitlines() if l.startswith("sweeplab: error")]
        assert len(lines) == 1 and "No space left on device" in lines[0], err
        assert lines[0].count("No space left") == 1, lines[0]
        assert "panicked" not in err, err
        with open(journal, "rb") as f:
            data = f.read()
        assert data.endswith(b"\n"), "the journal ends in a torn line"
        before = finished(load_trials(journal, "full"))
        assert before, "no trial finished before the disk filled up"
        # Space is freed (the disk grows; the logs on it are deleted). The rerun resumes.
        if not logs_elsewhere:
            shutil.rmtree(out, ignore_errors=True)
        r = subprocess.run(["mount", "-o", "remount,size=64m", mnt], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        p = sweep(cfg, out, journal)
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        trials = load_trials(journal, "full")
        after = finished(trials)
        assert all(after.get(n) == v for n, v in before.items()), "a finished trial was lost"
        counted = [t for t in trials if t.state.is_finished() and "interrupted" not in t.user_attrs]
        assert len(counted) == 40, len(counted)
        what = "the journal alone" if logs_elsewhere else "journal and logs"
        print(f"     {size} for {what}: full after {len(before)} trials, one error line "
              f"({lines[0][:90]}…), journal whole; the rerun resumed to {len(counted)}", flush=True)
    finally:
        subprocess.run(["umount", mnt], capture_output=True)
        shutil.rmtree(mnt, ignore_errors=True)
        shutil.rmtree(elsewhere, ignore_errors=True)


def main():
    global SWEEPLAB
    SWEEPLAB = sys.argv[1]
    kills = 100
    if "--kills" in sys.argv:
        kills = int(sys.argv[sys.argv.index("--kills") + 1])
    if kills > 0:
        check(f"kill storm: {kills} SIGKILLs of a sweep, nothing finished lost, every export read")(
            lambda: kill_storm(kills))
    check("disk full: a clear error, the journal whole, and the rerun resumes")(disk_full)
    report()


if __name__ == "__main__":
    main()
