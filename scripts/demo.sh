#!/usr/bin/env bash
# The README's first command: set-up on a fresh Debian machine, then the main job on the embedded
# default (configs/demo.yaml).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash scripts/setup.sh
g=build/greensed
$g config --config configs/demo.yaml >/dev/null
echo "[demo] configs/demo.yaml is valid"
echo "[demo] done in $(( $(date +%s) - start )) s"
