#!/usr/bin/python3
"""Train the baseline with the PyTorch recipe's logic on greensed's cached features, to compare
learning curves with `greensed train` on the same data (issue: "the model learns").

The model, losses, EMA and schedules come from scripts/torch_crnn.py (the recipe written from the
spec); the batches follow the recipe (1/4 synthetic, 1/4 weak, 1/2 unlabelled, a fresh permutation
per subset per epoch, soft MixUp with p = 0.5 on the linear mel); validation decodes the teacher's
and the student's synthetic-validation scores at 0.5 with a 7-frame median filter and scores them
with `greensed evaluate` (psds_eval semantics, DTC = GTC = 0.5), as `greensed train` does.

Usage (after `greensed synth` and `greensed features` with the same config):
  scripts/torch_train_reference.py --config configs/demo.yaml --epochs 30 --out runs/torch_reference
Writes OUT/epochs.csv: epoch, step, lr, loss, student and teacher synthetic-validation F1, seconds;
epoch 0 is the untrained model. scripts/compare_learning_curves.py puts it beside a greensed run.
Debian python3-torch, numpy and python3-yaml only.
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
import torch_crnn  # noqa: E402

CLASSES = ["Alarm_bell_ringing", "Blender", "Cat", "Dishes", "Dog", "Electric_shaver_toothbrush",
           "Frying", "Running_water", "Speech", "Vacuum_cleaner"]


def read_tsv(path):
    with open(path) as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return rows


class Cache:
    """greensed's feature cache: index.json + mel/<hash>.mel (32-byte header, float32 [F, T])."""

    def __init__(self, directory):
        self.dir = directory
        with open(os.path.join(directory, "index.json")) as f:
            self.entries = json.load(f)["entries"]

    def mel(self, path, n_frames=626):
        entry = self.entries[os.path.realpath(path)] if os.path.realpath(path) in self.entries else self.entries[path]
        raw = np.fromfile(os.path.join(self.dir, entry["file"]), dtype=np.uint8)
        values = raw[32:].view(np.float32).reshape(entry["n_mels"], entry["n_frames"])
        out = np.zeros((entry["n_mels"], n_frames), np.float32)
        take = min(n_frames, entry["n_frames"])
        out[:, :take] = values[:, :take]
        return out


def encode_strong(events, n_frames=156):
    """ManyHotEncoder (spec §5.2): frames [int(15.625·onset), ceil(15.625·offset)) per event."""
    y = np.zeros((10, n_frames), np.float32)
    for label, onset, offset in events:
        a = int(min(max(onset * 15.625, 0), n_frames))
        b = int(math.ceil(min(max(offset * 15.625, 0), n_frames)))
        y[CLASSES.index(label), a:b] = 1
    return y


def median_filter_time(b, w):
    """scipy.ndimage.median_filter(b, size=(w, 1), mode='reflect') for a [T, K] array."""
    h = w // 2
    padded = np.concatenate([b[:h][::-1], b, b[len(b) - (w - 1 - h):][::-1]], axis=0)
    windows = np.stack([padded[i:i + len(b)] for i in range(w)], axis=0)
    return np.sort(windows, axis=0)[h]


def decode(strong, filename, threshold=0.5, window=7):
    """strong [K, T'] → rows (filename, onset, offset, label) at 64 ms frames."""
    active = median_filter_time((strong.T > threshold).astype(np.float32), window) > 0.5
    rows = []
    for k in range(active.shape[1]):
        col = np.concatenate([[False], active[:, k], [False]])
        starts = np.flatnonzero(~col[:-1] & col[1:])
        ends = np.flatnonzero(col[:-1] & ~col[1:])
        for s, e in zip(starts, ends):
            rows.append((filename, min(s * 0.064, 10.0), min(e * 0.064, 10.0), CLASSES[k]))
    return rows


def to_input(x):
    """Linear mel → dB (amin 1e-5) → clamp [-50, 80] → per-clip min-max (spec §2.2–2.3)."""
    x = 20.0 * torch.log10(torch.clamp(x, min=1e-5))
    x = torch.clamp(x, -50.0, 80.0)
    lo = x.amin(dim=(1, 2), keepdim=True)
    hi = x.amax(dim=(1, 2), keepdim=True)
    return (x - lo) / (hi - lo + 1e-8)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--out", required=True)
    ap.add_argument("--greensed", default="build/greensed")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    with open(args.config) as f:
        cfg = yaml.safe_load(f)
    d, t = cfg["data"], cfg.get("training", {})
    batch = t.get("batch_size", [12, 12, 24])
    warmup = t.get("n_epochs_warmup", 50)
    cache = Cache(cfg.get("features", {}).get("cache_dir", "cache/features"))

    synth = {}
    for r in read_tsv(d["synth_tsv"]):
        synth.setdefault(r["filename"], [])
        if r.get("event_label"):
            synth[r["filename"]].append((r["event_label"], float(r["onset"]), float(r["offset"])))
    synth_x = np.stack([cache.mel(os.path.join(d["synth_folder"], f)) for f in synth])
    synth_y = np.stack([encode_strong(ev) for ev in synth.values()])
    weak = read_tsv(d["weak_tsv"])
    order = rng.permutation(len(weak))
    n_train = int(round(0.9 * len(weak)))
    weak_train = [weak[i] for i in order[:n_train]]
    weak_x = np.stack([cache.mel(os.path.join(d["weak_folder"], r["filename"])) for r in weak_train])
    weak_y = np.zeros((len(weak_train), 10), np.float32)
    for i, r in enumerate(weak_train):
        for label in r["event_labels"].split(","):
            weak_y[i, CLASSES.index(label.strip())] = 1
    unl_files = sorted(f for f in os.listdir(d["unlabeled_folder"]) if f.endswith(".wav"))
    unl_x = np.stack([cache.mel(os.path.join(d["unlabeled_folder"], f)) for f in unl_files])
    val = {}
    for r in read_tsv(d["synth_val_tsv"]):
        val.setdefault(r["filename"], [])
        if r.get("event_label"):
            val[r["filename"]].append(r)
    val_files = [f for f, ev in val.items() if ev]
    val_x = torch.from_numpy(np.stack([cache.mel(os.path.join(d["synth_val_folder"], f)) for f in val_files]))

    steps = min(len(synth_x) // batch[0], len(weak_x) // batch[1], len(unl_x) // batch[2])
    student = torch_crnn.CRNN()
    teacher = torch_crnn.CRNN()
    teacher.load_state_dict(student.state_dict())
    mt = torch_crnn.MeanTeacher(student, teacher, max_lr=cfg.get("opt", {}).get("lr", 1e-3),
                                rampup_length=warmup * steps, const_max=t.get("const_max", 2.0),
                                ema_factor=t.get("ema_factor", 0.999))
    os.makedirs(args.out, exist_ok=True)
    log = open(os.path.join(args.out, "epochs.csv"), "w")
    log.write("epoch,step,lr,loss,val_synth_f1_student,val_synth_f1_teacher,seconds\n")
    print(f"[torch] {len(synth_x)} synthetic, {len(weak_x)} weak, {len(unl_x)} unlabelled; batch {batch}; "
          f"{steps} steps per epoch", flush=True)

    def validate():
        """Synthetic-validation intersection F1 of student and teacher, scored by `greensed evaluate`."""
        f1 = {}
        for name, model in (("student", student), ("teacher", teacher)):
            model.eval()
            rows = []
            with torch.no_grad():
                for i in range(0, len(val_files), 16):
                    strong, _ = model(to_input(val_x[i:i + 16].clone()))
                    for j, f in enumerate(val_files[i:i + 16]):
                        rows += decode(strong[j].numpy(), f)
            model.train()
            det = os.path.join(args.out, f"{name}_th_0.5.tsv")
            with open(det, "w") as fd:
                fd.write("filename\tonset\toffset\tevent_label\n")
                for r in rows:
                    fd.write(f"{r[0]}\t{r[1]:.3f}\t{r[2]:.3f}\t{r[3]}\n")
            js = os.path.join(args.out, f"{name}.json")
            subprocess.run([args.greensed, "--log-level", "error", "evaluate", "--ground-truth", d["synth_val_tsv"],
                            "--durations", d["synth_val_dur"], "--detections", det, "--json", js],
                           check=True, stdout=subprocess.DEVNULL)
            with open(js) as fj:
                f1[name] = json.load(fj)["intersection_f1_macro"] or 0.0
        return f1

    # Epoch 0: the untrained model (initial weights, BatchNorm running statistics at their defaults).
    f1 = validate()
    log.write(f"0,0,0,nan,{f1['student']},{f1['teacher']},0\n")
    log.flush()
    print(f"[torch] untrained: F1 student {f1['student']:.4f} teacher {f1['teacher']:.4f}", flush=True)
    for epoch in range(1, args.epochs + 1):
        t0 = time.time()
        ps, pw, pu = rng.permutation(len(synth_x)), rng.permutation(len(weak_x)), rng.permutation(len(unl_x))
        losses = []
        for s in range(steps):
            i_s = ps[s * batch[0]:(s + 1) * batch[0]]
            i_w = pw[s * batch[1]:(s + 1) * batch[1]]
            i_u = pu[s * batch[2]:(s + 1) * batch[2]]
            xs, ys = synth_x[i_s].copy(), synth_y[i_s].copy()
            xw, yw = weak_x[i_w].copy(), weak_y[i_w].copy()
            if rng.random() < 0.5:  # soft MixUp: weak rows, then strong rows (spec §4.3)
                for xb, yb in ((xw, yw), (xs, ys)):
                    lam = rng.beta(0.2, 0.2)
                    perm = rng.permutation(len(xb))
                    xb[:] = lam * xb + (1 - lam) * xb[perm]
                    yb[:] = np.clip(lam * yb + (1 - lam) * yb[perm], 0, 1)
            x = torch.from_numpy(np.concatenate([xs, xw, unl_x[i_u]]))
            labels = np.zeros((len(x), 10, 156), np.float32)
            labels[:len(xs)] = ys
            labels[len(xs):len(xs) + len(xw), :, 0] = yw  # weak vector in frame 0 (the recipe's layout)
            # The recipe turns weak labels into targets before MixUp, so mixed weak targets stay soft.
            out = mt.step(to_input(x), torch.from_numpy(labels), batch, y_weak=torch.from_numpy(yw))
            losses.append(out["loss"])
        train_s = time.time() - t0
        f1 = validate()
        log.write(f"{epoch},{mt.step_num - 1},{out['lr']},{np.mean(losses)},{f1['student']},{f1['teacher']},"
                  f"{time.time() - t0:.1f}\n")
        log.flush()
        print(f"[torch] epoch {epoch}: loss {np.mean(losses):.4f}, F1 student {f1['student']:.4f} teacher "
              f"{f1['teacher']:.4f} ({train_s:.0f} s training)", flush=True)


if __name__ == "__main__":
    main()
