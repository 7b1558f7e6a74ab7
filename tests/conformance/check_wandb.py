"""Checks a sweeplab W&B export with wandb's own readers.

usage: check_wandb.py DIR SOURCE_JOURNAL STUDY      (DIR holds wandb/offline-run-*/run-*.wandb)

1. every `.wandb` log: `:W&B` header, 32 KiB blocks, CRC-32 of every chunk, every record a
   `wandb_internal.Record` (wandb's own protobuf module);
2. the wandb-core reader (`wandb leet inspect --json`, the transaction-log code `wandb sync`
   uses) reads every record of every run;
3. `wandb sync --dry-run` (WANDB_MODE=offline, no network) accepts the directory;
4. per trial: config = params (and where it trained, `sweeplab/*`), group = study name, one history row per step whose values equal
   what the trial logged (series, intermediate values), the summary's objective, and the exit
   code of its outcome.
"""

import glob
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import zlib

from wandb.proto import wandb_internal_pb2 as pb

import wandb
from truth import expect, histogram_edges, histograms_of, load_study, run_checks, same_float, series_of

WANDB = os.path.join(os.path.dirname(sys.executable), "wandb")


def chunks(path):
    buf = open(path, "rb").read()
    expect(buf[:7] == b":W&B" + struct.pack("<HB", 0xBEE1, 0), f"{path}: bad header {buf[:7]!r}")
    off, pending, out = 7, None, []
    while off < len(buf):
        left = 32768 - off % 32768
        if left < 7:
            expect(buf[off:off + left] == b"\0" * len(buf[off:off + left]), f"{path}: dirty block trailer at {off}")
            off += left
            continue
        crc, n, kind = struct.unpack_from("<IHB", buf, off)
        data = buf[off + 7:off + 7 + n]
        expect(len(data) == n and 7 + n <= left, f"{path}: chunk at {off} is cut or crosses a block")
        expect(zlib.crc32(bytes([kind]) + data) == crc, f"{path}: CRC mismatch at {off}")
        if kind == 1:
            expect(pending is None, f"{path}: unfinished record before {off}")
            out.append(data)
        elif kind == 2:
            pending = bytearray(data)
        elif kind in (3, 4):
            expect(pending is not None, f"{path}: continuation without start at {off}")
            pending += data
            if kind == 4:
                out.append(bytes(pending))
                pending = None
        else:
            expect(False, f"{path}: chunk type {kind} at {off}")
        off += 7 + n
    expect(pending is None, f"{path}: last record unfinished")
    return out


def isolated_env(tmp):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(WANDB_MODE="offline", WANDB_SILENT="true", HOME=tmp, TMPDIR=tmp,
               WANDB_CACHE_DIR=os.path.join(tmp, "cache"), WANDB_CONFIG_DIR=os.path.join(tmp, "config"),
               WANDB_DATA_DIR=os.path.join(tmp, "data"), XDG_CACHE_HOME=os.path.join(tmp, "xdg"))
    return env


def core_reader(path, n_records):
    with tempfile.TemporaryDirectory(prefix="sweeplab-leet-") as tmp:
        env = isolated_env(tmp)
        r = subprocess.run([WANDB, "leet", "inspect", "--json", os.path.abspath(path)], capture_output=True,
                           text=True, timeout=120, stdin=subprocess.DEVNULL, env=env, cwd=tmp)
    expect(r.returncode == 0, f"wandb leet inspect {path}: rc={r.returncode}: {r.stderr[-400:]}")
    lines = [json.loads(ln) for ln in r.stdout.splitlines() if ln.startswith("{")]
    expect(len(lines) == n_records, f"wandb-core read {len(lines)} of {n_records} records of {path}")


def sync_dry_run(directory):
    with tempfile.TemporaryDirectory(prefix="sweeplab-sync-") as tmp:
        env = isolated_env(tmp)
        env["WANDB_SILENT"] = "false"
        r = subprocess.run([WANDB, "sync", "--dry-run", os.path.abspath(directory)], capture_output=True,
                           text=True, timeout=120, stdin=subprocess.DEVNULL, env=env, cwd=tmp)
    text = (r.stdout + r.stderr).strip()
    expect(r.returncode == 0, f"wandb sync --dry-run {directory}: rc={r.returncode}: {text[-500:]}")
    return text


def main():
    root, journal, name = sys.argv[1:4]
    study, trials = load_study(journal, name)
    started = [t for t in trials if t.state.name != "WAITING"]
    files = sorted(glob.glob(os.path.join(root, "wandb", "offline-run-*", "run-*.wandb")))
    expect(len(files) == len(started), f"{len(files)} runs for {len(started)} started trials")
    by_name = {}
    for f in files:
        records = []
        for data in chunks(f):
            r = pb.Record()
            r.ParseFromString(data)
            records.append(r)
        core_reader(f, len(records))
        run = next(r.run for r in records if r.WhichOneof("record_type") == "run")
        by_name[run.display_name] = (f, records)
    print(f"framing + wandb_internal_pb2 + wandb-core reader: {len(files)} runs OK")

    text = sync_dry_run(os.path.join(root, "wandb"))
    print(f"wandb sync --dry-run: {text.splitlines()[-1] if text else 'rc=0'}")

    for t in started:
        key = f"trial-{t.number:03d}"
        expect(key in by_name, f"no run for {key}: {sorted(by_name)}")
        path, records = by_name[key]
        kinds = [r.WhichOneof("record_type") for r in records]
        expect(kinds[0] == "header" and kinds[1] == "run", f"{path}: starts with {kinds[:2]}")
        run = records[1].run
        expect(run.run_group == name, f"{path}: group {run.run_group!r} != {name!r}")
        config = {c.key: json.loads(c.value_json) for c in run.config.update}
        # Where the trial trained (sweeplab's `sweeplab:run_config`), as `sweeplab/<key>`.
        where = {f"sweeplab/{k}": v for k, v in t.system_attrs.get("sweeplab:run_config", {}).items()}
        expect(config == {**t.params, **where}, f"{path}: config {config} != params {t.params} + {where}")
        rows = []
        for r in records:
            if r.WhichOneof("record_type") == "history":
                row = {i.key: json.loads(i.value_json) for i in r.history.item}
                expect(row["_step"] == r.history.step.num, f"{path}: _step {row['_step']} != step.num")
                rows.append(row)
        steps = [row["_step"] for row in rows]
        expect(steps == sorted(set(steps)), f"{path}: steps not increasing: {steps}")
        at = {row["_step"]: row for row in rows}
        logged = 0
        for sname, pts in series_of(t).items():
            for s, v, wall in pts:
                expect(s in at and sname in at[s], f"{path}: no {sname} at step {s}")
                expect(same_float(at[s][sname], v), f"{path}: {sname}@{s} = {at[s][sname]} != {v}")
                expect(at[s]["_timestamp"] >= wall, f"{path}: _timestamp before the point")
                logged += 1
        for s, v in t.intermediate_values.items():
            expect(same_float(at[s]["intermediate_value"], v), f"{path}: intermediate@{s}")
            logged += 1
        for sample in t.user_attrs.get("text_samples", []):
            e = sample["epoch"]
            want = sample["prompt"] + sample["text"]
            expect(e in at and at[e].get("samples/text") == want,
                   f"{path}: samples/text@{e} = {at.get(e, {}).get('samples/text')!r} != {want!r}")
            logged += 1
        # Weight and gradient histograms, as wandb.watch logs them: equal to what the SDK's
        # own wandb.Histogram writes for the same NumPy histogram.
        for tag, pts in histograms_of(t).items():
            for epoch, h in pts:
                item = at.get(epoch, {}).get(tag)
                edges = histogram_edges(h)
                sdk = wandb.Histogram(np_histogram=(h["counts"], edges.tolist())).to_json()
                expect(isinstance(item, dict) and item.get("_type") == "histogram",
                       f"{path}: {tag}@{epoch} is {item!r}")
                expect(item["values"] == sdk["values"] and len(item["bins"]) == len(sdk["bins"]) == 65
                       and all(abs(a - b) <= 1e-12 * max(1.0, abs(b)) for a, b in zip(item["bins"], sdk["bins"])),
                       f"{path}: {tag}@{epoch} {item} != wandb.Histogram's {sdk}")
                logged += 1
        summary = {}
        for r in records:
            if r.WhichOneof("record_type") == "summary":
                summary.update({u.key: json.loads(u.value_json) for u in r.summary.update})
        if t.value is not None:
            expect(same_float(summary.get("objective"), t.value), f"{path}: summary objective")
        expect(summary.get("trial_state") == t.state.name, f"{path}: trial_state {summary.get('trial_state')}")
        exits = [r.exit for r in records if r.WhichOneof("record_type") == "exit"]
        if t.state.name == "RUNNING":
            expect(not exits, f"{path}: a running trial has an exit record")
        else:
            want = 1 if t.state.name == "FAIL" else 0
            expect(len(exits) == 1 and exits[0].exit_code == want, f"{path}: exit {exits} for {t.state.name}")
            after = kinds[kinds.index("exit") + 1:]
            expect(after in ([], ["final"]), f"{path}: records after exit: {after}")
        print(f"  {key}: config={len(config)} params, {len(rows)} history rows, {logged} logged values equal, "
              f"state {t.state.name}")


if __name__ == "__main__":
    run_checks("wandb", main)
