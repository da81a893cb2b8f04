#!/usr/bin/python3
"""Converts a DESED_task PyTorch Lightning checkpoint (.ckpt) of the 2022/2023 baseline into a
greensed checkpoint (safetensors).

The .ckpt is a torch.save dict whose 'state_dict' holds sed_student.* and sed_teacher.* (the two
CRNNs, BatchNorm running statistics and num_batches_tracked included) plus the feature
extractor's buffers (mel_spec.spectrogram.window, mel_spec.mel_scale.fb, ...). greensed keeps
the two CRNNs under the recipe's names, e.g. sed_student.cnn.cnn.conv0.weight and
sed_teacher.rnn.rnn.weight_hh_l1_reverse, and drops everything else (greensed computes its own
mel filterbank). DESED_task commits after f0161eb override CNN.state_dict(), which drops one
level ("sed_student.cnn.conv0.weight"); such keys are mapped back to "cnn.cnn.conv0.weight".

Every model is checked by loading it into the recipe's CRNN (scripts/torch_crnn.py) with
load_state_dict(strict=True) before anything is written; the output is written atomically.

Usage: scripts/convert_ckpt.py IN.ckpt OUT.safetensors [--nclass 10] [--n-rnn-cell 128] [--net JSON]
"""
import argparse
import json
import os
import re
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
import torch_crnn as tc  # noqa: E402

MODELS = ("sed_student", "sed_teacher")


def recipe_key(key):
    """Maps a key of either DESED_task layout to the f0161eb state_dict name."""
    return re.sub(r"^cnn\.(conv|batchnorm|glu)(\d)", r"cnn.cnn.\1\2", key)


def split_models(state_dict):
    """-> ({model: {name: tensor}}, [dropped keys])"""
    models = {m: {} for m in MODELS}
    dropped = []
    for key, value in state_dict.items():
        prefix, _, rest = key.partition(".")
        if prefix in models and rest:
            models[prefix][recipe_key(rest)] = value
        else:
            dropped.append(key)
    return models, dropped


def convert(ckpt_path, out_path, net=None):
    try:
        checkpoint = torch.load(ckpt_path, map_location="cpu")
    except Exception as e:  # torch raises many types for a bad file
        raise SystemExit(f"{ckpt_path}: cannot be read by torch.load ({e})")
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise SystemExit(f"{ckpt_path}: no 'state_dict' entry; is it a PyTorch Lightning "
                         "checkpoint of the DESED_task baseline?")
    models, dropped = split_models(checkpoint["state_dict"])
    tensors = {}
    for name, state in models.items():
        if not state:
            raise SystemExit(f"{ckpt_path}: no '{name}.*' tensors in state_dict")
        model = tc.CRNN(net)
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as e:
            raise SystemExit(f"{ckpt_path}: {name} does not load into the recipe's CRNN "
                             f"(net {json.dumps(net or {})}):\n{e}")
        for key, value in model.state_dict().items():
            array = value.detach().cpu().numpy()
            array = array.astype(np.int64 if array.dtype.kind in "iu" else np.float32)
            tensors[f"{name}.{key}"] = array
    metadata = {"format": "pt", "greensed_source": os.path.basename(ckpt_path),
                "greensed_converted_by": "scripts/convert_ckpt.py"}
    for key in ("epoch", "global_step", "pytorch-lightning_version"):
        if key in checkpoint:
            metadata[f"lightning_{key}"] = str(checkpoint[key])
    safetensors_io.save(out_path, tensors, metadata)
    return tensors, dropped


def main():
    parser = argparse.ArgumentParser(description="DESED_task .ckpt -> greensed safetensors")
    parser.add_argument("ckpt")
    parser.add_argument("out")
    parser.add_argument("--nclass", type=int, default=10)
    parser.add_argument("--n-rnn-cell", type=int, default=128)
    parser.add_argument("--net", default="{}",
                        help='other net keys as JSON, e.g. \'{"nb_filters": [16, 32, 64, 128, '
                             '128, 128, 128]}\'')
    args = parser.parse_args()
    net = {"nclass": args.nclass, "n_RNN_cell": args.n_rnn_cell, **json.loads(args.net)}
    tensors, dropped = convert(args.ckpt, args.out, net)
    n_params = sum(v.size for k, v in tensors.items() if k.startswith("sed_student.")
                   and "running_" not in k and "num_batches" not in k)
    print(f"wrote {args.out}: {len(tensors)} tensors (student and teacher, "
          f"{n_params:,} parameters each)")
    if dropped:
        print(f"dropped {len(dropped)} entries that are not part of the CRNNs: "
              + ", ".join(dropped))
    return 0


if __name__ == "__main__":
    sys.exit(main())
