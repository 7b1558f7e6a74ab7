#!/usr/bin/env python3
"""Python Optuna 5.0's side of `load_bench`: loads every trial of study STUDY from a journal
file or an SQLite database, as `optuna.load_study(...).trials` does.

usage: load_optuna.py FILE STUDY

Prints the number of trials. The caller measures the time and peak memory of the process.
"""
import sys

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

optuna.logging.set_verbosity(optuna.logging.ERROR)


def main():
    path, name = sys.argv[1], sys.argv[2]
    with open(path, "rb") as f:
        sqlite = f.read(16) == b"SQLite format 3\x00"
    storage = "sqlite:///" + path if sqlite else JournalStorage(JournalFileBackend(path))
    study = optuna.load_study(study_name=name, storage=storage)
    print(len(study.trials))


if __name__ == "__main__":
    main()
