#!/usr/bin/python3
"""Put two learning curves side by side: a greensed run's epochs.csv and the PyTorch reference's
(scripts/torch_train_reference.py), trained with the same config on the same cached features.

Usage:
  scripts/compare_learning_curves.py runs/demo30/epochs.csv runs/torch_reference/epochs.csv
Prints a markdown table (synthetic-validation intersection F1 of teacher and student per epoch,
greensed's cumulative kWh) and, for each curve, the untrained model's F1 (epoch 0, where the file
has it), epoch 1, the best epoch, and the mean and range over the last five epochs. Standard library
only.
"""
import argparse
import csv
import sys


def read_curve(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit(f"{path}: no epoch rows")
    for column in ("epoch", "val_synth_f1_teacher", "val_synth_f1_student"):
        if column not in rows[0]:
            sys.exit(f"{path}:1: missing column '{column}' (expected an epochs.csv from greensed train "
                     "or scripts/torch_train_reference.py)")
    return {int(r["epoch"]): r for r in rows}


def number(row, column):
    value = row.get(column) if row else None
    return float(value) if value not in (None, "", "nan") else None


def cell(value, digits=3):
    return "" if value is None else f"{value:.{digits}f}"


def summary(name, curve, column):
    values = [(e, number(curve[e], column)) for e in sorted(curve)]
    trained = [(e, v) for e, v in values if v is not None and e > 0]
    if not trained:
        return f"| {name} | {column.rsplit('_', 1)[1]} | | | | | |"
    best_epoch, best = max(trained, key=lambda ev: (ev[1], -ev[0]))
    tail = [v for _, v in trained[-5:]]
    return (f"| {name} | {column.rsplit('_', 1)[1]} | {cell(number(curve.get(0), column))} | {trained[0][1]:.3f} | "
            f"{best:.3f} (epoch {best_epoch}) | {sum(tail) / len(tail):.3f} | {min(tail):.3f}–{max(tail):.3f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("greensed_csv")
    ap.add_argument("torch_csv")
    args = ap.parse_args()
    ours, ref = read_curve(args.greensed_csv), read_curve(args.torch_csv)

    print("| epoch | greensed teacher | PyTorch teacher | greensed student | PyTorch student | greensed cumulative kWh |")
    print("|---|---|---|---|---|---|")
    for e in sorted(set(ours) | set(ref)):
        a, b = ours.get(e), ref.get(e)
        print(f"| {e} | {cell(number(a, 'val_synth_f1_teacher'))} | {cell(number(b, 'val_synth_f1_teacher'))} | "
              f"{cell(number(a, 'val_synth_f1_student'))} | {cell(number(b, 'val_synth_f1_student'))} | "
              f"{cell(number(a, 'kwh_cumulative'), 6)} |")
    print()
    print("| curve | model | untrained (epoch 0) | epoch 1 | best | mean of last 5 | range of last 5 |")
    print("|---|---|---|---|---|---|---|")
    for name, curve in (("greensed", ours), ("PyTorch", ref)):
        for column in ("val_synth_f1_teacher", "val_synth_f1_student"):
            print(summary(name, curve, column))


if __name__ == "__main__":
    main()
