"""Writes the study as Python Optuna reads it from the source journal, as JSON, for checkers
that run in another venv (check_mlflow.py runs in MLflow's).

usage: dump_truth.py SOURCE_JOURNAL STUDY OUT_JSON
"""

import json
import sys

from truth import load_study, series_of


def main():
    journal, name, out = sys.argv[1:4]
    study, trials = load_study(journal, name)
    doc = {
        "study": study.study_name,
        "directions": [d.name for d in study.directions],
        "trials": [
            {
                "number": t.number,
                "state": t.state.name,
                "params": {k: str(v) for k, v in t.params.items()},
                "distributions": {k: repr(d) for k, d in t.distributions.items()},
                "values": t.values,
                "intermediate": sorted([s, v] for s, v in t.intermediate_values.items()),
                "series": {k: [[s, v] for s, v, _ in pts] for k, pts in series_of(t).items()},
            }
            for t in trials
            if t.state.name != "WAITING"
        ],
    }
    with open(out, "w") as f:
        json.dump(doc, f, allow_nan=True)
    print(f"truth: {len(doc['trials'])} trials")


if __name__ == "__main__":
    main()
