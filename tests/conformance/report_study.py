"""Plays the trainer of a sweeplab study: for every RUNNING trial of STUDY in JOURNAL it
reports intermediate values and logs metric series (user attributes `series:<name>`, the form
sweeplab keeps them in) through Python Optuna's own journal storage, as a training script
sharing the journal with `sweeplab ask`/`tell` would.

usage: report_study.py JOURNAL STUDY
"""

import sys
import time

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState


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
        n += 1
    print(f"reported for {n} running trials")


if __name__ == "__main__":
    main()
