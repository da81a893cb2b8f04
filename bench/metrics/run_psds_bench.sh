#!/usr/bin/env bash
# PSDS1 over 50 operating points for the 1168 DESED validation clips, tables read from disk:
# greensed (bench_metrics, one thread) beside psds_eval and sed_scores_eval on the same files, in
# one run. Needs a Python with psds_eval, sed_scores_eval, sed_eval (see
# scripts/metrics/reference_data.py); pass it as PYTHON=... (default /work/venv-metrics/bin/python).
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-/work/venv-metrics/bin/python}
OUT=${OUT:-build/bench_metrics_data}
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
if [ ! -f "$OUT/gt.tsv" ]; then "$PYTHON" scripts/metrics/reference_data.py bench "$OUT"; fi
echo "== reference libraries (Python, one process)"
taskset -c 0 "$PYTHON" scripts/metrics/reference_data.py bench "$OUT" --time 2>/dev/null | tail -1
echo "== greensed (C++)"
GREENSED_BENCH_METRICS_DATA="$OUT" taskset -c 0 build/bench/metrics/bench_metrics \
  --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
echo "== greensed evaluate, whole process (50 tables, PSDS1 and PSDS2)"
for i in 1 2 3 4 5; do
  /usr/bin/time -f "%e s wall, %U s user" build/greensed --log-level warn evaluate --ground-truth "$OUT/gt.tsv" \
    --durations "$OUT/durations.tsv" --detections "$OUT"/detections/*.tsv >/dev/null
done
