#!/usr/bin/python3
"""Checks scripts/convert_ckpt.py and scripts/check_ckpt_in_torch.py end to end (needs Debian's
python3-torch; not part of ctest, which never needs Python):

1. builds fake DESED_task Lightning checkpoints with torch (student and teacher CRNNs with
   different weights and BatchNorm statistics, the mel-spectrogram buffers, optimiser and
   scheduler state, epoch/global_step), in the f0161eb key layout and in the later layout
   whose CNN.state_dict() drops one 'cnn.' level;
2. converts each with convert_ckpt.py and asserts: every sed_student.* / sed_teacher.* tensor is
   present under the f0161eb name with identical values and dtype (num_batches_tracked I64), the
   mel buffers are dropped, the file is valid safetensors;
3. runs check_ckpt_in_torch.py on the result with the outputs of the original model (must pass)
   and with perturbed outputs (must fail);
4. feeds a malformed .ckpt (no state_dict) and expects a clear error.
Prints 'N passed, M failed'.
"""
import collections
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import safetensors_io  # noqa: E402
import torch_crnn as tc  # noqa: E402

results = []


def check(name, condition, detail=""):
    results.append(bool(condition))
    print(f"{'PASS' if condition else 'FAIL'} {name}{(': ' + detail) if detail else ''}")


def fake_lightning_ckpt(path, old_layout):
    torch.manual_seed(0)
    student, teacher = tc.CRNN(), tc.CRNN()
    tc.set_dropout(student, 0.0)
    for model, seed in ((student, 1), (teacher, 2)):  # give BN non-default statistics
        model.train()
        with torch.no_grad():
            model(tc.formula_features(seed, 2, 128, 200))
    state = collections.OrderedDict()
    for name, model in (("sed_student", student), ("sed_teacher", teacher)):
        for key, value in model.state_dict().items():
            if not old_layout:
                key = key.replace("cnn.cnn.", "cnn.", 1)  # later DESED_task CNN.state_dict()
            state[f"{name}.{key}"] = value.clone()
    state["mel_spec.spectrogram.window"] = torch.hamming_window(2048, periodic=False)
    state["mel_spec.mel_scale.fb"] = torch.rand(1025, 128)
    checkpoint = {"epoch": 7, "global_step": 826, "pytorch-lightning_version": "1.5.1",
                  "state_dict": state,
                  "optimizer_states": [{"state": {}, "param_groups": [{"lr": 1e-3}]}],
                  "lr_schedulers": [{"step_num": 827}], "hyper_parameters": {"net": {}}}
    torch.save(checkpoint, path)
    return student, teacher


def run(*args):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True)


def main():
    tmp = tempfile.mkdtemp(prefix="greensed_convert_")
    for old_layout in (True, False):
        tag = "f0161eb layout" if old_layout else "later layout"
        ckpt = os.path.join(tmp, f"fake_{int(old_layout)}.ckpt")
        out = os.path.join(tmp, f"converted_{int(old_layout)}.safetensors")
        student, teacher = fake_lightning_ckpt(ckpt, old_layout)
        r = run(os.path.join(HERE, "convert_ckpt.py"), ckpt, out)
        check(f"{tag}: convert_ckpt.py exits 0", r.returncode == 0, r.stderr.strip())
        if r.returncode != 0:
            continue
        check(f"{tag}: reports the dropped mel buffers", "mel_spec.mel_scale.fb" in r.stdout,
              r.stdout.strip())
        tensors, metadata = safetensors_io.load(out)
        check(f"{tag}: metadata keeps epoch and step",
              metadata.get("lightning_epoch") == "7" and metadata.get("lightning_global_step")
              == "826", json.dumps(metadata))
        expected_keys = {f"sed_student.{k}" for k in student.state_dict()} | \
            {f"sed_teacher.{k}" for k in teacher.state_dict()}
        check(f"{tag}: exactly the two CRNNs' state_dict names", set(tensors) == expected_keys,
              f"{len(tensors)} vs {len(expected_keys)}")
        check(f"{tag}: names like sed_student.cnn.cnn.conv0.weight",
              "sed_student.cnn.cnn.conv0.weight" in tensors
              and "sed_teacher.rnn.rnn.weight_hh_l1_reverse" in tensors
              and "sed_teacher.cnn.cnn.glu6.linear.bias" in tensors)
        same = all(np.array_equal(tensors[f"{n}.{k}"], v.numpy())
                   for n, m in (("sed_student", student), ("sed_teacher", teacher))
                   for k, v in m.state_dict().items())
        check(f"{tag}: values identical", same)
        check(f"{tag}: num_batches_tracked stored as int64 (value 1)",
              tensors["sed_teacher.cnn.cnn.batchnorm3.num_batches_tracked"].dtype == np.int64
              and int(tensors["sed_teacher.cnn.cnn.batchnorm3.num_batches_tracked"]) == 1)

        for name, model in (("sed_student", student), ("sed_teacher", teacher)):
            model.eval()
            with torch.no_grad():
                strong, weak = model(tc.formula_features(1, 2, 128, 300))
            expect = os.path.join(tmp, f"expect_{name}.json")
            with open(expect, "w") as f:
                json.dump({"strong": strong.tolist(), "weak": weak.tolist()}, f)
            args = [os.path.join(HERE, "check_ckpt_in_torch.py"), out, "--model", name,
                    "--batch", "2", "--frames", "300"]
            r = run(*args, "--expect", expect)
            check(f"{tag}: check_ckpt_in_torch.py accepts {name}'s outputs", r.returncode == 0,
                  r.stdout.strip().replace("\n", " | "))
            wrong = (weak.numpy() + 1e-3).ravel().tolist()
            r = run(*args, "--weak", *map(str, wrong))
            check(f"{tag}: check_ckpt_in_torch.py rejects outputs off by 1e-3 ({name})",
                  r.returncode == 1, r.stdout.strip().replace("\n", " | "))

    bad = os.path.join(tmp, "bad.ckpt")
    torch.save({"weights": {}}, bad)
    r = run(os.path.join(HERE, "convert_ckpt.py"), bad, os.path.join(tmp, "bad.safetensors"))
    check("a .ckpt without state_dict is refused with a message naming it",
          r.returncode != 0 and "no 'state_dict' entry" in r.stderr, r.stderr.strip())
    check("nothing written for the refused .ckpt",
          not os.path.exists(os.path.join(tmp, "bad.safetensors")))
    n_pass = sum(results)
    print(f"{n_pass} passed, {len(results) - n_pass} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
