#!/usr/bin/python3
"""Lockstep replay of a `greensed train --trace` run in PyTorch (issue 12).

  scripts/replay_trace_in_torch.py RUN_DIR [--trace FILE] [--greensed build/greensed]

Starts PyTorch's recipe model (scripts/torch_crnn.py) from RUN_DIR/checkpoints/init.safetensors
(student and teacher, `sed_student.` / `sed_teacher.` prefixes), reads the run's feature cache
(features.cache_dir of RUN_DIR/config.yaml) and replays every traced step with PyTorch doing the
arithmetic: the traced clips in row order (crop start frames from `first_frame`), the traced MixUp
(X'[i] = λ·X[i] + (1 − λ)·X[perm[i]] inside the weak block, then the strong block; labels mixed the
same way and clipped to [0, 1]), dB + clamp + instance scaler, student forward, BCE strong / weak,
teacher forward (train mode, no gradient), MSE (or BCE) consistency over all rows, EMA of the
teacher's parameters with the traced α BEFORE the update, backward, gradient clipping when
configured, Adam at the traced learning rate.

It prints, per epoch, the worst difference of every loss term against the trace, and at the end of
each epoch the synthetic-validation intersection F1 of PyTorch's student and teacher, scored by
`greensed evaluate` exactly as `greensed train` scores its own (threshold training.val_thresholds[0],
median filter training.median_window), beside greensed's from RUN_DIR/epochs.csv.

A term passes when |greensed − torch| ≤ 1e-3·|torch|, or, for terms below 1e-3 in absolute value,
when |greensed − torch| ≤ 1e-6. With dropout on (net.dropout > 0) the two sides draw different
dropout masks, so the losses are not expected to agree step by step: the replay then only reports
(exit 0) and the F1 columns are the comparison, unless --same-masks: PyTorch's dropout layers then
take greensed's masks (the trace's dropout_streams: seed, stream id and counter of each model's
stream when the step began; Philox4x32-10 and the keep-bit layout of kernels::dropout_keep_bits,
one counter segment per item in each conv block, one range in the heads) and the bound applies as
with dropout off. Exit 1 when a checked replay fails the bound.

With --float64 PyTorch computes in double (models, Adam state, losses; the traced float32 inputs
cast once after MixUp) and writes replay/steps_float64.csv / epochs_float64.csv: the float32 replay
against the float64 one tells a formula difference (greensed far from both) from float32 rounding
amplified by training (greensed and PyTorch-float32 equally far from PyTorch-float64).

Writes RUN_DIR/replay/steps.csv (every step's terms on both sides) and RUN_DIR/replay/epochs.csv.
Debian's python3 with torch 1.13, numpy and python3-yaml.
"""
import argparse
import csv
import json
import math
import os
import subprocess
import sys
import time

import numpy as np
import torch
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
import torch_crnn  # noqa: E402
from torch_train_reference import CLASSES, decode, read_tsv  # noqa: E402

TERMS = ["strong", "weak", "cons_strong", "cons_weak", "total"]
REL_TOL, SMALL, ABS_TOL = 1e-3, 1e-3, 1e-6


# ---------------------------------------------------------------------------------------------
# greensed's dropout masks (--same-masks): Philox4x32-10 (include/greensed/core/rng.hpp) and
# kernels::dropout_keep_bits, so that PyTorch's model drops exactly the elements greensed dropped.
U32 = np.uint64(0xFFFFFFFF)


def philox4x32(counters, stream, seed):
    """128-bit blocks [n, 4] (uint32) at counters (uint64 [n]) of stream (seed, stream)."""
    c = [counters & U32, counters >> np.uint64(32),
         np.full_like(counters, stream & 0xFFFFFFFF), np.full_like(counters, stream >> 32)]
    k0, k1 = np.uint64(seed & 0xFFFFFFFF), np.uint64(seed >> 32)
    for _ in range(10):
        p0 = np.uint64(0xD2511F53) * c[0]
        p1 = np.uint64(0xCD9E8D57) * c[2]
        c = [(p1 >> np.uint64(32)) ^ c[1] ^ k0, p1 & U32, (p0 >> np.uint64(32)) ^ c[3] ^ k1,
             p0 & U32]
        k0 = (k0 + np.uint64(0x9E3779B9)) & U32
        k1 = (k1 + np.uint64(0xBB67AE85)) & U32
    return np.stack(c, axis=1).astype(np.uint32)


def dropout_blocks(n, p):
    return (n + 127) // 128 if p == 0.5 else (n + 7) // 8


def keep_bits(stream, counter, n, p):
    """kernels::dropout_keep_bits: n keep flags (float32 0/1) from the blocks at counter."""
    nb = dropout_blocks(n, p)
    r = philox4x32(np.arange(counter, counter + nb, dtype=np.uint64), stream["stream"],
                   stream["seed"]).reshape(-1)
    if p == 0.5:  # one bit per element: bit i of the blocks' words, little-endian
        bits = np.unpackbits(r.astype("<u4").view(np.uint8), bitorder="little")
        return bits[:n].astype(np.float32)
    halves = r.astype("<u4").view("<u2")  # 16 bits per element against round(p·65536)
    return (halves[:n] >= int(round(p * 65536.0))).astype(np.float32)


class StreamMasks:
    """One model's forward: each dropout layer in order takes its masks from the stream, as
    greensed's conv blocks (per item, B·blocks_per_item reserved) and heads (one range) do."""

    def __init__(self, stream, p):
        self.stream, self.p, self.counter = stream, p, int(stream["counter"])

    def mask(self, shape):
        if len(shape) == 4:  # a conv block's [B, C, T, F]: one counter segment per item
            item = int(np.prod(shape[1:]))
            per_item = dropout_blocks(item, self.p)
            m = np.stack([keep_bits(self.stream, self.counter + b * per_item, item, self.p)
                          for b in range(shape[0])])
            self.counter += shape[0] * per_item
        else:  # the heads' [B, T', 2H]: one range
            n = int(np.prod(shape))
            m = keep_bits(self.stream, self.counter, n, self.p)
            self.counter += dropout_blocks(n, self.p)
        return torch.from_numpy(m.reshape(shape))


class MaskDropout(torch.nn.Module):
    """nn.Dropout with the masks of a StreamMasks (scale 1/(1 − p) as greensed's keep_scale)."""

    def __init__(self, p):
        super().__init__()
        self.p, self.source = p, None

    def forward(self, x):
        if not self.training or self.p == 0.0 or self.source is None:
            return x
        scale = np.float32(1.0 / (1.0 - self.p))
        return x * (self.source.mask(tuple(x.shape)).to(x.dtype) * float(scale))


def use_greensed_masks(model):
    """Replaces the model's nn.Dropout layers by MaskDropout; returns them in forward order."""
    layers = []
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, torch.nn.Dropout):
                md = MaskDropout(child.p)
                setattr(module, child_name, md)
                layers.append(md)
    return layers


class Cache:
    """greensed's feature cache: index.json + mel/<hash>.mel (32-byte header, float32 [F, T])."""

    def __init__(self, directory):
        self.dir = directory
        with open(os.path.join(directory, "index.json")) as f:
            self.entries = json.load(f)["entries"]

    def mel(self, path, first_frame, n_frames):
        """[F, n_frames] from first_frame on, zeros past the clip (CacheFeatureSource::load)."""
        key = os.path.realpath(path)
        entry = self.entries.get(key) or self.entries.get(path)
        if entry is None:
            sys.exit(f"{path}: not in the feature cache {self.dir}; run `greensed features` with "
                     "the run's config first")
        raw = np.fromfile(os.path.join(self.dir, entry["file"]), dtype=np.uint8)
        values = raw[32:].view(np.float32).reshape(entry["n_mels"], entry["n_frames"])
        out = np.zeros((entry["n_mels"], n_frames), np.float32)
        take = max(0, min(n_frames, entry["n_frames"] - first_frame))
        out[:, :take] = values[:, first_frame:first_frame + take]
        return out


class Labels:
    """Strong targets of the synthetic set (ManyHotEncoder, crop shift as data::crop_events) and
    weak targets of the weak set."""

    def __init__(self, cfg):
        d, f = cfg["data"], cfg["feats"]
        self.fs, self.hop, self.pool = f["sample_rate"], f["hop_length"], d["net_subsample"]
        self.audio_len = float(d["audio_max_len"])
        self.n_frames = int(int(self.audio_len * self.fs / self.hop) / self.pool)
        self.synth = {}
        for r in read_tsv(d["synth_tsv"]):
            self.synth.setdefault(r["filename"], [])
            if r.get("event_label"):
                self.synth[r["filename"]].append(
                    (CLASSES.index(r["event_label"]), float(r["onset"]), float(r["offset"])))
        self.weak = {}
        for r in read_tsv(d["weak_tsv"]):
            y = np.zeros(len(CLASSES), np.float32)
            for label in r["event_labels"].split(","):
                y[CLASSES.index(label.strip())] = 1
            self.weak[r["filename"]] = y

    def frame(self, t):
        return min(max(t * self.fs / self.hop / self.pool, 0.0), float(self.n_frames))

    def strong(self, name, first_frame):
        onset_s = round(first_frame * self.hop / self.fs * 1000.0) / 1000.0
        y = np.zeros((len(CLASSES), self.n_frames), np.float32)
        for k, on, off in self.synth[name]:
            on = min(max(on - onset_s, 0.0), self.audio_len)
            off = min(max(off - onset_s, 0.0), self.audio_len)
            if on < off:
                y[k, int(self.frame(on)):int(math.ceil(self.frame(off)))] = 1
        return y


def mix(x, y, block):
    """The traced MixUp of one block (numpy float32, greensed's operation order)."""
    if block is None:
        return x, y
    lam, perm = np.float32(block["lambda"]), np.asarray(block["perm"])
    rest = np.float32(1.0 - block["lambda"])
    x = lam * x + rest * x[perm]
    y = np.clip(lam * y + rest * y[perm], 0.0, 1.0)
    return x.astype(np.float32), y.astype(np.float32)


def network_input(x, normtype):
    """dB (amin 1e-5) → clamp [-50, 80] → per-clip instance scaler over (F, T) (spec §2.2–2.4)."""
    x = 20.0 * torch.log10(torch.clamp(x, min=1e-5))
    x = torch.clamp(x, -50.0, 80.0)
    if normtype == "minmax":
        lo = x.amin(dim=(1, 2), keepdim=True)
        hi = x.amax(dim=(1, 2), keepdim=True)
        return (x - lo) / (hi - lo + 1e-8)
    mean = x.mean(dim=(1, 2), keepdim=True)
    if normtype == "mean":
        return x - mean
    return (x - mean) / (x.std(dim=(1, 2), keepdim=True) + 1e-8)


class Replay:
    def __init__(self, run_dir, args):
        with open(os.path.join(run_dir, "config.yaml")) as f:
            self.cfg = yaml.safe_load(f)
        self.run_dir, self.args = run_dir, args
        net = {k: self.cfg["net"][k] for k in torch_crnn.DEFAULT_NET if k in self.cfg["net"]}
        self.dropout = float(net.get("dropout", 0.0))
        self.student, self.teacher = torch_crnn.CRNN(net), torch_crnn.CRNN(net)
        tensors, _ = safetensors_io.load(os.path.join(run_dir, "checkpoints/init.safetensors"))
        for prefix, model in (("sed_student.", self.student), ("sed_teacher.", self.teacher)):
            state = {k[len(prefix):]: torch.from_numpy(v) for k, v in tensors.items()
                     if k.startswith(prefix)}
            model.load_state_dict(state, strict=True)
            model.to(args.dtype)
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        self.mask_layers = None
        if args.same_masks and self.dropout > 0:
            self.mask_layers = {"student": use_greensed_masks(self.student),
                                "teacher": use_greensed_masks(self.teacher)}
        self.adam = torch.optim.Adam(self.student.parameters(), lr=self.cfg["opt"]["lr"],
                                     betas=(0.9, 0.999), eps=1e-8)
        t = self.cfg["training"]
        self.clip = float(t.get("gradient_clip", 0) or 0)
        self.consistency = torch.nn.MSELoss() if t["self_sup_loss"] == "mse" else torch.nn.BCELoss()
        self.bce = torch.nn.BCELoss()
        self.cache = Cache(self.cfg["features"]["cache_dir"])
        self.labels = Labels(self.cfg)
        self.n_frames = int(self.labels.audio_len * self.labels.fs / self.labels.hop) + 1
        d = self.cfg["data"]
        self.folders = {"synth": d["synth_folder"], "weak": d["weak_folder"],
                        "unlabeled": d["unlabeled_folder"]}

    def features(self, names, block, crops):
        return np.stack([self.cache.mel(os.path.join(self.folders[block], n), crops.get(n, 0),
                                        self.n_frames) for n in names])

    def batch(self, rec):
        crops = rec.get("first_frame", {})
        xs = self.features(rec["synth"], "synth", crops)
        ys = np.stack([self.labels.strong(n, crops.get(n, 0)) for n in rec["synth"]])
        xw = self.features(rec["weak"], "weak", crops)
        yw = np.stack([self.labels.weak[n] for n in rec["weak"]])
        xu = self.features(rec["unlabeled"], "unlabeled", crops)
        if rec["mixup"] is not None:  # the weak block first, then the strong block (the loader)
            xw, yw = mix(xw, yw, rec["mixup"]["weak"])
            xs, ys = mix(xs, ys, rec["mixup"]["strong"])
        x = torch.from_numpy(np.concatenate([xs, xw, xu]))
        dt = self.args.dtype  # float64: the same float32 inputs, PyTorch's arithmetic in double
        return x.to(dt), torch.from_numpy(ys).to(dt), torch.from_numpy(yw).to(dt)

    def step(self, rec):
        x, ys, yw = self.batch(rec)
        x = network_input(x, self.cfg["scaler"]["normtype"])
        ns, nw = len(rec["synth"]), len(rec["weak"])
        self.student.train()
        self.teacher.train()
        if self.mask_layers is not None:
            streams = rec.get("dropout_streams")
            if streams is None:
                sys.exit("--same-masks: the trace has no dropout_streams (traced by an older "
                         "greensed); trace the run again")
            for side in ("student", "teacher"):
                source = StreamMasks(streams[side], self.dropout)
                for layer in self.mask_layers[side]:
                    layer.source = source
        strong_s, weak_s = self.student(x)
        out = {"strong": self.bce(strong_s[:ns], ys) if ns else torch.zeros(()),
               "weak": self.bce(weak_s[ns:ns + nw], yw) if nw else torch.zeros(())}
        with torch.no_grad():
            strong_t, weak_t = self.teacher(x)
            t_strong = self.bce(strong_t[:ns], ys).item() if ns else 0.0
            t_weak = self.bce(weak_t[ns:ns + nw], yw).item() if nw else 0.0
        out["cons_strong"] = self.consistency(strong_s, strong_t)
        out["cons_weak"] = self.consistency(weak_s, weak_t)
        w = rec["consistency_weight"]
        loss = out["strong"] + out["weak"] + w * (out["cons_strong"] + out["cons_weak"])
        out["total"] = loss
        alpha = rec["ema_alpha"]
        with torch.no_grad():  # EMA before this step's update, parameters only
            for t, s in zip(self.teacher.parameters(), self.student.parameters()):
                t.mul_(alpha).add_(s, alpha=1.0 - alpha)
        self.adam.zero_grad()
        loss.backward()
        if self.clip > 0:
            torch.nn.utils.clip_grad_norm_(self.student.parameters(), self.clip)
        for group in self.adam.param_groups:
            group["lr"] = rec["lr"]
        self.adam.step()
        got = {k: float(v) for k, v in out.items()}
        got["teacher_strong"], got["teacher_weak"] = t_strong, t_weak
        return got

    def validation_f1(self, epoch):
        """Synthetic-validation intersection F1 of PyTorch's student and teacher (eval mode),
        decoded like `greensed train` and scored by `greensed evaluate`."""
        d, t = self.cfg["data"], self.cfg["training"]
        clips = {}
        for r in read_tsv(d["synth_val_tsv"]):
            clips.setdefault(r["filename"], 0)
            clips[r["filename"]] += bool(r.get("event_label"))
        names = [n for n, n_events in clips.items() if n_events]  # the recipe's dropna
        x = np.stack([self.cache.mel(os.path.join(d["synth_val_folder"], n), 0, self.n_frames)
                      for n in names])
        x = network_input(torch.from_numpy(x).to(self.args.dtype), self.cfg["scaler"]["normtype"])
        out_dir = os.path.join(self.run_dir, "replay")
        f1 = {}
        for who, model in (("student", self.student), ("teacher", self.teacher)):
            model.eval()
            rows = []
            with torch.no_grad():
                bs = t["batch_size_val"]
                for i in range(0, len(names), bs):
                    strong, _ = model(x[i:i + bs])
                    for j, n in enumerate(names[i:i + bs]):
                        rows += decode(strong[j].numpy(), n, t["val_thresholds"][0],
                                       t["median_window"])
            det = os.path.join(out_dir, f"epoch{epoch}_{who}_th_{t['val_thresholds'][0]}.tsv")
            with open(det, "w") as fd:
                fd.write("filename\tonset\toffset\tevent_label\n")
                for r in rows:
                    fd.write(f"{r[0]}\t{r[1]:.3f}\t{r[2]:.3f}\t{r[3]}\n")
            js = det[:-4] + ".json"
            subprocess.run([self.args.greensed, "--log-level", "error", "evaluate",
                            "--ground-truth", d["synth_val_tsv"], "--durations", d["synth_val_dur"],
                            "--detections", det, "--json", js], check=True,
                           stdout=subprocess.DEVNULL)
            with open(js) as fj:
                f1[who] = json.load(fj)["intersection_f1_macro"] or 0.0
        return f1


def difference(g, t):
    """(relative difference, passes) of greensed's value g against torch's t."""
    diff = abs(g - t)
    if abs(t) < SMALL:
        return diff / max(abs(t), 1e-300), diff <= ABS_TOL
    return diff / abs(t), diff <= REL_TOL * abs(t)


def greensed_f1(run_dir):
    out = {}
    path = os.path.join(run_dir, "epochs.csv")
    if os.path.exists(path):
        for r in csv.DictReader(open(path)):
            out[int(r["epoch"])] = (float(r["val_synth_f1_student"]),
                                    float(r["val_synth_f1_teacher"]))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir")
    ap.add_argument("--trace", help="the step trace (default RUN_DIR/trace.jsonl)")
    ap.add_argument("--greensed", default="build/greensed")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0, help="torch's seed (its dropout masks)")
    ap.add_argument("--steps", type=int, default=0, help="replay only the first N steps (0: all)")
    ap.add_argument("--same-masks", action="store_true",
                    help="dropout on: draw greensed's own masks (the trace's dropout_streams, "
                    "Philox4x32-10) instead of PyTorch's, so the loss terms can be compared step "
                    "by step as with dropout off")
    ap.add_argument("--float64", action="store_true",
                    help="PyTorch's arithmetic in float64 (the traced float32 inputs cast once): "
                    "tells float32 rounding drift from a formula difference; writes "
                    "replay/steps_float64.csv and replay/epochs_float64.csv")
    args = ap.parse_args()
    args.dtype = torch.float64 if args.float64 else torch.float32
    suffix = "_float64" if args.float64 else ""
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    trace = args.trace or os.path.join(args.run_dir, "trace.jsonl")
    with open(trace) as f:
        records = [json.loads(line) for line in f if line.strip()]
    if args.steps > 0:
        records = records[:args.steps]
    if not records:
        sys.exit(f"{trace}: no steps")
    replay = Replay(args.run_dir, args)
    lockstep = replay.dropout == 0.0 or args.same_masks
    os.makedirs(os.path.join(args.run_dir, "replay"), exist_ok=True)
    g_f1 = greensed_f1(args.run_dir)
    steps_csv = open(os.path.join(args.run_dir, f"replay/steps{suffix}.csv"), "w")
    steps_csv.write("epoch,step," + ",".join(f"greensed_{k},torch_{k}" for k in
                                             TERMS + ["teacher_strong", "teacher_weak"]) + "\n")
    epochs_csv = open(os.path.join(args.run_dir, f"replay/epochs{suffix}.csv"), "w")
    epochs_csv.write("epoch,steps," + ",".join(f"worst_rel_{k}" for k in TERMS) +
                     ",failures,torch_f1_student,torch_f1_teacher,greensed_f1_student,"
                     "greensed_f1_teacher\n")
    print(f"[replay] {len(records)} steps from {trace}; dropout {replay.dropout} "
          f"({'lockstep check' if lockstep else 'report only: dropout masks differ'}"
          f"{', greensed masks' if args.same_masks and replay.dropout > 0 else ''})",
          flush=True)
    failures_total = 0
    t0 = time.time()
    for i, rec in enumerate(records):
        got = replay.step(rec)
        g = dict(rec["loss"], **{f"teacher_{k}": v for k, v in rec.get("teacher_loss", {}).items()})
        steps_csv.write(f"{rec['epoch']},{rec['step']}," + ",".join(
            f"{g.get(k, float('nan'))!r},{got[k]!r}" for k in
            TERMS + ["teacher_strong", "teacher_weak"]) + "\n")
        steps_csv.flush()
        if i == 0 or records[i - 1]["epoch"] != rec["epoch"]:
            worst, failures, n_steps = {k: 0.0 for k in TERMS}, [], 0
        n_steps += 1
        for k in TERMS:
            rel, ok = difference(g[k], got[k])
            worst[k] = max(worst[k], rel)
            if not ok:
                failures.append(f"step {rec['step']} {k}: greensed {g[k]:.9g} torch {got[k]:.9g}")
        if i + 1 == len(records) or records[i + 1]["epoch"] != rec["epoch"]:
            e = rec["epoch"]
            f1 = replay.validation_f1(e)
            gs, gt = g_f1.get(e, (float("nan"), float("nan")))
            failures_total += len(failures)
            epochs_csv.write(f"{e},{n_steps}," + ",".join(f"{worst[k]:.3e}" for k in TERMS) +
                             f",{len(failures)},{f1['student']},{f1['teacher']},{gs},{gt}\n")
            epochs_csv.flush()
            print(f"[replay] epoch {e} ({n_steps} steps, {time.time() - t0:.0f} s): worst relative "
                  "difference " + ", ".join(f"{k} {worst[k]:.2e}" for k in TERMS) +
                  f"; {len(failures)} term(s) outside the bound", flush=True)
            for line in failures[:5]:
                print(f"[replay]   {line}", flush=True)
            print(f"[replay] epoch {e} synthetic-validation F1: torch student {f1['student']:.4f} "
                  f"teacher {f1['teacher']:.4f} | greensed student {gs:.4f} teacher {gt:.4f}",
                  flush=True)
    steps_csv.close()
    if not lockstep:
        print("[replay] dropout on: loss differences reported, not checked")
        return 0
    if failures_total:
        print(f"[replay] FAIL: {failures_total} loss term(s) outside {REL_TOL:g} relative "
              f"({ABS_TOL:g} absolute below {SMALL:g})")
        return 1
    print(f"[replay] PASS: every term of every step within {REL_TOL:g} relative "
          f"({ABS_TOL:g} absolute below {SMALL:g})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
