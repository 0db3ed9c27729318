#!/bin/bash
# Submits a sharded dcor-stream run to Slurm: an array of N shard tasks
# (shards.sbatch) and the merge (merge.sbatch) that starts when all have
# succeeded, and prints "SHARDS_JOB MERGE_JOB". The result is
# RUN_DIR/result.json; the logs are RUN_DIR/*.out.
#
#   deploy/slurm/submit.sh RUN_DIR N DCOR-STREAM-ARGS...
#   deploy/slurm/submit.sh /shared/run1 16 -x model_a -y model_b /shared/acts.arrow
#
# RUN_DIR and the input must be on a file system every node sees. DCOR
# names the binary (default: dcor-stream on the PATH); DCOR_SBATCH_OPTS adds
# sbatch options to both jobs (--partition=…, --account=…) and
# DCOR_SHARD_OPTS to the shards only (--cpus-per-task=4 --mem=8G overrides
# the defaults in shards.sbatch).
#
# If some shards failed (the merge is then cancelled), resubmit only those
# into the same RUN_DIR, with the same N and arguments:
#   DCOR_SHARD_OPTS=--array=3,7 deploy/slurm/submit.sh /shared/run1 16 …
# the others' states are kept, and the merge runs again. Tested by
# test-local.sh.
set -euo pipefail
if [ $# -lt 3 ]; then
	sed -n '2,21p' "$0" >&2
	exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
run=$1 n=$2
shift 2
case $n in '' | *[!0-9]* | 0) echo "submit.sh: N must be a positive integer, not '$n'" >&2; exit 2 ;; esac
mkdir -p "$run"
run=$(cd "$run" && pwd)
dcor=${DCOR:-dcor-stream}
read -r -a common <<<"${DCOR_SBATCH_OPTS:-}"
read -r -a shardopts <<<"${DCOR_SHARD_OPTS:-}"
export DCOR_RUN=$run DCOR_SHARDS=$n DCOR=$dcor
# DCOR_SHARD_OPTS last, so that its --array wins.
shards=$(sbatch --parsable "${common[@]}" --array="0-$((n - 1))" --output="$run/shard-%a.out" \
	"${shardopts[@]}" --export=ALL "$here/shards.sbatch" "$@")
shards=${shards%%;*}
merge=$(sbatch --parsable "${common[@]}" --dependency="afterok:$shards" --kill-on-invalid-dep=yes \
	--output="$run/merge.out" --export=ALL "$here/merge.sbatch")
merge=${merge%%;*}
echo "$shards $merge"
