"""Checks a sweeplab TensorBoard export with TensorBoard's own readers.

usage: check_tensorboard.py LOGDIR SOURCE_JOURNAL STUDY

1. every `*tfevents*` file: TFRecord framing and both masked CRC32Cs (TensorBoard's
   `masked_crc32c`), every record a `tensorboard.Event`, the first one `file_version`;
2. TensorBoard's EventMultiplexer + MultiplexerDataProvider list the root run and one run per
   started trial, with every metric series, the intermediate values and the objective as
   scalars (float32) at the logged steps;
3. the HParams plugin backend (`get_experiment`, `list_session_groups`) lists every trial
   with its hyperparameters, its final objective and its status.
"""

import glob
import math
import os
import struct
import sys

import numpy as np

from tensorboard import context
from tensorboard.backend.event_processing import data_provider as dp
from tensorboard.backend.event_processing import plugin_event_multiplexer as pem
from tensorboard.compat.proto import event_pb2
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c
from tensorboard.plugins import base_plugin
from tensorboard.plugins.hparams import api_pb2, backend_context, get_experiment, list_session_groups
from tensorboard.plugins.scalar import metadata as scalar_md

from truth import expect, fail, histogram_edges, histograms_of, load_study, run_checks, same_float, series_of

STATUS = {"COMPLETE": api_pb2.STATUS_SUCCESS, "FAIL": api_pb2.STATUS_FAILURE,
          "PRUNED": api_pb2.STATUS_UNKNOWN, "RUNNING": api_pb2.STATUS_RUNNING}


def check_framing(path):
    data = open(path, "rb").read()
    off, n = 0, 0
    while off < len(data):
        expect(off + 12 <= len(data), f"{path}: truncated header at {off}")
        (length,) = struct.unpack_from("<Q", data, off)
        (lcrc,) = struct.unpack_from("<I", data, off + 8)
        expect(masked_crc32c(data[off:off + 8]) == lcrc, f"{path}: bad length CRC at {off}")
        payload = data[off + 12:off + 12 + length]
        expect(len(payload) == length and off + 16 + length <= len(data), f"{path}: truncated record at {off}")
        (dcrc,) = struct.unpack_from("<I", data, off + 12 + length)
        expect(masked_crc32c(payload) == dcrc, f"{path}: bad data CRC at {off}")
        ev = event_pb2.Event()
        ev.ParseFromString(payload)
        if n == 0:
            expect(ev.WhichOneof("what") == "file_version" and ev.file_version == "brain.Event:2",
                   f"{path}: first record is not file_version")
        off += 16 + length
        n += 1
    return n


def f32(x):
    return float(np.float32(x))


def main():
    logdir, journal, name = sys.argv[1:4]
    study, trials = load_study(journal, name)
    started = [t for t in trials if t.state.name != "WAITING"]

    files = sorted(glob.glob(os.path.join(logdir, "**", "*tfevents*"), recursive=True))
    expect(len(files) == 1 + len(started), f"{len(files)} event files for {len(started)} trials")
    records = sum(check_framing(f) for f in files)
    print(f"framing: {len(files)} files, {records} records, CRCs OK")

    mux = pem.EventMultiplexer(tensor_size_guidance={"scalars": 0, "text": 0, "hparams": 0, "histograms": 0})
    mux.AddRunsFromDirectory(logdir)
    mux.Reload()
    provider = dp.MultiplexerDataProvider(mux, logdir)
    ctx = context.RequestContext()
    runs = sorted(r.run_name for r in provider.list_runs(ctx, experiment_id=""))
    want_runs = sorted(["."] + [f"trial-{t.number:03d}" for t in started])
    expect(runs == want_runs, f"runs {runs} != {want_runs}")
    scalars = provider.read_scalars(ctx, experiment_id="", plugin_name=scalar_md.PLUGIN_NAME, downsample=10**6)
    n_points = 0
    for t in started:
        run = f"trial-{t.number:03d}"
        got = {tag: [(d.step, d.value) for d in pts] for tag, pts in scalars.get(run, {}).items()}
        want = {}
        for sname, pts in series_of(t).items():
            want[sname] = [(s, f32(v)) for s, v, _ in pts]
        if t.intermediate_values:
            want["intermediate_value"] = [(s, f32(v)) for s, v in sorted(t.intermediate_values.items())]
        if t.value is not None:
            last = max([s for pts in want.values() for s, _ in pts], default=0)
            want["objective"] = [(last, f32(t.value))]
        expect(sorted(got) == sorted(want), f"{run}: scalar tags {sorted(got)} != {sorted(want)}")
        for tag, pts in want.items():
            expect(len(got[tag]) == len(pts), f"{run}/{tag}: {len(got[tag])} points, want {len(pts)}")
            for (gs, gv), (ws, wv) in zip(got[tag], pts):
                expect(gs == ws and same_float(gv, wv), f"{run}/{tag}: got ({gs}, {gv}), want ({ws}, {wv})")
            n_points += len(pts)
    print(f"data provider: {len(runs)} runs, {n_points} scalar points equal what was logged")

    # A language-model trial's text samples, as the Text plugin's data reads them.
    texts = provider.read_tensors(ctx, experiment_id="", plugin_name="text", downsample=10**6)
    n_texts = 0
    for t in started:
        run = f"trial-{t.number:03d}"
        got = [(d.step, d.numpy.item().decode("utf-8")) for d in texts.get(run, {}).get("samples/text", [])]
        want = [(s["epoch"], "```\n" + s["prompt"] + s["text"] + "\n```") for s in t.user_attrs.get("text_samples", [])]
        expect(got == want, f"{run}: samples/text {got} != {want}")
        n_texts += len(want)
    print(f"text plugin: {n_texts} text samples equal what the trials recorded")

    # Weight and gradient histograms, as the Histograms (and Distributions) tabs read them:
    # each legacy HistogramProto converted by TensorBoard's data_compat into rows of
    # (left edge, right edge, count) over the non-empty range, min and max as outer edges
    # (TensorBoard holds them as float32).
    hists = provider.read_tensors(ctx, experiment_id="", plugin_name="histograms", downsample=10**6)
    n_hists = 0
    for t in started:
        run = f"trial-{t.number:03d}"
        want = histograms_of(t)
        got = hists.get(run, {})
        expect(sorted(got) == sorted(want), f"{run}: histogram tags {sorted(got)} != {sorted(want)}")
        for tag, pts in want.items():
            data = {d.step: np.asarray(d.numpy, dtype=np.float64) for d in got[tag]}
            expect(sorted(data) == [e for e, _ in pts], f"{run}/{tag}: steps {sorted(data)}")
            for epoch, h in pts:
                rows, counts, edges = data[epoch], h["counts"], histogram_edges(h)
                filled = [i for i, c in enumerate(counts) if c > 0]
                first, last = filled[0], filled[-1]
                where = f"{run}/{tag}@{epoch}"
                expect(rows.shape == (last - first + 1, 3), f"{where}: shape {rows.shape}")
                expect([int(c) for c in rows[:, 2]] == counts[first:last + 1], f"{where}: counts {rows[:, 2]}")
                expect(int(rows[:, 2].sum()) == h["num"], f"{where}: {rows[:, 2].sum()} values, want {h['num']}")
                expect(rows[0, 0] == f32(h["min"]) and rows[-1, 1] == f32(h["max"]),
                       f"{where}: outer edges {rows[0, 0]}, {rows[-1, 1]}")
                inner = edges[first + 1:last + 1].astype(np.float32).astype(np.float64)
                expect(np.array_equal(rows[1:, 0], inner) and np.array_equal(rows[:-1, 1], inner),
                       f"{where}: inner edges {rows[1:, 0]} != NumPy's {inner}")
                n_hists += 1
    print(f"histograms plugin: {n_hists} histograms with NumPy's counts and edges")

    tb_ctx = base_plugin.TBContext(logdir=logdir, multiplexer=mux, data_provider=provider)
    bctx = backend_context.Context(tb_ctx)
    exp = get_experiment.Handler(ctx, bctx, "", api_pb2.GetExperimentRequest()).run()
    hp_names = sorted(h.name for h in exp.hparam_infos)
    want_names = sorted({p for t in started for p in t.params})
    expect(hp_names == want_names, f"experiment hparams {hp_names} != {want_names}")
    metric_tags = [m.name.tag for m in exp.metric_infos]
    expect("objective" in metric_tags, f"no objective metric in {metric_tags}")
    req = api_pb2.ListSessionGroupsRequest(
        allowed_statuses=[api_pb2.STATUS_UNKNOWN, api_pb2.STATUS_SUCCESS,
                          api_pb2.STATUS_FAILURE, api_pb2.STATUS_RUNNING],
        start_index=0, slice_size=100000)
    groups = list_session_groups.Handler(ctx, bctx, "", req).run()
    expect(groups.total_size == len(started), f"{groups.total_size} session groups for {len(started)} trials")
    by_name = {g.name: g for g in groups.session_groups}
    for t in started:
        run = f"trial-{t.number:03d}"
        expect(run in by_name, f"no session group {run}: {sorted(by_name)}")
        g = by_name[run]
        for p, v in t.params.items():
            hv = g.hparams[p]
            kind = hv.WhichOneof("kind")
            if isinstance(v, bool):
                ok = kind == "bool_value" and hv.bool_value == v
            elif isinstance(v, (int, float)):
                ok = kind == "number_value" and same_float(hv.number_value, float(v))
            else:
                ok = kind == "string_value" and hv.string_value == str(v)
            expect(ok, f"{run}: hparam {p} = {hv} but the trial has {v!r}")
        metrics = {m.name.tag: m.value for m in g.metric_values}
        if t.value is not None and not math.isnan(t.value):
            expect(same_float(metrics.get("objective"), f32(t.value), 1e-6),
                   f"{run}: objective {metrics.get('objective')} != {t.value}")
        status = g.sessions[0].status
        expect(status == STATUS[t.state.name], f"{run}: status {status} for {t.state.name}")
    print(f"hparams: {len(exp.hparam_infos)} hparams, {len(metric_tags)} metrics, "
          f"{groups.total_size} sessions with params, objectives and statuses")


if __name__ == "__main__":
    run_checks("tensorboard", main)
