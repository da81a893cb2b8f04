#!/usr/bin/python3
"""Loads a greensed checkpoint (safetensors) into the recipe's PyTorch CRNN with
load_state_dict(strict=True) and compares its eval-mode outputs with expected values.

The model's tensors are those named <model>.<state_dict name> (model = sed_student or
sed_teacher); other entries (optimiser state, ...) are ignored. The input is formula features
(scripts/crnn_formulas.md: features(stream) of B clips × T frames × 128 mel bins), so the C++
side can compute the same input without files.

Expected values come from a JSON file (--expect FILE: {"strong": [[[...]]], "weak": [[...]]},
nested or flattened row-major, either may be absent) or from the command line (--weak V V ... : the weak output of every clip,
flattened). Exit code 0 when every compared value is within --atol, 1 otherwise, 2 on bad input.

Usage: scripts/check_ckpt_in_torch.py CKPT.safetensors [--model sed_teacher] [--stream 1]
          [--batch 3] [--frames 626] [--expect FILE.json] [--weak V ...] [--atol 1e-4] [--print]
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


def load_model(path, model_name, net=None):
    tensors, metadata = safetensors_io.load(path)
    prefix = model_name + "."
    state = {k[len(prefix):]: torch.from_numpy(v) for k, v in tensors.items()
             if k.startswith(prefix)}
    if not state:
        names = sorted({k.split(".")[0] for k in tensors})
        raise SystemExit(f"{path}: no '{prefix}*' tensors (prefixes present: {names})")
    model = tc.CRNN(net)
    model.load_state_dict(state, strict=True)  # raises on any missing/unexpected/mis-shaped key
    model.eval()
    return model, metadata


def compare(name, got, expected, atol):
    expected = np.asarray(expected, dtype=np.float64)
    if expected.ndim == 1 and expected.size == got.size:  # flattened (row-major) is accepted
        expected = expected.reshape(got.shape)
    if expected.shape != got.shape:
        print(f"{name}: expected shape {list(expected.shape)}, model gives {list(got.shape)}")
        return False
    err = float(np.max(np.abs(got.astype(np.float64) - expected))) if got.size else 0.0
    ok = err <= atol
    print(f"{name}: max abs error {err:.3g} over {got.size} values "
          f"({'OK' if ok else 'FAIL'}, atol {atol:g})")
    return ok


def main():
    parser = argparse.ArgumentParser(description="check a greensed checkpoint in PyTorch")
    parser.add_argument("ckpt")
    parser.add_argument("--model", default="sed_teacher", choices=["sed_student", "sed_teacher"])
    parser.add_argument("--stream", type=int, default=1, help="features(stream) input")
    parser.add_argument("--batch", type=int, default=3)
    parser.add_argument("--frames", type=int, default=626)
    parser.add_argument("--nclass", type=int, default=10)
    parser.add_argument("--n-rnn-cell", type=int, default=128)
    parser.add_argument("--expect", help="JSON file with 'strong' and/or 'weak'")
    parser.add_argument("--weak", type=float, nargs="+", help="expected weak outputs, flattened")
    parser.add_argument("--atol", type=float, default=1e-4)
    parser.add_argument("--print", action="store_true", help="print the outputs as JSON")
    args = parser.parse_args()
    if not os.path.exists(args.ckpt):
        print(f"{args.ckpt}: no such file", file=sys.stderr)
        return 2

    model, metadata = load_model(args.ckpt, args.model,
                                 {"nclass": args.nclass, "n_RNN_cell": args.n_rnn_cell})
    print(f"{args.ckpt}: {args.model} loaded with load_state_dict(strict=True)")
    x = tc.formula_features(args.stream, args.batch, 128, args.frames)
    with torch.no_grad():
        strong, weak = (t.numpy() for t in model(x))
    if args.print:
        print(json.dumps({"strong": strong.tolist(), "weak": weak.tolist()}))

    expected = {}
    if args.expect:
        with open(args.expect) as f:
            expected = json.load(f)
    if args.weak:
        expected["weak"] = args.weak
    if not expected:
        print("nothing to compare (give --expect or --weak)")
        return 0
    ok = True
    for name, got in (("strong", strong), ("weak", weak)):
        if name in expected:
            ok &= compare(name, got, expected[name], args.atol)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
