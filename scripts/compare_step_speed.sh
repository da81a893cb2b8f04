#!/usr/bin/env bash
# One mean-teacher training step, greensed vs PyTorch, on this machine in one run: for each batch
# size, `greensed bench step` then scripts/bench_torch_step.py (interleaved, so that both see the
# same machine load), then a table with the ratio of clips/s and the peak RSS of each.
#
# Usage: scripts/compare_step_speed.sh [--steps N] [--threads T] [--batch-sizes "4 8 16 32 48"]
#        [--greensed PATH]   (default build/greensed; needs Debian's python3-torch)
set -euo pipefail
cd "$(dirname "$0")/.."
steps=3
threads=2
batch_sizes="4 8 16 32 48"
greensed=build/greensed
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) steps="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --batch-sizes) batch_sizes="$2"; shift 2 ;;
    --greensed) greensed="$2"; shift 2 ;;
    *) echo "compare_step_speed.sh: unknown option '$1' (see the header of $0)" >&2; exit 2 ;;
  esac
done
if [ ! -x "$greensed" ]; then
  echo "compare_step_speed.sh: $greensed not found; build first (bash scripts/test.sh)" >&2
  exit 2
fi
# Same BLAS core type for both programs (greensed would pick it itself; PyTorch's OpenBLAS not).
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
  if grep -q ' avx512f' /proc/cpuinfo; then export OPENBLAS_CORETYPE=SkylakeX;
  elif grep -q ' avx2' /proc/cpuinfo; then export OPENBLAS_CORETYPE=Haswell; fi
fi

field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }

declare -A g_line t_line
echo "# $(date -u +%FT%TZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# steps=$steps threads=$threads OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-}"
for b in $batch_sizes; do
  g_line[$b]=$("$greensed" bench step --batch-size "$b" --steps "$steps" --threads "$threads" \
    | grep '^batch=' | tail -1)
  echo "greensed: ${g_line[$b]}"
  t_line[$b]=$(/usr/bin/python3 scripts/bench_torch_step.py --batch-sizes "$b" --steps "$steps" \
    --threads "$threads" | grep '^batch=' | tail -1)
  echo "pytorch:  ${t_line[$b]}"
done

echo
printf '| %5s | %16s | %16s | %15s | %15s | %8s | %12s | %12s |\n' batch "greensed s/step" \
  "pytorch s/step" "greensed clip/s" "pytorch clip/s" ratio "greensed MB" "pytorch MB"
printf '|%s|\n' "-------|------------------|------------------|-----------------|-----------------|----------|--------------|--------------"
for b in $batch_sizes; do
  gs=$(field median_step_s "${g_line[$b]}"); gc=$(field clips_per_s "${g_line[$b]}")
  ts=$(field median_step_s "${t_line[$b]}"); tcl=$(field clips_per_s "${t_line[$b]}")
  gm=$(field peak_rss_mb "${g_line[$b]}"); tm=$(field peak_rss_mb "${t_line[$b]}")
  ratio=$(awk -v g="$gc" -v t="$tcl" 'BEGIN { if (t > 0) printf "%.2fx", g / t; else print "n/a" }')
  printf '| %5s | %16s | %16s | %15s | %15s | %8s | %12s | %12s |\n' "$b" "$gs" "$ts" "$gc" \
    "$tcl" "$ratio" "$gm" "$tm"
done
