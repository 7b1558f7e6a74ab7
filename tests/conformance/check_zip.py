"""Checks a sweeplab zip export and unpacks it for the per-format checks.

usage: check_zip.py ZIP OUTDIR

The archive must hold `tensorboard/` (a logdir), `wandb/offline-run-*/run-*.wandb`, `mlruns/`
(MLflow's file store),
`optuna/journal.log` and `trials.csv`, every entry deflated and CRC-correct (zipfile.testzip).
"""

import os
import sys
import zipfile

from truth import expect, run_checks


def main():
    path, out = sys.argv[1:3]
    with zipfile.ZipFile(path) as z:
        expect(z.testzip() is None, f"{path}: a member fails its CRC")
        names = z.namelist()
        for info in z.infolist():
            expect(info.is_dir() or info.compress_type == zipfile.ZIP_DEFLATED,
                   f"{info.filename}: not deflated")
            expect(not info.filename.startswith("/") and ".." not in info.filename.split("/"),
                   f"unsafe member name {info.filename}")
        z.extractall(out)
    tb = [n for n in names if n.startswith("tensorboard/") and "tfevents" in n]
    wb = [n for n in names if n.startswith("wandb/offline-run-") and n.endswith(".wandb")]
    expect(tb, "no tensorboard/ event files")
    expect(wb, "no wandb/offline-run-* logs")
    expect("optuna/journal.log" in names, "no optuna/journal.log")
    expect("trials.csv" in names, "no trials.csv")
    ml = [n for n in names if n.startswith("mlruns/")]
    expect("mlruns/0/meta.yaml" in ml and "mlruns/1/meta.yaml" in ml, "no mlruns/ file store")
    expect(len(names) == len(tb) + len(wb) + len(ml) + 2, f"unexpected members: {names}")
    print(f"zip: {len(names)} members ({len(tb)} event files, {len(wb)} W&B runs, journal, csv), "
          f"unpacked to {os.path.basename(out)}")


if __name__ == "__main__":
    run_checks("zip", main)
