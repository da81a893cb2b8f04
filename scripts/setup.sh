#!/usr/bin/env bash
# Installs every Debian package greensed needs (idempotent, non-interactive) and builds the Release
# binary build/greensed. Options:
#   --python     also install Debian's python3-numpy and python3-torch (only the fixture and
#                comparison scripts under scripts/ need them; the product and the tests do not:
#                the tests use python3's standard library only)
#   --portable   build for any x86-64-v2 CPU instead of this machine's vector units
#   --no-build   install packages only
#   --slurm      also install Debian's slurm-wlm and munge, for the one-node cluster of
#                scripts/slurm_local_cluster.sh and the Slurm sweep test (CI uses it)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake ninja-build pkg-config git
  libopenblas-dev libfftw3-dev libsndfile1-dev libsoxr-dev libeigen3-dev
  libyaml-cpp-dev libspdlog-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev clang-format
  python3)  # the standard library only: the per-epoch windows test runs a python3 script
build=1
cmake_flags=()
for arg in "$@"; do
  case "$arg" in
    --python) packages+=(python3 python3-numpy python3-torch) ;;
    --portable) cmake_flags+=(-DGREENSED_PORTABLE=ON) ;;
    --no-build) build=0 ;;
    --slurm) packages+=(slurm-wlm munge) ;;
    *) echo "setup.sh: unknown option '$arg' (use --python, --portable, --no-build, --slurm)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "[setup] installing: ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "[setup] all Debian packages present"
fi

if ((build)); then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "${cmake_flags[@]}" >/dev/null
  cmake --build build -j "$(nproc)"
  echo "[setup] built build/greensed"
fi
