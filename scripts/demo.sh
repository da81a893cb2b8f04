#!/usr/bin/env bash
# The README's first command: set-up on a fresh Debian machine, then the main job on the embedded
# default (configs/demo.yaml): generate the DESED-style dataset, cache its features, train the
# baseline for 10 epochs with per-epoch energy, and report kWh, the normalisation factor and F1.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
bash scripts/setup.sh
t1=$(date +%s)
g=build/greensed
cfg=configs/demo.yaml
$g synth --config $cfg
$g features --config $cfg
t2=$(date +%s)
rm -rf runs/demo
$g train --config $cfg --run-dir runs/demo
t3=$(date +%s)
echo
$g normalize --from-run runs/demo
$g report runs/demo --out runs/demo/report --replay patience=3 target_f1=0.4 \
  min_f1_gain_per_kwh=100,gain_window=2 >/dev/null
cat <<MSG

[demo] best epoch and devtest scores: runs/demo/summary.json
[demo] per-epoch losses, F1 and kWh:  runs/demo/epochs.csv
[demo] CodeCarbon-layout energy:      runs/demo/emissions.csv, runs/demo/energy_meta.json
[demo] tables, plots, policy replay:  runs/demo/report/report.md (+ .svg)
[demo] timings: set-up $((t1 - t0)) s, data + features $((t2 - t1)) s, training $((t3 - t2)) s, total $(( $(date +%s) - t0 )) s
MSG
