#!/usr/bin/python3
"""Writes tests/data/model_io/converted_tiny.safetensors and converted_tiny_expected.safetensors:
a fake DESED_task Lightning checkpoint of a small CRNN (net keys in TINY_NET; student and
teacher with different weights and BatchNorm statistics, in the later key layout whose
CNN.state_dict() drops one 'cnn.' level, plus the mel buffers) converted by convert_ckpt.py, and
the PyTorch eval-mode outputs of both models on features(1) of 2 clips × 64 frames
(crnn_formulas.md). The C++ test loads the converted file into model::Crnn and compares outputs,
so the .ckpt → greensed path is tested without Python at test time.
"""
import collections
import json
import os
import sys
import tempfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import convert_ckpt  # noqa: E402
import safetensors_io  # noqa: E402
import torch_crnn as tc  # noqa: E402

TINY_NET = {"nb_filters": [4, 4, 8, 8, 8, 8, 8], "n_RNN_cell": 8, "nclass": 10}
BATCH, FRAMES = 2, 64


def main():
    out_dir = os.path.join(os.path.dirname(HERE), "tests", "data", "model_io")
    torch.manual_seed(2022)
    models = {"sed_student": tc.CRNN(TINY_NET), "sed_teacher": tc.CRNN(TINY_NET)}
    state = collections.OrderedDict()
    for i, (name, model) in enumerate(models.items()):
        tc.set_dropout(model, 0.0)
        model.train()
        with torch.no_grad():
            model(tc.formula_features(20 + i, 3, 128, FRAMES))  # BatchNorm statistics
        for key, value in model.state_dict().items():
            state[f"{name}.{key.replace('cnn.cnn.', 'cnn.', 1)}"] = value.clone()
    state["mel_spec.spectrogram.window"] = torch.hamming_window(2048, periodic=False)
    ckpt = os.path.join(tempfile.mkdtemp(prefix="greensed_fixture_"), "tiny.ckpt")
    torch.save({"epoch": 1, "global_step": 118, "state_dict": state}, ckpt)
    convert_ckpt.convert(ckpt, os.path.join(out_dir, "converted_tiny.safetensors"), TINY_NET)

    expected = {}
    x = tc.formula_features(1, BATCH, 128, FRAMES)
    for name, model in models.items():
        model.eval()
        with torch.no_grad():
            strong, weak = model(x)
        expected[f"{name}.strong"] = strong.numpy()
        expected[f"{name}.weak"] = weak.numpy()
    safetensors_io.save(os.path.join(out_dir, "converted_tiny_expected.safetensors"), expected,
                        {"net": json.dumps(TINY_NET), "features": f"features(1), B={BATCH}, "
                         f"F=128, T={FRAMES}", "mode": "eval", "torch": torch.__version__})
    print("wrote", out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
