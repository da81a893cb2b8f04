#!/usr/bin/env bash
# DCASE energy normalisation: train the baseline for exactly 10 epochs on this machine and compute
# factor = reference kWh (10 baseline epochs on the organisers' A100) / measured kWh.
#   recipes/normalization/run.sh [CONFIG] [extra greensed normalize options]
# CONFIG defaults to the embedded demo data; for the real factor pass a config whose data section
# points at DESED (e.g. configs/default.yaml after editing its paths).
set -euo pipefail
cd "$(dirname "$0")/../.."
cfg=${1:-configs/demo.yaml}
shift || true
g=build/greensed
[ -x $g ] || bash scripts/setup.sh
if [ "$cfg" = configs/demo.yaml ]; then $g synth --config "$cfg"; fi
$g features --config "$cfg"
$g normalize --config "$cfg" "$@"
