#!/usr/bin/env bash
# Batch-size sweep: runs the grid of sweep.yaml (here, one run at a time and resumable; or on Slurm
# with BACKEND=slurm) and writes Table 1, Table 2 and the plots of the study.
#   recipes/batch_size_sweep/run.sh [SWEEP_YAML] [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
sweep=${1:-recipes/batch_size_sweep/sweep.yaml}
out=${2:-runs/batch_size_sweep}
backend=${BACKEND:-local}
g=build/greensed
[ -x $g ] || bash scripts/setup.sh
base=$(awk '/^base_config:/ {print $2}' "$sweep")
if [ "$base" = configs/demo.yaml ]; then $g synth --config "$base"; fi
$g features --config "$base"
$g sweep --config "$sweep" --out "$out" --backend "$backend"
if [ "$backend" = local ]; then $g report "$out" --out "$out/report"; fi
