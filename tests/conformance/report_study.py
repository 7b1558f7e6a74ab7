"""Plays the trainer of a sweeplab study: for every RUNNING trial of STUDY in JOURNAL it
reports intermediate values, logs metric series (user attributes `series:<name>`, the form
sweeplab keeps them in) and weight/gradient histograms (system attributes
`sweeplab:histograms:<epoch>`) through Python Optuna's own journal storage, as a training script
sharing the journal with `sweeplab ask`/`tell` would.

usage: report_study.py JOURNAL STUDY
"""

import sys
import time

import numpy as np
import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState


def histogram(values):
    """sweeplab's JSON form of a histogram: 64 equal bins over the values' range."""
    values = np.asarray(values, dtype=np.float32).astype(np.float64)
    counts, edges = np.histogram(values, bins=64)
    return {
        "min": float(values.min()), "max": float(values.max()), "num": int(values.size),
        "sum": float(values.sum()), "sum_squares": float((values * values).sum()),
        "lo": float(edges[0]), "hi": float(edges[-1]), "counts": [int(c) for c in counts],
    }


def main():
    journal, name = sys.argv[1], sys.argv[2]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(JournalFileBackend(journal))
    study = optuna.load_study(study_name=name, storage=storage)
    base = time.time()
    n = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        k = t.number
        loss, acc, wall_loss, wall_acc = [], [], [], []
        for step in range(6):
            value = 1.0 / (step + 1) + 0.05 * k
            # NaN once, to check that it survives everywhere.
            reported = float("nan") if (k == 2 and step == 5) else value
            storage.set_trial_intermediate_value(t._trial_id, step, reported)
            loss.append(value)
            wall_loss.append(base + k * 10 + step * 0.5)
            if step % 2 == 1:
                acc.append(1.0 - value / 3.0)
                wall_acc.append(base + k * 10 + step * 0.5 + 0.25)
        storage.set_trial_user_attr(
            t._trial_id,
            "series:train/loss",
            {"step": [s * 100 for s in range(6)], "value": loss, "wall_time": wall_loss},
        )
        storage.set_trial_user_attr(
            t._trial_id,
            "series:val/accuracy",
            {"step": [1, 3, 5], "value": acc, "wall_time": wall_acc},
        )
        storage.set_trial_user_attr(t._trial_id, "note", f"trial {k}")
        if k % 2 == 0:
            # A language-model trial's text samples (sweeplab's `text_samples` attribute):
            # TensorBoard's Text tab and the W&B history show them.
            storage.set_trial_user_attr(
                t._trial_id,
                "text_samples",
                [{"epoch": e, "prompt": "LEARNING, n.  ", "text": f"trial {k} at {e}: a *fault*\n  and \"more\""}
                 for e in (1, 3)],
            )
        # Weight and gradient histograms after each of three epochs, in sweeplab's form (the
        # system attribute `sweeplab:histograms:<epoch>`), binned by NumPy's own histogram.
        for epoch in (1, 2, 3):
            rng = np.random.default_rng(100 * k + epoch)
            tensors = {
                "weights/fc1.weight": rng.normal(0.0, 0.1 * epoch, 300),
                "weights/fc1.bias": np.zeros(8) if k == 1 else rng.normal(0.0, 0.05, 8),
                "gradients/fc1.weight": rng.normal(0.0, 0.01 / epoch, 300),
            }
            storage.set_trial_system_attr(
                t._trial_id,
                f"sweeplab:histograms:{epoch}",
                {"wall_time": base + k * 10 + epoch, "histograms": {tag: histogram(v) for tag, v in tensors.items()}},
            )
        n += 1
    print(f"reported for {n} running trials")


if __name__ == "__main__":
    main()
