#!/usr/bin/env bash
# Times one training epoch at DESED scale, phase by phase, from the run's epochs.csv: the train
# phase (and seconds per step), the validation phase (student and teacher on the synthetic and
# weak validation clips) and the whole epoch. With --make-data it first generates the dataset
# (`greensed synth`) and its features (`greensed features`) if they are missing, and times those
# one-time costs too (wall, user, sys, clips/s).
#
# Usage: scripts/bench_epoch.sh [--config configs/desed_synth.yaml] [--epochs 1] [--threads T]
#        [--run-dir DIR] [--make-data] [--greensed PATH]
# The default config is the generator at DESED's five set sizes (29,658 clips, ~19 GB with the
# features); configs/demo.yaml gives a quick check of the script itself.
set -euo pipefail
cd "$(dirname "$0")/.."
config=configs/desed_synth.yaml
epochs=1
threads=""
run_dir=""
make_data=0
greensed=build/greensed
while [ $# -gt 0 ]; do
  case "$1" in
    --config) config="$2"; shift 2 ;;
    --epochs) epochs="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --run-dir) run_dir="$2"; shift 2 ;;
    --make-data) make_data=1; shift ;;
    --greensed) greensed="$2"; shift 2 ;;
    *) echo "bench_epoch.sh: unknown option '$1' (see the header of $0)" >&2; exit 2 ;;
  esac
done
if [ ! -x "$greensed" ]; then
  echo "bench_epoch.sh: $greensed not found; build first (bash scripts/test.sh)" >&2
  exit 2
fi
[ -n "$run_dir" ] || run_dir="runs/bench_epoch_$(basename "$config" .yaml)_$(date -u +%Y%m%dT%H%M%SZ)"
thread_set=()
[ -n "$threads" ] && thread_set=(--set "run.threads=$threads")

# One key of the resolved config (`greensed config` prints the YAML fully resolved).
key() { "$greensed" config --config "$config" | sed -n "s/^  $1: *//p" | head -1 | tr -d '"'; }
n_clips=$(( $(key n_synth_train) + $(key n_synth_val) + $(key n_weak) + $(key n_unlabeled) + $(key n_test) ))

timed() {  # label, clips (0: none), command...: runs it under /usr/bin/time; wall/user/sys/(clips/s)
  local label=$1 clips=$2; shift 2
  local log; log=$(mktemp)
  /usr/bin/time -f '%e %U %S %M' -o "$log" "$@"
  read -r wall user sys rss_kb <"$log"; rm -f "$log"
  awk -v l="$label" -v w="$wall" -v u="$user" -v s="$sys" -v n="$clips" -v r="$rss_kb" \
    -v c="$(nproc)" 'BEGIN {
      rate = ""
      if (n > 0) rate = sprintf("  %.1f clips/s", n / w)
      printf "%-9s wall %8.1f s  user %8.1f s  sys %7.1f s%s  (%.0f%% of %d cores busy, peak RSS %.0f MB)\n",
        l, w, u, s, rate, 100 * (u + s) / (c * w), c, r / 1024 }'
}

echo "# $(date -u +%FT%TZ) $config ($n_clips clips), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
synth_tsv=$(key synth_tsv)
cache_dir=$(key cache_dir)
if [ ! -f "$synth_tsv" ]; then
  if [ "$make_data" = 0 ]; then
    echo "bench_epoch.sh: $synth_tsv not found; generate the data first (--make-data, or" \
      "$greensed synth --config $config && $greensed features --config $config)" >&2
    exit 2
  fi
  timed synth "$n_clips" "$greensed" synth --config "$config"
fi
if [ ! -d "$cache_dir" ] || [ -z "$(ls -A "$cache_dir" 2>/dev/null)" ]; then
  if [ "$make_data" = 0 ]; then
    echo "bench_epoch.sh: feature cache $cache_dir is empty; run" \
      "$greensed features --config $config (or pass --make-data)" >&2
    exit 2
  fi
  timed features "$n_clips" "$greensed" features --config "$config" "${thread_set[@]}"
fi

timed train 0 "$greensed" train --config "$config" --run-dir "$run_dir" \
  --set "training.n_epochs=$epochs" "${thread_set[@]}"

csv="$run_dir/epochs.csv"
if [ ! -f "$csv" ]; then
  echo "bench_epoch.sh: $csv not written; the training did not finish an epoch" >&2
  exit 1
fi
echo
echo "| epoch | steps | train s | s/step | validation s | epoch wall s | loss_total |"
echo "|------:|------:|--------:|-------:|-------------:|-------------:|-----------:|"
awk -F, '
  NR == 1 { for (i = 1; i <= NF; ++i) col[$i] = i; next }
  {
    steps = $col["step"] - prev; prev = $col["step"]
    per_step = 0
    if (steps > 0) per_step = $col["train_s"] / steps
    printf "| %5d | %5d | %7.1f | %6.3f | %12.1f | %12.1f | %10.4f |\n", $col["epoch"], steps,
      $col["train_s"], per_step, $col["val_s"], $col["wall_s"], $col["loss_total"]
  }' "$csv"
