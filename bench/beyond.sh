#!/usr/bin/env bash
# Beyond n² (issue 12): the -budget choice, the block estimator's error
# against the exact value and its coverage, its memory from standard
# input, the univariate path's and the block estimator's rates for the
# n = 10⁸ extrapolations, and random projections against blocks at equal
# CPU. Figures in BENCHMARKS.md ("Beyond n²").
#
#   bench/beyond.sh [budget|study|stdin|rp|all]
#
# Needs /usr/bin/time (apt-get install time). About 20 CPU minutes for
# "all"; n = 10⁸ itself is not run (see BENCHMARKS.md for why): the rates
# per sample at n = 10⁶–10⁷ are measured and extrapolated.
set -euo pipefail
what=${1:-all}
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go build -o "$dir/dcor-stream" ./cmd/dcor-stream
go build -o "$dir/genstream" ./bench/genstream
t() { /usr/bin/time -f "  %e s wall, %U s user, %S s sys, peak RSS %M KB" "$@"; }

if [[ $what == budget || $what == all ]]; then
	for n in 4000 200000; do
		echo "== -budget 10s, n = $n, p = q = 8 (the file read first, not counted)"
		mkdir -p "$dir/n$n"
		go run ./bench/genarrow -n "$n" -p 8 -q 8 -o "$dir/n$n" >/dev/null
		t "$dir/dcor-stream" -quiet -budget 10s -x x -y y "$dir/n$n/xy.arrow" | grep -E 'BUDGET|bcdcor'
	done
fi
if [[ $what == study || $what == all ]]; then
	echo "== the block estimate against the exact value, 100 shuffle seeds (n = 200,000, p = q = 8, B = 4,000)"
	t go run ./bench/blockstudy -n 200000 -p 8 -q 8 -block 4000 -seeds 100
	echo "== coverage of the population value 0, 100 independent data sets (x, y independent)"
	t go run ./bench/blockstudy -n 200000 -p 8 -q 8 -block 4000 -seeds 100 -vary data -indep
fi
if [[ $what == stdin || $what == all ]]; then
	echo "== at rest: dcor-stream -h"
	t "$dir/dcor-stream" -h 2>&1 | tail -1
	for n in 100000 1000000; do
		echo "== blocks from standard input, B = 4,000, p = q = 64, n = $n"
		"$dir/genstream" -n "$n" -p 64 -q 64 | t "$dir/dcor-stream" -quiet -format json -estimator blocks -block 4000 -x x -y y -
	done
	for n in 1000000 10000000; do
		echo "== the exact univariate path from standard input, n = $n"
		"$dir/genstream" -n "$n" -p 1 -q 1 | t "$dir/dcor-stream" -quiet -format json -x x -y y - | cut -c1-120
	done
fi
if [[ $what == rp || $what == all ]]; then
	for a in 1 0.1 0; do
		echo "== random projections against blocks at equal CPU, signal $a"
		go run ./bench/rpstudy -n 100000 -p 8 -q 8 -signal "$a" -projections 16 -reps 5
	done
fi
