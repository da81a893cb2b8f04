#!/usr/bin/python3
"""Times the numpy reference front end (scripts/make_feature_goldens.py: float64 STFT, torch-float32
filterbank, dB, clamp, min-max) on the clips bench/features uses, for comparison with greensed.

usage: scripts/bench_features_numpy.py [DIR]   (default: $TMPDIR/greensed_bench_features, which
       build/bench/features/bench_features creates: 32 synthetic 10 s, 16 kHz PCM16 clips)
Prints clips/s (wall) and CPU ms per clip. numpy's FFT is single-threaded; its BLAS (the mel matrix
product) may use more threads; set OPENBLAS_NUM_THREADS=1 for a one-core figure.
"""
import glob
import importlib.util
import os
import sys
import tempfile
import time
import wave

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("goldens", os.path.join(HERE, "make_feature_goldens.py"))
ref = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ref)


def load_pcm16_mono(path):
    with wave.open(path, "rb") as w:
        assert w.getsampwidth() == 2, f"{path}: only 16-bit PCM is supported here"
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
        ch = w.getnchannels()
    x = x.reshape(-1, ch).mean(axis=1, dtype=np.float32)
    return np.concatenate([x, np.zeros(max(0, ref.PAD_TO - len(x)), np.float32)])[: max(len(x), ref.PAD_TO)]


def features(path):
    db, _ = ref.log_mel_db(load_pcm16_mono(path))
    return (db - db.min()) / (db.max() - db.min() + 1e-8)


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else os.path.join(tempfile.gettempdir(),
                                                                 "greensed_bench_features")
    files = sorted(glob.glob(os.path.join(folder, "*.wav")))
    if not files:
        sys.exit(f"{folder}: no .wav files (run build/bench/features/bench_features first)")
    features(files[0])  # warm-up (filterbank, imports)
    times = []
    for _ in range(3):
        wall0, cpu0 = time.perf_counter(), time.process_time()
        for f in files:
            features(f)
        times.append((time.perf_counter() - wall0, time.process_time() - cpu0))
    wall, cpu = sorted(times)[1]  # median of 3 passes
    print(f"numpy reference: {len(files)} clips, {len(files) / wall:.1f} clips/s (wall, median of 3), "
          f"{1000 * cpu / len(files):.2f} CPU ms per clip")


if __name__ == "__main__":
    main()
