#!/usr/bin/env bash
# One mean-teacher training step on this machine, in one run: greensed (`greensed bench step`),
# Debian's PyTorch (python3-torch, 1.13), and PyPI's PyTorch 2.15.0 eager and with torch.compile
# (forward compiled), each batch size interleaved across the four so that all see the same machine
# load; then the machine's 2-thread sgemm peak (OpenBLAS, 2048³) and a table with greensed's
# GFLOP/s (effective: direct-convolution count; executed: the multiplications it runs), the
# executed rate's share of that peak, and its speed-up over the best PyTorch.
#
# Usage: scripts/compare_step_speed.sh [--steps N] [--threads T] [--batch-sizes "4 16 48"]
#        [--greensed PATH] [--venv DIR] [--no-pypi]
#   --venv DIR   the PyPI PyTorch virtualenv (default .venv/torch-2.15.0, made on first use: about
#                1.7 GB of wheels, 2.9 GB on disk, about a minute on a fast link)
#   --no-pypi    time only greensed and Debian's PyTorch
# Needs: build/greensed and build/bench/crnn/bench_crnn_kernels (bash scripts/test.sh builds both),
# Debian's python3-torch and python3-venv, network access to PyPI for the first run.
set -euo pipefail
cd "$(dirname "$0")/.."
steps=5
threads=2
batch_sizes="4 16 48"
greensed=build/greensed
peak_bench=build/bench/crnn/bench_crnn_kernels
venv=.venv/torch-2.15.0
pypi=1
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) steps="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --batch-sizes) batch_sizes="$2"; shift 2 ;;
    --greensed) greensed="$2"; shift 2 ;;
    --venv) venv="$2"; shift 2 ;;
    --no-pypi) pypi=0; shift ;;
    *) echo "compare_step_speed.sh: unknown option '$1' (see the header of $0)" >&2; exit 2 ;;
  esac
done
for exe in "$greensed" "$peak_bench"; do
  if [ ! -x "$exe" ]; then
    echo "compare_step_speed.sh: $exe not found; build first (bash scripts/test.sh)" >&2
    exit 2
  fi
done

# PyPI's torch 2.15.0 in its own virtualenv, made once. The wheel declares the whole CUDA stack as
# dependencies and loads its CUDA libraries even on a CPU, so it is installed with --no-deps plus
# the CUDA wheels it needs that the machine's CUDA toolkit does not provide (pinned as in the
# wheel's metadata) and its pure-Python dependencies; cuBLAS, cuFFT, cuSPARSE, cuSOLVER, NVRTC,
# nvJitLink, CUPTI and the runtime come from the toolkit (LD_LIBRARY_PATH below). triton is left
# out: torch.compile on a CPU generates C++ (inductor), not triton kernels.
torch215_pins=(
  torch==2.15.0
  nvidia-cusparselt-cu13==0.8.1 nvidia-nvshmem-cu13==3.7.2 "nvidia-cufile==1.17.1.22.*"
  nvidia-nccl-cu13==2.30.7 nvidia-cudnn-cu13==9.26.0.51
  filelock "typing-extensions>=4.13.0" "setuptools>=77.0.3" "sympy>=1.13.3" mpmath
  "networkx>=2.5.1" jinja2 markupsafe "fsspec>=0.8.5" numpy
)
if [ "$pypi" = 1 ]; then
  cuda_root=""
  for d in "${CUDA_HOME:-}" /usr/local/cuda; do
    if [ -n "$d" ] && [ -d "$d/lib64" ]; then cuda_root=$d; break; fi
  done
  if [ -z "$cuda_root" ]; then
    echo "compare_step_speed.sh: PyPI's torch 2.15.0 needs the CUDA toolkit's libraries" \
      "(CUDA_HOME or /usr/local/cuda with lib64/); none found. Use --no-pypi to skip it." >&2
    exit 2
  fi
  export LD_LIBRARY_PATH="$cuda_root/lib64:$cuda_root/extras/CUPTI/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  if [ ! -f "$venv/.complete" ]; then
    echo "# making $venv (PyPI torch 2.15.0, once)" >&2
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    /usr/bin/python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --no-deps "${torch215_pins[@]}"
    "$venv/bin/python" -c 'import torch; assert torch.__version__.startswith("2.15.0"), torch.__version__'
    touch "$venv/.complete"
  fi
fi

# Same BLAS core type for every program, the one greensed picks itself
# (core::openblas_coretype_for; PyTorch's OpenBLAS would not).
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
  if grep -q ' avx512_bf16' /proc/cpuinfo; then export OPENBLAS_CORETYPE=Cooperlake;
  elif grep -q ' avx512f' /proc/cpuinfo; then export OPENBLAS_CORETYPE=SkylakeX;
  elif grep -q ' avx2' /proc/cpuinfo; then
    if grep -q AuthenticAMD /proc/cpuinfo; then export OPENBLAS_CORETYPE=Zen;
    else export OPENBLAS_CORETYPE=Haswell; fi
  fi
fi

field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }
torch_line() {  # python, extra options, batch
  "$1" scripts/bench_torch_step.py --batch-sizes "$3" --steps "$steps" --threads "$threads" $2 \
    | grep '^batch=' | tail -1
}

declare -A g_line d_line e_line c_line
echo "# $(date -u +%FT%TZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# steps=$steps (median) threads=$threads OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-}"
for b in $batch_sizes; do
  g_line[$b]=$("$greensed" bench step --batch-size "$b" --steps "$steps" --threads "$threads" \
    | grep '^batch=' | tail -1)
  echo "greensed:            ${g_line[$b]}"
  d_line[$b]=$(torch_line /usr/bin/python3 "" "$b")
  echo "torch 1.13 (Debian): ${d_line[$b]}"
  if [ "$pypi" = 1 ]; then
    e_line[$b]=$(torch_line "$venv/bin/python" "" "$b")
    echo "torch 2.15 eager:    ${e_line[$b]}"
    c_line[$b]=$(torch_line "$venv/bin/python" --compile "$b")
    echo "torch 2.15 compile:  ${c_line[$b]}"
  fi
done
# The yardstick: OpenBLAS sgemm 2048³ on $threads threads, measured now.
peak=$("$peak_bench" --benchmark_filter="SgemmPeak/$threads/" --benchmark_format=csv \
  --benchmark_min_time=1s 2>/dev/null | awk -F, '/SgemmPeak/ { printf "%.1f", $NF / 1e9 }')
echo "sgemm peak ($threads threads, 2048^3): $peak GFLOP/s   load $(cut -d' ' -f1-3 /proc/loadavg)"

echo
printf '| %5s | %9s | %9s | %9s | %12s | %9s | %9s | %9s | %7s | %7s |\n' batch "greensed" \
  "torch1.13" "torch2.15" "2.15+compile" "vs best" "eff GF/s" "exec GF/s" "% peak" "RSS MB"
printf '|%s|\n' "-------|-----------|-----------|-----------|--------------|-----------|-----------|-----------|---------|---------"
for b in $batch_sizes; do
  gs=$(field median_step_s "${g_line[$b]}"); gf=$(field gflops "${g_line[$b]}")
  gx=$(field executed_gflops "${g_line[$b]}")
  gm=$(field peak_rss_mb "${g_line[$b]}")
  ds=$(field median_step_s "${d_line[$b]}")
  es=n/a; cs=n/a
  if [ "$pypi" = 1 ]; then
    es=$(field median_step_s "${e_line[$b]}"); cs=$(field median_step_s "${c_line[$b]}")
  fi
  best=$(printf '%s\n' "$ds" "$es" "$cs" | grep -E '^[0-9.]+$' | sort -g | head -1)
  ratio=$(awk -v g="$gs" -v t="$best" 'BEGIN { printf "%.2fx", t / g }')
  share=$(awk -v g="$gx" -v p="$peak" 'BEGIN { if (p > 0) printf "%.1f", 100 * g / p; else print "n/a" }')
  printf '| %5s | %9s | %9s | %9s | %12s | %9s | %9s | %9s | %7s | %7s |\n' "$b" "$gs" "$ds" "$es" \
    "$cs" "$ratio" "$gf" "$gx" "$share" "$gm"
done
echo "(seconds per step, median of $steps; 'vs best' = fastest PyTorch / greensed; 'eff GF/s' counts"
echo " every convolution as a direct one, 'exec GF/s' the multiplications greensed executes (Winograd's"
echo " fewer), and '% peak' is exec GF/s against the sgemm peak)"
