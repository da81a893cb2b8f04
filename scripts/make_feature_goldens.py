#!/usr/bin/python3
"""Makes the log-mel parity fixtures in tests/data/features/ (run from anywhere; numpy only).

An independent float64 implementation of the 2022 DESED_task front end, written from torchaudio's
definitions (spec desed_baseline §2.1-2.3; torchaudio itself is not called):
  pad to 10 s (zeros at the end) -> reflect pad n_fft/2 -> frames of 2048, hop 256 -> symmetric
  Hamming -> |rfft| -> HTK mel filterbank (melscale_fbanks, norm None) -> 20 log10(max(x, 1e-5))
  -> clamp [-50, 80].
Everything runs in float64 except the window and the filterbank, whose values are torch's float32
ones (the reference multiplies by those float32 numbers; computing them in float64 instead moves
low-level bands of a pure tone by up to 6e-3 dB).
`--check-torch` additionally compares the result against torch.stft (float32) once, if present.

Cases: a sine sweep, white noise, silence, a clip shorter than n_fft (through pad-to-10 s, and raw
without padding: numpy.pad reflect semantics), a clipped signal (float WAV beyond +-1, reaching the
80 dB clamp) and a 44.1 kHz stereo file. For the 44.1 kHz file the golden is computed from libsoxr's
SOXR_HQ output (called here through ctypes with the settings greensed uses, channel mean first), so
the feature comparison is exact in intent; the resampler itself is checked separately against the
analytic 16 kHz signal (`stereo44k_ideal16k.npy`; the test states the tolerance).

Outputs per case: <case>.wav (the input) and <case>_db.npy, float32 [128, K]: the first K frames
(K = frames up to the last one that is not entirely -50 dB, + 2); every later frame of the 626 is
exactly -50 dB. cases.json lists case, input, mode, n_frames (total) and K.
"""
import ctypes
import json
import os
import struct
import sys

import numpy as np

SR = 16000
N_FFT = 2048
HOP = 256
N_MELS = 128
PAD_TO = 160000
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "data", "features")


def write_wav(path, samples, sr, fmt):
    """samples: float [n] or [n, channels]; fmt 'pcm16' or 'float32'. Returns what a decoder sees."""
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    n, ch = x.shape
    if fmt == "pcm16":
        q = np.clip(np.round(x * 32767.0), -32768, 32767).astype("<i2")
        data, tag, bits = q.tobytes(), 1, 16
        decoded = q.astype(np.float32) / np.float32(32768.0)
    else:
        f = x.astype("<f4")
        data, tag, bits = f.tobytes(), 3, 32
        decoded = f.astype(np.float32)
    block = ch * bits // 8
    fmt_chunk = struct.pack("<HHIIHH", tag, ch, sr, sr * block, block, bits)
    extra = b""
    if tag == 3:  # non-PCM formats carry cbSize and a fact chunk
        fmt_chunk += struct.pack("<H", 0)
        extra = b"fact" + struct.pack("<II", 4, n)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt_chunk)) + fmt_chunk + extra
    body += b"data" + struct.pack("<I", len(data)) + data
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", len(body)) + body)
    return decoded


def mono(decoded):
    """Mean over channels in float32 (sum then divide, as greensed and torch.mean for 2 channels)."""
    if decoded.shape[1] == 1:
        return decoded[:, 0]
    return (decoded.sum(axis=1, dtype=np.float32) / np.float32(decoded.shape[1])).astype(np.float32)


def soxr_resample(x, from_rate, to_rate):
    """libsoxr SOXR_HQ, float32 in/out, one thread, oneshot: the call greensed makes."""
    lib = ctypes.CDLL("libsoxr.so.0")

    class IoSpec(ctypes.Structure):
        _fields_ = [("itype", ctypes.c_int), ("otype", ctypes.c_int), ("scale", ctypes.c_double),
                    ("e", ctypes.c_void_p), ("flags", ctypes.c_ulong)]

    class QualitySpec(ctypes.Structure):
        _fields_ = [("precision", ctypes.c_double), ("phase_response", ctypes.c_double),
                    ("passband_end", ctypes.c_double), ("stopband_begin", ctypes.c_double),
                    ("e", ctypes.c_void_p), ("flags", ctypes.c_ulong)]

    class RuntimeSpec(ctypes.Structure):
        _fields_ = [("log2_min_dft_size", ctypes.c_uint), ("log2_large_dft_size", ctypes.c_uint),
                    ("coef_size_kbytes", ctypes.c_uint), ("num_threads", ctypes.c_uint),
                    ("e", ctypes.c_void_p), ("flags", ctypes.c_ulong)]

    lib.soxr_io_spec.restype = IoSpec
    lib.soxr_io_spec.argtypes = [ctypes.c_int, ctypes.c_int]
    lib.soxr_quality_spec.restype = QualitySpec
    lib.soxr_quality_spec.argtypes = [ctypes.c_ulong, ctypes.c_ulong]
    lib.soxr_runtime_spec.restype = RuntimeSpec
    lib.soxr_runtime_spec.argtypes = [ctypes.c_uint]
    lib.soxr_oneshot.restype = ctypes.c_char_p
    lib.soxr_oneshot.argtypes = [ctypes.c_double, ctypes.c_double, ctypes.c_uint, ctypes.c_void_p,
                                 ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t), ctypes.c_void_p,
                                 ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t),
                                 ctypes.POINTER(IoSpec), ctypes.POINTER(QualitySpec),
                                 ctypes.POINTER(RuntimeSpec)]
    io = lib.soxr_io_spec(0, 0)  # SOXR_FLOAT32_I
    quality = lib.soxr_quality_spec(4, 0)  # SOXR_HQ
    runtime = lib.soxr_runtime_spec(1)
    x = np.ascontiguousarray(x, dtype=np.float32)
    n_out = int(round(len(x) * to_rate / from_rate))
    y = np.zeros(n_out, dtype=np.float32)
    done = ctypes.c_size_t(0)
    err = lib.soxr_oneshot(from_rate, to_rate, 1, x.ctypes.data, len(x), None, y.ctypes.data, n_out,
                           ctypes.byref(done), ctypes.byref(io), ctypes.byref(quality),
                           ctypes.byref(runtime))
    if err:
        raise RuntimeError(err.decode())
    y[done.value:] = 0.0
    return y


def hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + f / 700.0)


def mel_to_hz(m):
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def linspace_f32(start, end, steps):
    """torch.linspace in float32 (ATen CPU kernel: first half counts up from start, second half
    down from end, float32 step)."""
    start, end = np.float32(start), np.float32(end)
    step = (end - start) / np.float32(steps - 1)
    i = np.arange(steps)
    up = start + step * i.astype(np.float32)
    down = end - step * (steps - i - 1).astype(np.float32)
    return np.where(i < steps // 2, up, down).astype(np.float32)


def mel_filterbank(dtype=np.float32):
    """torchaudio melscale_fbanks(1025, 0, 8000, 128, 16000, norm=None, mel_scale='htk') -> [1025, 128].

    float32 (default) follows torchaudio's arithmetic step by step, as the reference computes its
    filterbank in float32; float64 is the textbook formula (triangle corners move by ~1e-3 Hz, which
    shifts a pure tone's band values by up to ~6e-3 dB)."""
    if dtype == np.float32:
        all_freqs = linspace_f32(0, SR // 2, N_FFT // 2 + 1)
        m_pts = linspace_f32(hz_to_mel(0.0), hz_to_mel(8000.0), N_MELS + 2)
        f_pts = np.float32(700.0) * (np.float32(10.0) ** (m_pts / np.float32(2595.0)) - np.float32(1.0))
    else:
        all_freqs = np.linspace(0, SR // 2, N_FFT // 2 + 1)
        f_pts = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(8000.0), N_MELS + 2))
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts[None, :] - all_freqs[:, None]
    down = (-slopes[:, :-2]) / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    return np.maximum(0.0, np.minimum(down, up)).astype(np.float64)


def hamming_window_f32():
    """torch.hamming_window(2048, periodic=False), float32: arange(N).mul(2pi/(N-1)).cos().mul(-0.46)
    .add(0.54), each step rounded to float32 (cos correctly rounded here; torch's vectorised cos
    may differ by an ulp at some n)."""
    arg = np.arange(N_FFT, dtype=np.float32) * np.float32(2.0 * np.pi / (N_FFT - 1))
    c = np.cos(arg.astype(np.float64)).astype(np.float32)
    return (c * np.float32(-0.46) + np.float32(0.54)).astype(np.float32)


def log_mel_db(x):
    """float32 signal -> dB mel [128, 1 + len // 256], float64 arithmetic."""
    x = np.asarray(x, dtype=np.float64)
    padded = np.pad(x, N_FFT // 2, mode="reflect")
    n_frames = 1 + len(x) // HOP
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(n_frames)[:, None]
    window = hamming_window_f32().astype(np.float64)
    mag = np.abs(np.fft.rfft(padded[idx] * window[None, :], axis=1))  # [T, 1025]
    mel = mel_filterbank().T @ mag.T  # [128, T]
    return np.clip(20.0 * np.log10(np.maximum(mel, 1e-5)), -50.0, 80.0), mel


def check_margins(name, db, mel):
    """The exact-clamp assertions in the C++ test are sound only if no value sits at a clamp edge."""
    unclamped = 20.0 * np.log10(np.maximum(mel, 1e-300))
    near = (np.abs(unclamped + 50.0) < 0.01) | (np.abs(unclamped - 80.0) < 0.01)
    if near.any():
        sys.exit(f"{name}: {near.sum()} values within 0.01 dB of a clamp edge; change the signal")


def check_torch(x, db):
    """Cross-check against torch.stft (torchaudio's MelSpectrogram is torch.stft + abs + fb.T @)."""
    try:
        import torch
    except ImportError:
        print("  (torch not importable; cross-check skipped)")
        return
    spec = torch.stft(torch.from_numpy(np.asarray(x, dtype=np.float32)), n_fft=N_FFT,
                      hop_length=HOP, win_length=N_FFT,
                      window=torch.hamming_window(N_FFT, periodic=False), center=True,
                      pad_mode="reflect", normalized=False, onesided=True, return_complex=True)
    mel = torch.from_numpy(mel_filterbank().T.astype(np.float32)) @ spec.abs()
    tdb = np.clip(20.0 * np.log10(np.maximum(mel.double().numpy(), 1e-5)), -50.0, 80.0)
    print(f"  torch.stft (float32) vs numpy (float64): max |diff| {np.abs(tdb - db).max():.2e} dB")


def main():
    do_torch = "--check-torch" in sys.argv
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20220921)
    t2 = np.arange(2 * SR) / SR
    # log sweep 40 Hz -> 7900 Hz over 2 s, amplitude 0.5
    f0, f1, dur = 40.0, 7900.0, 2.0
    k = np.log(f1 / f0)
    sweep = 0.5 * np.sin(2 * np.pi * f0 * dur / k * (np.exp(t2 / dur * k) - 1.0))
    noise = np.clip(rng.normal(0.0, 0.2, 2 * SR), -1.0, 1.0)
    short = 0.6 * np.sin(2 * np.pi * 700.0 * np.arange(1000) / SR) + rng.normal(0, 0.05, 1000)
    t15 = np.arange(int(1.5 * SR)) / SR
    clipped = np.clip(60.0 * np.sin(2 * np.pi * 440.0 * t15), -30.0, 30.0)  # float WAV, > 0 dBFS

    # 44.1 kHz stereo, band-limited well inside soxr's passband, 20 ms raised-cosine fades so the
    # ideal 16 kHz signal is the same formula sampled at 16 kHz (no edge effects to speak of).
    def tones(t, spec):
        return sum(a * np.sin(2 * np.pi * f * t + p) for f, a, p in spec)

    left = [(300.0, 0.25, 0.1), (1234.5, 0.2, 0.7), (5000.0, 0.1, 1.3)]
    right = [(440.0, 0.25, 0.4), (2345.6, 0.15, 2.0), (6800.0, 0.08, 0.2)]

    def fade(t, total):
        ramp = 0.02
        return np.clip(np.minimum(t, total - t) / ramp, 0.0, 1.0) ** 2 * (3 - 2 * np.clip(
            np.minimum(t, total - t) / ramp, 0.0, 1.0))

    t44 = np.arange(44100) / 44100.0
    st = np.stack([tones(t44, left), tones(t44, right)], axis=1) * fade(t44, 1.0)[:, None]
    t16 = np.arange(16000) / 16000.0
    ideal16 = 0.5 * (tones(t16, left) + tones(t16, right)) * fade(t16, 1.0)

    cases = [
        ("sweep", sweep, SR, "pcm16", "pad10"),
        ("noise", noise, SR, "pcm16", "pad10"),
        ("silence", np.zeros(SR), SR, "pcm16", "pad10"),
        ("short", short, SR, "pcm16", "pad10"),
        ("short_raw", short, SR, "pcm16", "raw"),
        ("clipped", clipped, SR, "float32", "pad10"),
        ("stereo44k", st, 44100, "pcm16", "pad10"),
    ]
    index = []
    for name, signal, sr, fmt, mode in cases:
        wav = ("short" if name == "short_raw" else name) + ".wav"
        decoded = write_wav(os.path.join(OUT, wav), signal, sr, fmt)
        x = mono(decoded)
        if sr != SR:
            x = soxr_resample(x, sr, SR)
            np.save(os.path.join(OUT, f"{name}_ideal16k.npy"), ideal16.astype(np.float32))
            err = np.abs(x[400:-400] - ideal16[400:-400]).max()
            print(f"  soxr vs ideal 16 kHz signal (interior): max |diff| {err:.2e}")
        if mode == "pad10":
            x = np.concatenate([x, np.zeros(max(0, PAD_TO - len(x)), np.float32)])
        db, mel = log_mel_db(x)
        check_margins(name, db, mel)
        active = np.nonzero((db != -50.0).any(axis=0))[0]
        keep = db.shape[1] if mode == "raw" else min(db.shape[1], (active.max() + 3 if len(active) else 2))
        assert (db[:, keep:] == -50.0).all()
        np.save(os.path.join(OUT, f"{name}_db.npy"), db[:, :keep].astype(np.float32))
        index.append({"case": name, "input": wav, "mode": mode, "n_frames": int(db.shape[1]),
                      "n_frames_stored": int(keep)})
        print(f"{name}: {db.shape[1]} frames, {keep} stored, dB range [{db.min():.3f}, {db.max():.3f}]")
        if do_torch and len(x) > N_FFT // 2:  # torch refuses reflect pads longer than the input
            check_torch(x, db)
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump(index, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
