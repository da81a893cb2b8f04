#!/usr/bin/env bash
# Measures the energy meter's own CPU cost at the default 1 s interval: runs `greensed energy --
# sleep SECONDS` N times and prints the sampler thread's CPU seconds as a percentage of one core
# (read from energy_meta.json "overhead"), then the median. Usage: scripts/energy_overhead.sh [S] [N]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
runs=${2:-3}
out=$(mktemp -d)
for i in $(seq "$runs"); do
  build/greensed energy --out "$out/$i" -- sleep "$seconds" 2>/dev/null
  grep -A3 '"overhead"' "$out/$i/energy_meta.json" | grep percent_of_one_core | tr -d ' ,' |
    cut -d: -f2
done | sort -g | awk '{v[NR]=$1; print "run: " $1 " % of one core"} END {print "median: " v[int((NR+1)/2)] " %"}'
rm -rf "$out"
