#!/usr/bin/env bash
# End-to-end test of the shipped Slurm files (submit.sh, shards.sbatch,
# merge.sbatch): stands up a one-node Slurm cluster on this machine (munged,
# slurmctld and slurmd from Debian's packages, on 127.0.0.1 only, installed
# here if missing), builds a static dcor-stream, runs sharded jobs on the
# example data in testdata/ and checks that each merged result is the
# one-process result to the bit (the JSON, byte for byte); then tears the
# cluster down. Also checked: a merge with a shard missing refuses, and
# resubmitting that shard alone completes the run; failed shards cancel
# their merge; a task requeued while it runs resumes from its checkpoint.
#
#   deploy/slurm/test-local.sh            (as root; CI runs it)
#
# Everything it starts lives in $DCOR_SLURM_WORK (default
# /tmp/dcor-slurm-test): its own munge key and socket, slurm.conf, spool,
# logs and pid files; /etc is not touched and the daemons listen on ports
# 16817/16818 (DCOR_SLURM_PORT, DCOR_SLURM_PORT+1), so a real Slurm or munge
# on the machine is left alone. A rerun first stops what a killed run left
# (by its pid files). Every wait has a time limit; KEEP=1 keeps the folder.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=${DCOR_SLURM_WORK:-/tmp/dcor-slurm-test}
port=${DCOR_SLURM_PORT:-16817}
t0=$(date +%s)

say() { printf '[slurm-test %3ds] %s\n' $(($(date +%s) - t0)) "$*"; }
die() {
	say "FAIL: $*"
	for f in "$work"/*.log "$work"/run-*/*.out; do
		[ -f "$f" ] && { echo "--- $f"; tail -n 30 "$f"; }
	done
	exit 1
}

if [ "$(id -u)" != 0 ]; then
	echo "test-local.sh: run as root (it installs Debian packages and starts slurmd)" >&2
	exit 1
fi

# 1. Packages, installed only if missing.
need=()
for p in munged:munge mungekey:munge slurmctld:slurmctld slurmd:slurmd sbatch:slurm-client; do
	command -v "${p%%:*}" >/dev/null || need+=("${p#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
	say "installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	inst() { timeout 240 apt-get install -y -q --no-install-recommends "$@" >"$work.apt.log" 2>&1; }
	inst $(printf '%s\n' "${need[@]}" | sort -u) || {
		timeout 120 apt-get update -q >"$work.apt.log" 2>&1 || true
		inst $(printf '%s\n' "${need[@]}" | sort -u) || { tail -20 "$work.apt.log"; die "apt-get install failed"; }
	}
fi

# 2. Stop what an earlier run left, by its pid files, and start clean.
stop_daemons() {
	local name pid i
	for name in slurmd slurmctld munged; do
		[ -f "$work/$name.pid" ] || continue
		pid=$(cat "$work/$name.pid" 2>/dev/null) || continue
		# Only our own daemon: its command line names our folder.
		if [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$work"; then
			kill "$pid" 2>/dev/null || true
			for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
			kill -9 "$pid" 2>/dev/null || true
		fi
		rm -f "$work/$name.pid"
	done
}
teardown() {
	local rc=$?
	if [ -f "$work/slurm.conf" ] && [ -f "$work/slurmctld.pid" ]; then
		timeout 10 scancel --quiet --user=root >/dev/null 2>&1 || true
		for i in $(seq 50); do
			[ -z "$(timeout 5 squeue -h 2>/dev/null)" ] && break
			sleep 0.2
		done
	fi
	stop_daemons
	if [ "${KEEP:-0}" = 1 ] || [ $rc != 0 ]; then
		say "kept $work"
	else
		rm -rf "$work"
	fi
	say "cluster stopped; exit $rc"
}
stop_daemons
rm -rf "$work"
mkdir -p "$work"/{ctld,spool,bin}
trap teardown EXIT
# A timeout's or ^C's signal ends the script through the EXIT trap too.
trap 'exit 143' TERM
trap 'exit 130' INT

# 3. The binary the jobs run: static, as the container recipe builds it.
say "building a static dcor-stream"
(cd "$repo" && CGO_ENABLED=0 timeout 300 go build -trimpath -o "$work/bin/dcor-stream" ./cmd/dcor-stream)
if command -v file >/dev/null; then file "$work/bin/dcor-stream" | grep -q 'statically linked' || die "not a static binary: $(file "$work/bin/dcor-stream")"; fi
ldd "$work/bin/dcor-stream" >/dev/null 2>&1 && die "ldd finds dynamic libraries in the binary"
dcor=$work/bin/dcor-stream

# 4. munge with its own key and socket.
say "starting munged, slurmctld, slurmd"
mungekey --create --keyfile="$work/munge.key" --force >/dev/null 2>&1 ||
	dd if=/dev/urandom of="$work/munge.key" bs=1 count=1024 status=none
chmod 600 "$work/munge.key"
# --force: munged refuses to run as root without it.
munged --force --key-file="$work/munge.key" --socket="$work/munge.sock" \
	--pid-file="$work/munged.pid" --log-file="$work/munged.log" --seed-file="$work/munged.seed" ||
	die "munged did not start"

# 5. slurm.conf: one node, this machine, root runs everything.
host=$(hostname -s)
cpus=$(nproc)
mem=$(awk '/MemTotal/ { printf "%d", $2 / 1024 * 0.8 }' /proc/meminfo)
cat >"$work/slurm.conf" <<CONF
ClusterName=dcortest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# cred_expire: how long a requeued job waits before it may start again
# (default 120 s); short here so the requeue test stays quick.
AuthInfo=socket=$work/munge.sock,cred_expire=10
CredType=cred/munge
StateSaveLocation=$work/ctld
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
# Look at pending jobs every 2 s (defaults: 60 s and 30 s), so that a
# requeued task starts as soon as it may.
SchedulerParameters=sched_interval=2,bf_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MinJobAge=600
KillWait=5
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$work/slurm.conf
slurmctld -f "$work/slurm.conf" || die "slurmctld did not start"
slurmd -f "$work/slurm.conf" || die "slurmd did not start"

# wait_for SECONDS WHAT COMMAND...: poll COMMAND until it succeeds.
wait_for() {
	local limit=$1 what=$2 end=$(($(date +%s) + $1))
	shift 2
	until "$@"; do
		[ "$(date +%s)" -lt "$end" ] || die "timed out after ${limit}s waiting for $what"
		sleep 0.5
	done
}
node_idle() { timeout 5 sinfo -h -N -o '%t' 2>/dev/null | grep -qx 'idle'; }
wait_for 60 "the node to be idle" node_idle
say "cluster up: $(timeout 5 sinfo -h -N -o '%N %t %c CPUs')"

# 6. The runs: name, shard count, the dcor-stream arguments (one place).
# The matrix mode has no -shard yet; add a case here when it does.
data=$repo/testdata/activations.arrow
cases=(
	"pair|4|-tile 128 -x model_a -y model_b $data"
	"partial|3|-tile 128 -x model_b -y label -z model_a $data"
)
# Submit every case through the shipped submit.sh, then wait for all. The
# pair case first leaves its last shard out (as if it had failed): its merge
# must refuse, and resubmitting that one task must complete the run.
opts="--cpus-per-task=1 --mem=256M"
submit() { # submit NAME N EXTRA-SHARD-OPTS ARGS...
	local name=$1 n=$2 extra=$3 ids
	shift 3
	ids=$(DCOR=$dcor DCOR_SHARD_OPTS="$opts $extra" DCOR_SBATCH_OPTS="--time=5" \
		timeout 30 "$here/submit.sh" "$work/run-$name" "$n" "$@") || die "submit.sh failed for $name"
	merge_job[$name]=${ids#* }
	say "$name: submitted shards job ${ids% *} (N = $n${extra:+, $extra}) and merge job ${ids#* }"
}
declare -A merge_job
for c in "${cases[@]}"; do
	IFS='|' read -r name n args <<<"$c"
	read -r -a argv <<<"$args"
	extra=
	[ "$name" = pair ] && extra=--array=0-$((n - 2))
	submit "$name" "$n" "$extra" "${argv[@]}"
done
# And a run whose shards all fail (no such input): its merge must be
# cancelled (--kill-on-invalid-dep), not left pending for ever.
submit broken 2 "" -x model_a -y model_b "$work/no-such-input.arrow"
queue_empty() { [ -z "$(timeout 5 squeue -h -o %i 2>/dev/null)" ]; }
wait_for 150 "the jobs to finish" queue_empty
run=$work/run-broken
[ -e "$run/merge.out" ] && die "broken: the merge ran after failed shards"
grep -q 'no-such-input.arrow' "$run/shard-0.out" || die "broken: the shard's log does not name the missing input"
say "broken: shards failed ($(head -1 "$run/shard-0.out")); merge job cancelled"
run=$work/run-pair
[ -e "$run/result.json" ] && die "pair: merged with shard 3 missing"
grep -q 'missing shards \[3\] of 4' "$run/merge.out" || die "pair: the merge did not refuse the missing shard"
say "pair: without shard 3 the merge refused: $(cat "$run/merge.out")"
IFS='|' read -r name n args <<<"${cases[0]}"
read -r -a argv <<<"$args"
submit pair "$n" --array=$((n - 1)) "${argv[@]}"
wait_for 60 "the resubmitted shard and merge" queue_empty
say "all jobs done"

# 7. Each merged result must be the one-process result, byte for byte.
for c in "${cases[@]}"; do
	IFS='|' read -r name n args <<<"$c"
	read -r -a argv <<<"$args"
	run=$work/run-$name
	[ -s "$run/result.json" ] || die "$name: no $run/result.json (merge job: $(timeout 5 scontrol show job "${merge_job[$name]}" 2>/dev/null | grep -o 'JobState=[A-Z_]*' || echo gone))"
	"$dcor" -format json "${argv[@]}" >"$run/single.json"
	cmp -s "$run/result.json" "$run/single.json" || {
		diff "$run/result.json" "$run/single.json" || true
		die "$name: merged result differs from the one-process result"
	}
	ls "$run"/ckpt-*.dcs >/dev/null 2>&1 && die "$name: a checkpoint was left behind"
	say "$name: merged result of $n shards == one process, to the bit: $(cut -c1-90 "$run/result.json")…"
done

# 8. Preemption: a shard requeued by Slurm while it runs resumes from its
# checkpoint (--requeue with -checkpoint), and the merge is still exact.
# 80,000 samples (cmd/gen-activations), 2 shards of about 12 s each.
if [ "${DCOR_SLURM_REQUEUE:-1}" = 1 ]; then
	name=requeue n=2 run=$work/run-requeue
	(cd "$repo" && timeout 120 go run ./cmd/gen-activations -n 80000 -o "$work/big.arrow")
	argv=(-x model_a -y model_b "$work/big.arrow")
	ids=$(DCOR=$dcor DCOR_CHECKPOINT_EVERY=1s DCOR_SHARD_OPTS="--cpus-per-task=1 --mem=1G" DCOR_SBATCH_OPTS="--time=5" \
		timeout 30 "$here/submit.sh" "$run" "$n" "${argv[@]}") || die "submit.sh failed for $name"
	shards=${ids% *}
	say "$name: submitted shards job $shards (N = $n, 80,000 samples) and merge job ${ids#* }"
	wait_for 60 "the first checkpoint of shard 0" test -s "$run/ckpt-0.dcs"
	sleep 1
	timeout 10 scontrol requeue "${shards}_0" || die "scontrol requeue ${shards}_0 failed"
	say "$name: requeued task ${shards}_0 while it ran"
	wait_for 200 "the requeued jobs to finish" queue_empty
	grep -h 'resuming from' "$run/shard-0.out" || die "$name: the requeued shard did not resume from its checkpoint"
	[ -s "$run/result.json" ] || die "$name: no $run/result.json"
	"$dcor" -format json "${argv[@]}" >"$run/single.json"
	cmp -s "$run/result.json" "$run/single.json" || {
		diff "$run/result.json" "$run/single.json" || true
		die "$name: merged result differs from the one-process result"
	}
	say "$name: resumed and merged result == one process, to the bit: $(cut -c1-90 "$run/result.json")…"
fi
say "PASS"
