#!/usr/bin/env python3
"""Runs a command and prints its wall time and its own peak resident memory.

usage: peak.py CMD [ARGS...]

Prints the command's stdout, then a last line "peak: SECONDS KIB". The peak is
`ru_maxrss` of RUSAGE_CHILDREN, which is the command's alone: it is this process's only
child. Exits with the command's status.
"""
import resource
import subprocess
import sys
import time


def main():
    t0 = time.perf_counter()
    r = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE)
    secs = time.perf_counter() - t0
    sys.stdout.write(r.stdout.decode("utf-8", "replace"))
    print(f"peak: {secs:.6f} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}")
    sys.exit(r.returncode)


if __name__ == "__main__":
    main()
