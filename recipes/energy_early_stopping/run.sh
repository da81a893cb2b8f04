#!/usr/bin/env bash
# Energy-aware early stopping: train once without stopping, then replay stopping policies on its
# epochs.csv (energy saved, F1 lost); and train once with a live energy budget.
#   recipes/energy_early_stopping/run.sh [CONFIG]
set -euo pipefail
cd "$(dirname "$0")/../.."
cfg=${1:-configs/demo.yaml}
g=build/greensed
[ -x $g ] || bash scripts/setup.sh
if [ "$cfg" = configs/demo.yaml ]; then $g synth --config "$cfg"; fi
$g features --config "$cfg"
$g train --config "$cfg" --run-dir runs/early_stopping/full --resume
$g report runs/early_stopping/full --out runs/early_stopping/replay \
  --replay patience=3 target_f1=0.4 min_f1_gain_per_kwh=100,gain_window=2 \
           min_relative_improvement=0.02,gain_window=2
# A live run that never starts an epoch predicted to cross half the full run's energy.
budget=$(awk -F, 'NR > 1 {k = $0} END {split(k, f, ","); print f[26] / 2}' runs/early_stopping/full/epochs.csv)
$g train --config "$cfg" --run-dir runs/early_stopping/budget --resume --set stopping.energy_budget_kwh="$budget"
