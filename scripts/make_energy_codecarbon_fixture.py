#!/usr/bin/python3
"""Feeds CodeCarbon 2.3.4's own IntelRAPL reader a scripted fake powercap tree and records what it
reports, for tests/energy/test_codecarbon_equivalence.cpp (spec energy.md §7.13 row
"CodeCarbon-equivalence"). Nothing from CodeCarbon is vendored: only its numbers are kept.

Run with a Python that has codecarbon==2.3.4, e.g.
  /usr/bin/python3 -m venv --system-site-packages /work/venv-energy
  /work/venv-energy/bin/pip install codecarbon==2.3.4
  /work/venv-energy/bin/python scripts/make_energy_codecarbon_fixture.py tests/data/energy/codecarbon_2_3_4_rapl.json
"""
import json
import os
import sys
import tempfile

import codecarbon
from codecarbon.core.cpu import IntelRAPL
from codecarbon.core.units import Time

RANGE = 262143328850
# Raw energy_uj per tick (tick 0 = start). package-0 wraps between ticks 4 and 5.
PKG0 = [RANGE - 300_000_000 + i * 67_000_000 for i in range(10)]
PKG0 = [v % RANGE for v in PKG0]
PKG1 = [1_000_000 + i * 41_500_123 for i in range(10)]
DRAM = [5_000 + i * 7_000_001 for i in range(10)]
PSYS = [9_000 + i * 150_000_000 for i in range(10)]


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def main(out):
    assert codecarbon.__version__ == "2.3.4", codecarbon.__version__
    with tempfile.TemporaryDirectory() as root:
        base = os.path.join(root, "intel-rapl")
        zones = {"intel-rapl:0": ("package-0", PKG0), "intel-rapl:0/intel-rapl:0:0": ("dram", DRAM),
                 "intel-rapl:1": ("package-1", PKG1), "intel-rapl:2": ("psys", PSYS)}
        for rel, (name, seq) in zones.items():
            write(os.path.join(base, rel, "name"), name + "\n")
            write(os.path.join(base, rel, "max_energy_range_uj"), f"{RANGE}\n")
            write(os.path.join(base, rel, "energy_uj"), f"{seq[0]}\n")
        rapl = IntelRAPL(rapl_dir=base)
        rapl.start()
        total = 0.0
        for i in range(1, 10):
            for rel, (name, seq) in zones.items():
                write(os.path.join(base, rel, "energy_uj"), f"{seq[i]}\n")
            details = rapl.get_cpu_details(Time.from_seconds(1.0))
            total += sum(v for k, v in details.items() if k.startswith("Processor Energy Delta"))
    json.dump({"codecarbon_version": codecarbon.__version__, "range_uj": RANGE,
               "package-0": PKG0, "package-1": PKG1, "dram": DRAM, "psys": PSYS,
               "cpu_energy_kWh": total}, open(out, "w"), indent=1)
    print(f"codecarbon 2.3.4 cpu_energy = {total!r} kWh -> {out}")


if __name__ == "__main__":
    main(sys.argv[1])
