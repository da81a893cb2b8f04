#!/usr/bin/python3
"""Writes the PyTorch golden files of the CRNN into tests/data/golden/ (see its README.md):

  crnn_eval.safetensors   eval-mode strong and weak outputs, 3 clips of 626 frames
  crnn_grad.safetensors   train-mode outputs, BatchNorm running statistics and the gradient of
                          every parameter tensor (dropout off, BatchNorm on batch statistics)
  crnn_steps.safetensors  five mean-teacher steps (Adam + EMA, dropout off, no MixUp): every loss
                          term per step, student and teacher state after step 5

Weights, inputs, labels and output gradients come from the formulas of scripts/crnn_formulas.md;
every file's __metadata__ repeats the weight table ("weights", JSON). Big tensors are stored as a
strided sample (SAMPLE rule below) plus their L2 norm, to keep the repository small.

Usage: scripts/make_crnn_goldens.py [--out DIR]   (Debian python3 with python3-torch)
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
import torch_crnn as tc  # noqa: E402

FULL_MAX = 4096  # tensors up to this many elements are stored whole
N_SAMPLE = 1536  # otherwise elements floor(k·n / N_SAMPLE), k = 0..N_SAMPLE-1
N_PROJ = 4       # and projections on sym(7000 + q, i), q = 0..3 (gradients only)
SAMPLE_RULE = (f"n <= {FULL_MAX}: every element (key full.*); otherwise elements floor(k*n/{N_SAMPLE}) "
               f"for k = 0..{N_SAMPLE - 1} (key sample.*) and the float64 L2 norm of the whole "
               "tensor (key norm.*, F32)")


def sample_indices(n):
    return np.arange(N_SAMPLE, dtype=np.int64) * n // N_SAMPLE


def store(out, prefix, name, array, projections=False):
    """Adds `array` under prefix: full.<prefix>.<name> or sample/norm(/proj)."""
    flat = array.reshape(-1)
    if array.dtype == np.int64 or flat.size <= FULL_MAX:
        out[f"full.{prefix}.{name}"] = array.copy()
        return
    out[f"sample.{prefix}.{name}"] = flat[sample_indices(flat.size)].astype(np.float32)
    out[f"norm.{prefix}.{name}"] = np.array(np.linalg.norm(flat.astype(np.float64)),
                                            dtype=np.float32)
    if projections:
        proj = [np.dot(tc.hash_sym(7000 + q, flat.size), flat.astype(np.float64))
                for q in range(N_PROJ)]
        out[f"proj.{prefix}.{name}"] = np.array(proj, dtype=np.float32)


def base_metadata(table, extra):
    meta = {"weights": json.dumps(table), "formulas": "scripts/crnn_formulas.md",
            "made_by": "scripts/make_crnn_goldens.py", "torch": torch.__version__,
            "storage": SAMPLE_RULE}
    meta.update(extra)
    return meta


def make_model():
    model = tc.CRNN()
    table = tc.fill_by_formula(model)
    tc.set_dropout(model, 0.0)
    return model, table


def eval_golden(path):
    model, table = make_model()
    # Running statistics of a freshly filled model do not match its activations (every eval-mode
    # output would be ~0.5); set them from one train-mode pass and store them.
    model.train()
    with torch.no_grad():
        model(tc.formula_features(5, 3, 128, 626))
    model.eval()
    x = tc.formula_features(1, 3, 128, 626)
    with torch.no_grad():
        strong, weak = model(x)
    out = {"strong": strong.numpy(), "weak": weak.numpy()}
    for name, t in model.state_dict().items():
        if "running_" in name:
            out[f"running.{name}"] = t.numpy().copy()
    meta = base_metadata(table, {
        "features": "formula_features(stream=1, B=3, F=128, T=626)",
        "running": "running.* replace the formula running_mean/running_var (they come from one "
                   "train-mode forward, dropout off, on formula_features(stream=5, B=3))",
        "mode": "eval"})
    safetensors_io.save(path, out, meta)
    return strong, weak


def grad_golden(path):
    model, table = make_model()
    model.train()
    batch, n_frames = 4, 626
    x = tc.formula_features(2, batch, 128, n_frames)
    strong, weak = model(x)
    k, t_out = strong.shape[1], strong.shape[2]
    g_strong = tc.formula_tensor(3, (batch, k, t_out), sym=True, scale=1.0 / (batch * k * t_out))
    g_weak = tc.formula_tensor(4, (batch, k), sym=True, scale=1.0 / (batch * k))
    model.zero_grad()
    torch.autograd.backward([strong, weak], [g_strong, g_weak])
    out = {"strong": strong.detach().numpy(), "weak": weak.detach().numpy()}
    for name, p in model.named_parameters():
        store(out, "grad", name, p.grad.numpy(), projections=True)
    for name, t in model.state_dict().items():
        if "running_" in name or "num_batches" in name:
            out[f"full.state.{name}"] = t.numpy().copy()
    meta = base_metadata(table, {
        "features": "formula_features(stream=2, B=4, F=128, T=626)",
        "output_gradients": "dL/dstrong = sym(3, i)/(B*K*T'), dL/dweak = sym(4, i)/(B*K)",
        "projections": f"proj.grad.<name>[q] = sum_i sym(7000 + q, i) * grad[i], q < {N_PROJ}",
        "mode": "train, dropout off (BatchNorm on batch statistics; running statistics updated "
                "once: full.state.*)"})
    safetensors_io.save(path, out, meta)


def run_steps(dtype, n_steps, batch, rampup):
    student, table = make_model()
    teacher, _ = make_model()
    student, teacher = student.to(dtype), teacher.to(dtype)
    mt = tc.MeanTeacher(student, teacher, max_lr=1e-3, rampup_length=rampup, const_max=2.0)
    composition = [batch // 4, batch // 4, batch // 2]
    rows = []
    for k in range(1, n_steps + 1):
        x, labels = tc.step_batch(k, batch)
        rows.append(mt.step(x.to(dtype), labels.to(dtype), composition))
    return student, teacher, rows, table, composition


def stored_elements(array):
    flat = array.reshape(-1)
    return flat if flat.size <= FULL_MAX else flat[sample_indices(flat.size)]


def steps_golden(path, n_steps=5, batch=8, rampup=10):
    """The reference is the float64 run (the exact trajectory up to 1e-16). PyTorch's own float32
    run is stored as a noise floor: Adam's first step (full LR, the recipe's quirk) is ~lr·sign(g),
    so elements whose gradient is at rounding-noise level move by ±lr in any float32
    implementation (conv biases under train-mode BatchNorm have an exactly zero gradient, and the
    BatchNorm running_mean carries their noise). dev32.<what>.<name> = max |float32 − float64|
    over the stored elements."""
    s64, t64, rows, table, composition = run_steps(torch.float64, n_steps, batch, rampup)
    s32, t32, rows32, _, _ = run_steps(torch.float32, n_steps, batch, rampup)
    out = {}
    for what, m64, m32 in (("student", s64, s32), ("teacher", t64, t32)):
        st32 = m32.state_dict()
        for name, t in m64.state_dict().items():
            a64 = t.numpy()
            if a64.dtype == np.float64:
                store(out, what, name, a64.astype(np.float32))
                dev = np.max(np.abs(stored_elements(st32[name].numpy().astype(np.float64))
                                    - stored_elements(a64)))
                out[f"dev32.{what}.{name}"] = np.array(dev, dtype=np.float32)
            else:
                store(out, what, name, a64)
    loss_dev = {k: max(abs(r32[k] - r64[k]) / max(abs(r64[k]), 1e-30) for r32, r64 in
                       zip(rows32, rows)) for k in ("loss_strong", "loss_weak", "loss_cs",
                                                    "loss_cw", "loss")}
    meta = base_metadata(table, {
        "steps": json.dumps(rows),
        "steps_float32_max_rel_dev": json.dumps(loss_dev),
        "batch": json.dumps({"composition": composition, "n_frames": 626, "n_mels": 128}),
        "schedule": json.dumps({"max_lr": 1e-3, "rampup_length": rampup, "const_max": 2.0,
                                "ema_factor": 0.999, "betas": [0.9, 0.999], "eps": 1e-8}),
        "reference": "float64 PyTorch run (weights and inputs from the float32 formulas); "
                     "dev32.* = PyTorch float32 run's max abs deviation from it",
        "mode": "student and teacher in train mode, dropout off, no MixUp; state after step 5"})
    safetensors_io.save(path, out, meta)
    return rows


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(root, "tests", "data", "golden"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(2)
    _, weak = eval_golden(os.path.join(args.out, "crnn_eval.safetensors"))
    print("eval: weak[0] =", weak[0].tolist())
    grad_golden(os.path.join(args.out, "crnn_grad.safetensors"))
    rows = steps_golden(os.path.join(args.out, "crnn_steps.safetensors"))
    for r in rows:
        print("step", json.dumps(r))
    for f in sorted(os.listdir(args.out)):
        print(f, os.path.getsize(os.path.join(args.out, f)), "bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
