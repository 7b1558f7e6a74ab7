"""The interop tests' harness: each check prints PASS (with its time) or FAIL with its
traceback as it runs, and `report()` ends the run with the failures again, where the tail of
a long log (CI's) shows them, then "N passed, M failed" and the exit status."""

import sys
import time
import traceback

RESULTS = []


def check(name):
    """Runs the decorated function at once as the check `name`."""
    def deco(fn):
        t0 = time.time()
        try:
            fn()
            RESULTS.append((name, None))
            print(f"PASS {name} ({time.time() - t0:.1f}s)", flush=True)
        except Exception:  # noqa: BLE001
            tb = traceback.format_exc()
            RESULTS.append((name, tb))
            print(f"FAIL {name} ({time.time() - t0:.1f}s)\n{tb}", flush=True)
        return fn
    return deco


def report():
    """Prints the failures' names and their tracebacks' last lines, the counts, and exits
    with status 1 when any check failed."""
    failed = [(name, tb) for name, tb in RESULTS if tb is not None]
    for name, tb in failed:
        tail = "\n".join(tb.strip().splitlines()[-15:])
        print(f"\nFAILED: {name}\n{tail}", flush=True)
    print(f"{len(RESULTS) - len(failed)} passed, {len(failed)} failed", flush=True)
    sys.exit(1 if failed else 0)
