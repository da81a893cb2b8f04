#!/usr/bin/env bash
# Starts or stops a single-node Slurm cluster on this machine (Debian's slurm-wlm and munge), for
# the Slurm sweep test and for trying `greensed sweep --backend slurm` without a real cluster.
#   scripts/slurm_local_cluster.sh start   # prints `export SLURM_CONF=...`; waits until the node is idle
#   scripts/slurm_local_cluster.sh stop
# Needs root (munged and slurmd run as root here). State lives in $GREENSED_SLURM_DIR
# (default /tmp/greensed-slurm).
set -euo pipefail
dir=${GREENSED_SLURM_DIR:-/tmp/greensed-slurm}
conf=$dir/slurm.conf
host=$(hostname -s)

stop() {
  for pidfile in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munged.pid"; do
    if [ -f "$pidfile" ]; then kill "$(cat "$pidfile")" 2>/dev/null || true; rm -f "$pidfile"; fi
  done
}

case "${1:-}" in
  stop) stop; exit 0 ;;
  start) ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac

for tool in munged slurmctld slurmd sbatch sinfo; do
  command -v "$tool" >/dev/null || { echo "$tool not found: apt-get install slurm-wlm munge" >&2; exit 2; }
done
stop
mkdir -p "$dir/spool" "$dir/state" "$dir/munge"
chmod 700 "$dir/munge"
if [ ! -s "$dir/munge/munge.key" ]; then
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$dir/munge/munge.key"
fi
mkdir -p /run/munge
if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  # A munged already answers on the default socket (e.g. started by the package on a machine with
  # an init system): Slurm on this one node authenticates through it.
  echo "[slurm] using the munged already running" >&2
else
  munged --force --key-file="$dir/munge/munge.key" --socket=/run/munge/munge.socket.2 \
    --pid-file="$dir/munged.pid" --log-file="$dir/munged.log" --seed-file="$dir/munge/munge.seed"
fi

mem_mb=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
cat > "$conf" <<CONF
ClusterName=greensed
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
ReturnToService=2
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
NodeName=$host CPUs=$(nproc) RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$conf
slurmctld -f "$conf"
slurmd -f "$conf"
for _ in $(seq 1 60); do
  if sinfo -h -o %T 2>/dev/null | grep -q idle; then
    echo "export SLURM_CONF=$conf"
    exit 0
  fi
  sleep 1
done
echo "the Slurm node did not become idle in 60 s; see $dir/slurmctld.log and $dir/slurmd.log" >&2
sinfo >&2 || true
exit 1
