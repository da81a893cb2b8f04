#!/usr/bin/python3
"""Synthetic DESED-style frame scores, decoded tables and reference-library results.

Run with a Python that has psds_eval 0.5.3, sed_scores_eval and sed_eval 0.2.1 (e.g. a venv made
with `/usr/bin/python3 -m venv --system-site-packages /work/venv-metrics` and
`pip install psds_eval sed_scores_eval sed_eval "numpy==1.24.4" "pandas==1.5.3" "scipy==1.10.1"`).
The product and the tests never need it; it makes fixtures and benchmark data.

  fixture OUT_DIR            small case (40 clips of the DESED validation set) with expected.json
  medfilt OUT_DIR            scipy median_filter outputs for several window lengths
  bench OUT_DIR [--time]     all 1168 clips, 50 decoded tables on disk, and (with --time) the
                             seconds psds_eval and sed_scores_eval take for PSDS1 from disk

Scores: the ground-truth activity on the 64 ms grid, smoothed and mixed with seeded noise, rounded
to 2 decimals (so that scores coincide with the DESED thresholds up to rounding and the strict '>'
matters). Ground truth and durations: bench/metrics/data (DESED validation, see its README).
"""
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.ndimage

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "bench" / "metrics" / "data"
CLASSES = ["Alarm_bell_ringing", "Blender", "Cat", "Dishes", "Dog",
           "Electric_shaver_toothbrush", "Frying", "Running_water", "Speech", "Vacuum_cleaner"]
N_FRAMES = 156


def frame_to_time(f):
    return np.clip((np.asarray(f) * 4) / (16000 / 256), 0, 10)


def make_scores(gt, clips, seed, noise_window=5):
    rng = np.random.default_rng(seed)
    scores = {}
    for clip in clips:
        act = np.zeros((N_FRAMES, len(CLASSES)))
        for _, r in gt[gt.filename == clip].dropna().iterrows():
            on = int(np.clip(r.onset * 15.625, 0, N_FRAMES))
            off = int(np.ceil(np.clip(r.offset * 15.625, 0, N_FRAMES)))
            act[on:off, CLASSES.index(r.event_label)] = 1.0
        noise = scipy.ndimage.uniform_filter1d(rng.random((N_FRAMES, len(CLASSES))), noise_window,
                                                axis=0)
        s = 0.5 * scipy.ndimage.uniform_filter1d(act, 3, axis=0) + 0.8 * noise ** 3
        extra = rng.random((N_FRAMES, len(CLASSES)))
        if noise_window != 5:  # the benchmark's smoother scores (the fixture keeps raw noise)
            extra = scipy.ndimage.uniform_filter1d(extra, noise_window, axis=0)
        s += 0.25 * extra * (rng.random(len(CLASSES)) < 0.3)
        scores[clip] = np.round(np.clip(s, 0, 1), 2)
    return scores


def decode(filtered, clip, threshold):
    rows = []
    for k, label in enumerate(CLASSES):
        b = filtered[:, k] > threshold
        change = np.flatnonzero(b[1:] != b[:-1]) + 1
        if b[0]:
            change = np.r_[0, change]
        if b[-1]:
            change = np.r_[change, len(b)]
        for start, end in change.reshape(-1, 2):
            rows.append((label, frame_to_time(start), frame_to_time(end), Path(clip).stem + ".wav"))
    return rows


def write_inputs(out, gt_rows, dur_rows, scores):
    out.mkdir(parents=True, exist_ok=True)
    gt_rows.to_csv(out / "gt.tsv", sep="\t", index=False)
    dur_rows.to_csv(out / "durations.tsv", sep="\t", index=False)
    (out / "scores").mkdir(exist_ok=True)
    ts = frame_to_time(np.arange(N_FRAMES + 1))
    for clip, s in scores.items():
        df = pd.DataFrame(s, columns=CLASSES)
        df.insert(0, "offset", ts[1:])
        df.insert(0, "onset", ts[:-1])
        df.to_csv(out / "scores" / (Path(clip).stem + ".tsv"), sep="\t", index=False,
                  float_format=None)


def postprocess(scores):
    return {c: scipy.ndimage.median_filter(s, size=(7, 1)) for c, s in scores.items()}


def decoded_tables(filtered, thresholds):
    tables = {}
    for th in thresholds:
        rows = []
        for clip, s in filtered.items():
            rows += decode(s, clip, th)
        tables[th] = pd.DataFrame(rows, columns=["event_label", "onset", "offset", "filename"])
    return tables


def sed_scores_psds(filtered, gt_path, dur_path, params):
    from sed_scores_eval import intersection_based, io
    from sed_scores_eval.base_modules.scores import create_score_dataframe
    gt = io.read_ground_truth_events(gt_path)
    durations = io.read_audio_durations(dur_path)
    gt = {k: v for k, v in gt.items() if len(v) > 0}  # DESED drops event-free clips
    durations = {k: v for k, v in durations.items() if k in gt}
    ts = frame_to_time(np.arange(N_FRAMES + 1))
    scores = {Path(c).stem: create_score_dataframe(s, ts, CLASSES)
              for c, s in filtered.items() if Path(c).stem in gt}
    value, per_class, (etpr, efpr), _ = intersection_based.psds(
        scores=scores, ground_truth=gt, audio_durations=durations, **params)
    return value, per_class, etpr, efpr


SCEN = {
    "psds1": dict(dtc_threshold=0.7, gtc_threshold=0.7, cttc_threshold=None, alpha_ct=0.0,
                  alpha_st=1.0, max_efpr=100.0),
    "psds2": dict(dtc_threshold=0.1, gtc_threshold=0.1, cttc_threshold=0.3, alpha_ct=0.5,
                  alpha_st=1.0, max_efpr=100.0),
}


def fixture(out):
    from psds_eval import PSDSEval
    gt_all = pd.read_csv(DATA / "validation.tsv", sep="\t")
    dur_all = pd.read_csv(DATA / "validation_durations.tsv", sep="\t")
    empty = [c for c in gt_all.filename.unique() if gt_all[gt_all.filename == c].event_label.isna().all()]
    rng = np.random.default_rng(4)
    with_events = [c for c in gt_all.filename.unique() if c not in empty]
    clips = sorted(list(rng.choice(with_events, 38, replace=False)) + empty[:2])
    gt_rows = gt_all[gt_all.filename.isin(clips)]
    assert set(gt_rows.event_label.dropna()) == set(CLASSES), "every class needs ground truth"
    dur_rows = dur_all[dur_all.filename.isin(clips)]
    scores = make_scores(gt_rows, clips, seed=11)
    write_inputs(out, gt_rows, dur_rows, scores)
    filtered = postprocess(scores)
    thresholds = list(np.arange(1 / (2 * 50), 1, 1 / 50))
    tables = decoded_tables(filtered, thresholds + [0.5])
    gt = pd.read_csv(out / "gt.tsv", sep="\t")
    meta = pd.read_csv(out / "durations.tsv", sep="\t")
    expected = {"thresholds": thresholds,
                "n_detections": {repr(th): len(tables[th]) for th in thresholds + [0.5]},
                "median_filtered": {Path(c).stem: filtered[c].tolist() for c in clips[:3]}}
    f1 = {}
    for key, (dtc, gtc) in {"intersection_f1_macro": (0.5, 0.5),
                            "intersection_f1_macro_0.7": (0.7, 0.7)}.items():
        ev = PSDSEval(dtc, gtc, 0.3, ground_truth=gt, metadata=meta)
        f, _ = ev.compute_macro_f_score(tables[0.5])
        f1[key] = 0.0 if np.isnan(f) else float(f)
    expected.update(f1)
    for name, (dtc, gtc, cttc, act, ast) in {"psds1": (0.7, 0.7, 0.3, 0, 1),
                                             "psds2": (0.1, 0.1, 0.3, 0.5, 1)}.items():
        ev = PSDSEval(dtc, gtc, cttc, ground_truth=gt, metadata=meta)
        for i, th in enumerate(thresholds):
            t = tables[th].copy()
            t.index = range(1, len(t) + 1)
            ev.add_operating_point(t)
        expected[name] = float(ev.psds(act, ast, 100).value)
    import sed_eval  # noqa: F401 (DESED's compute_sed_eval_metrics, written out)
    from sed_eval.sound_event import EventBasedMetrics, SegmentBasedMetrics
    pred = tables[0.5]
    labels = list(set(gt.event_label.dropna()) | set(pred.event_label))
    ev_m = EventBasedMetrics(event_label_list=labels, t_collar=0.2, percentage_of_length=0.2,
                             empty_system_output_handling="zero_score")
    seg_m = SegmentBasedMetrics(event_label_list=labels, time_resolution=1.0)
    for fname in gt.filename.unique():
        ref = [r for r in gt[gt.filename == fname].dropna().to_dict("records")]
        est = [r for r in pred[pred.filename == fname].to_dict("records")]
        ev_m.evaluate(reference_event_list=ref, estimated_event_list=est)
        seg_m.evaluate(reference_event_list=ref, estimated_event_list=est)
    expected["event_f1_macro"] = ev_m.results()["class_wise_average"]["f_measure"]["f_measure"]
    expected["segment_f1_macro"] = seg_m.results()["class_wise_average"]["f_measure"]["f_measure"]
    for name, params in SCEN.items():
        value, per_class, etpr, efpr = sed_scores_psds(filtered, out / "gt.tsv",
                                                      out / "durations.tsv", params)
        expected[name + "_sed_scores"] = float(value)
        expected[name + "_sed_scores_per_class"] = {k: float(v) for k, v in per_class.items()}
        expected[name + "_sed_scores_roc"] = {"efpr": efpr.tolist(), "etpr": etpr.tolist()}
    (out / "expected.json").write_text(json.dumps(expected, indent=1))
    print(json.dumps({k: v for k, v in expected.items() if not isinstance(v, (dict, list))}, indent=1))


def bench(out, timing):
    if not (out / "detections").exists():
        make_bench_data(out)
    if timing:
        time_references(out)


def make_bench_data(out):
    gt_all = pd.read_csv(DATA / "validation.tsv", sep="\t")
    dur_all = pd.read_csv(DATA / "validation_durations.tsv", sep="\t")
    clips = list(dur_all.filename)
    scores = make_scores(gt_all, clips, seed=7, noise_window=25)
    write_inputs(out, gt_all, dur_all, scores)
    filtered = postprocess(scores)
    (out / "filtered").mkdir(exist_ok=True)
    ts = frame_to_time(np.arange(N_FRAMES + 1))
    for clip, s in filtered.items():
        df = pd.DataFrame(s, columns=CLASSES)
        df.insert(0, "offset", ts[1:])
        df.insert(0, "onset", ts[:-1])
        df.to_csv(out / "filtered" / (Path(clip).stem + ".tsv"), sep="\t", index=False)
    thresholds = list(np.arange(1 / (2 * 50), 1, 1 / 50))
    tables = decoded_tables(filtered, thresholds)
    (out / "detections").mkdir(exist_ok=True)
    for i, th in enumerate(thresholds):
        tables[th].to_csv(out / "detections" / f"th_{i:02d}_{th:.2f}.tsv", sep="\t", index=False)
    print(f"{len(clips)} clips, {sum(len(t) for t in tables.values())} detections in 50 tables")


def time_references(out):
    from psds_eval import PSDSEval
    from sed_scores_eval import intersection_based, io
    t0, c0 = time.perf_counter(), time.process_time()
    gt = pd.read_csv(out / "gt.tsv", sep="\t")
    meta = pd.read_csv(out / "durations.tsv", sep="\t")
    ev = PSDSEval(0.7, 0.7, 0.3, ground_truth=gt, metadata=meta)
    for f in sorted((out / "detections").iterdir()):
        t = pd.read_csv(f, sep="\t")
        t.index = range(1, len(t) + 1)
        ev.add_operating_point(t)
    v1 = ev.psds(0.0, 1.0, 100).value
    t1, c1 = time.perf_counter(), time.process_time()
    gts = io.read_ground_truth_events(out / "gt.tsv")
    gts = {k: v for k, v in gts.items() if len(v) > 0}
    durs = {k: v for k, v in io.read_audio_durations(out / "durations.tsv").items() if k in gts}
    sc = {k: v for k, v in io.read_sed_scores(out / "filtered").items() if k in gts}
    v2 = intersection_based.psds(scores=sc, ground_truth=gts, audio_durations=durs,
                                 **SCEN["psds1"])[0]
    t2, c2 = time.perf_counter(), time.process_time()
    print(json.dumps({"psds_eval_psds1": v1, "psds_eval_wall_s": t1 - t0, "psds_eval_cpu_s": c1 - c0,
                      "sed_scores_eval_psds1": v2, "sed_scores_eval_wall_s": t2 - t1,
                      "sed_scores_eval_cpu_s": c2 - c1}))


def medfilt(out):
    """scipy.ndimage.median_filter(x, size=(w, 1)) ('reflect') for odd, even and over-long windows."""
    rng = np.random.default_rng(3)
    cases = []
    for n_frames, w in [(12, 1), (12, 2), (12, 3), (12, 4), (12, 7), (5, 9), (3, 8), (1, 3), (20, 13)]:
        x = np.round(rng.random((n_frames, 2)), 2)
        cases.append({"window": w, "input": x.tolist(),
                      "output": scipy.ndimage.median_filter(x, size=(w, 1)).tolist()})
    out.mkdir(parents=True, exist_ok=True)
    (out / "scipy_median_filter.json").write_text(json.dumps(
        {"scipy": scipy.__version__, "cases": cases}, indent=1))


if __name__ == "__main__":
    mode, out = sys.argv[1], Path(sys.argv[2])
    if mode == "medfilt":
        medfilt(out)
    elif mode == "fixture":
        fixture(out)
    elif mode == "bench":
        bench(out, "--time" in sys.argv)
    else:
        sys.exit(__doc__)
