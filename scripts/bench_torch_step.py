#!/usr/bin/python3
"""Times one full mean-teacher training step of the recipe's CRNN in PyTorch, the peer of
`greensed bench step`: student forward + backward, teacher forward (train mode, as in the recipe,
under no_grad), BCE + MSE losses, EMA update, Adam step; dropout on (p = 0.5); no MixUp; inputs
of 626 frames × 128 mel bins with the 1/4, 1/4, 1/2 batch composition. Feature extraction is not
timed (greensed's benchmark does not time it either).

Each batch size runs in its own process so that its peak RSS is its own. Prints per batch size:
  batch=B median_step_s=X clips_per_s=Y peak_rss_mb=M
(the format of `greensed bench step`, minus gflops), after the per-step times.

Usage: scripts/bench_torch_step.py [--batch-sizes 4 8 16 32 48] [--steps 3] [--threads 2]
       [--compile]   (torch.compile the student's and the teacher's forward; PyTorch >= 2;
                      the warm-up step compiles and is not timed)
Debian's torch uses oneDNN and its own BLAS; OPENBLAS_CORETYPE is set anyway (if unset, from the
CPU flags) so both programs run under the same environment.
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import time


def default_coretype():
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        return None
    if " avx512f" in flags:
        return "SkylakeX"
    if " avx2" in flags:
        return "Haswell"
    return None


def run_one(batch, n_steps, threads, seed, compile_forward=False):
    import torch  # imported here so that the parent process stays small

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import torch_crnn as tc

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    student = tc.CRNN()  # PyTorch's default initialisation, dropout 0.5 as in the recipe
    teacher = tc.CRNN()
    teacher.load_state_dict(student.state_dict())
    if compile_forward:
        # The modules stay the same objects (parameters, state_dict, EMA unchanged); only their
        # forward runs compiled.
        student.forward = torch.compile(student.forward)
        teacher.forward = torch.compile(teacher.forward)
    mt = tc.MeanTeacher(student, teacher, rampup_length=5900)
    composition = [batch // 4, batch // 4, batch // 2]
    times = []
    for k in range(n_steps + 1):  # the first step warms up allocators and oneDNN primitives
        x, labels = tc.step_batch(k + 1, batch)
        start = time.perf_counter()
        mt.step(x, labels, composition)
        elapsed = time.perf_counter() - start
        if k > 0:
            times.append(elapsed)
            print(f"step {k}: {elapsed:.3f} s", flush=True)
    median = statistics.median(times)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"batch={batch} median_step_s={median:.4f} clips_per_s={batch / median:.3f} "
          f"peak_rss_mb={peak_mb:.0f}", flush=True)


def main():
    parser = argparse.ArgumentParser(description="time the recipe's mean-teacher step in PyTorch")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[4, 8, 16, 32, 48])
    parser.add_argument("--batch-size", type=int, help=argparse.SUPPRESS)  # one, in this process
    parser.add_argument("--steps", type=int, default=3, help="timed steps (after one warm-up)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--compile", action="store_true",
                        help="torch.compile the forward of student and teacher")
    args = parser.parse_args()
    for b in args.batch_sizes + ([args.batch_size] if args.batch_size else []):
        if b < 4 or b % 4:
            parser.error(f"batch size {b}: must be a multiple of 4 (1/4 strong, 1/4 weak, 1/2 "
                         "unlabelled)")
    if args.batch_size:
        run_one(args.batch_size, args.steps, args.threads, args.seed, args.compile)
        return 0
    env = dict(os.environ)
    if "OPENBLAS_CORETYPE" not in env and default_coretype():
        env["OPENBLAS_CORETYPE"] = default_coretype()
    import torch  # noqa: F401  (only to print the version)
    print(f"# torch {torch.__version__}{' + torch.compile' if args.compile else ''}, "
          f"{args.threads} threads, OPENBLAS_CORETYPE="
          f"{env.get('OPENBLAS_CORETYPE', '')}", flush=True)
    for b in args.batch_sizes:
        result = subprocess.run([sys.executable, os.path.abspath(__file__), "--batch-sizes",
                                 str(b), "--batch-size", str(b), "--steps", str(args.steps),
                                 "--threads", str(args.threads), "--seed", str(args.seed)]
                                + (["--compile"] if args.compile else []),
                                env=env)
        if result.returncode != 0:
            return result.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
