#!/usr/bin/python3
# Checks a greensed synth tree against the reference recipe's loader rules (DESED_task 2022:
# pandas read_csv + dropna for strong sets, comma-split weak labels, weak_df.sample(frac=0.9,
# random_state=42), folder glob for unlabelled, soundfile durations at %.1f). Needs pandas and
# soundfile (a venv: /usr/bin/python3 -m venv --system-site-packages V; V/bin/pip install pandas
# soundfile). usage: check_desed_tree.py ROOT   (a tree written with greensed synth --out ROOT)
import glob, math, os, sys
import numpy as np, pandas as pd, soundfile as sf
root = sys.argv[1]
classes = ["Alarm_bell_ringing","Blender","Cat","Dishes","Dog","Electric_shaver_toothbrush","Frying","Running_water","Speech","Vacuum_cleaner"]
def strong(folder, tsv):
    df = pd.read_csv(tsv, sep="\t")
    n_all = df["filename"].nunique()
    df = df.dropna()  # StronglyAnnotatedSet drops event-less rows
    ex = {}
    for _, r in df.iterrows():
        p = os.path.join(folder, r["filename"])
        assert os.path.exists(p), p
        ex.setdefault(p, []).append((r["onset"], r["offset"], r["event_label"]))
        assert r["event_label"] in classes
        assert r["onset"] <= r["offset"]
    # no same-class overlaps (PSDSEval's rule)
    for p, evs in ex.items():
        for c in classes:
            e = sorted((a, b) for a, b, l in evs if l == c)
            for (a1, b1), (a2, b2) in zip(e, e[1:]):
                assert a2 > b1, (p, c, e)
    return n_all, len(ex)
def weak(folder, tsv):
    df = pd.read_csv(tsv, sep="\t")
    for _, r in df.iterrows():
        assert os.path.exists(os.path.join(folder, r["filename"]))
        for l in r["event_labels"].split(","):
            assert l in classes, l
    train = df.sample(frac=0.9, random_state=42)
    return len(df), len(train)
m = os.path.join(root, "metadata"); a = os.path.join(root, "audio")
print("synth train", strong(f"{a}/train/synthetic21_train/soundscapes_16k", f"{m}/train/synthetic21_train/soundscapes.tsv"))
print("synth val", strong(f"{a}/validation/synthetic21_validation/soundscapes_16k", f"{m}/validation/synthetic21_validation/soundscapes.tsv"))
print("test", strong(f"{a}/validation/validation_16k", f"{m}/validation/validation.tsv"))
print("weak (all, train)", weak(f"{a}/train/weak_16k", f"{m}/train/weak.tsv"))
print("unlabelled", len(glob.glob(f"{a}/train/unlabel_in_domain_16k/*.wav")))
for d, folder in [(f"{m}/validation/validation_durations.tsv", f"{a}/validation/validation_16k"),
                  (f"{m}/validation/synthetic21_validation/durations.tsv", f"{a}/validation/synthetic21_validation/soundscapes_16k")]:
    dur = pd.read_csv(d, sep="\t")
    # generate_tsv_wav_durations would write float_format %.1f of soundfile.info(f).duration
    for _, r in dur.iterrows():
        info = sf.info(os.path.join(folder, r["filename"]))
        assert info.samplerate == 16000
        assert abs(round(info.duration, 1) - r["duration"]) < 1e-9, (r["filename"], info.duration, r["duration"])
    print(d.split("/")[-1], len(dur), "durations match soundfile.info")
print("reference loader rules: OK")
