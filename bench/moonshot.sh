#!/bin/sh
# The moonshot of issue 3: exact dCor of n = 1,000,000 samples, p = q = 64,
# on this machine's cores with peak RSS under 1 GB. The data (x, standard
# normal; y = tanh(x·W/8) + 0.5·e, see bench/genarrow) is written as two
# .npy files of 512 MB each, and read under a memory budget: the .npy reader
# maps the files and releases their pages as it goes, and -mem holds a panel
# of rows that fits the budget while the rest streams past it. Prints the
# wall time, the peak RSS (/usr/bin/time -v) and the JSON result. Needs
# about 3.1 GB of disk in DIR (default: a temporary directory, removed).
#
#	bench/moonshot.sh [N] [WORKERS] [MEM] [DIR] [PRECISION]
#
# PRECISION is float64 (the default) or float32 (-precision float32: the
# Gram inner products in float32; 1.5 times as fast at p = 64).
#
# The run takes n²/2 · 2(p+q) flops: at n = 10^6, on two cores of the
# development machine (AMD EPYC, 116 GFLOP/s float64 FMA peak), 28 minutes
# in float64 (66% of the peak) and 18 in float32 (see BENCHMARKS.md); one
# worker takes twice that. A smaller N checks the script.
set -eu
n=${1:-1000000}
workers=${2:-2}
mem=${3:-512MiB}
dir=${4:-}
prec=${5:-float64}
cd "$(dirname "$0")/.."
if [ -z "$dir" ]; then
	dir=$(mktemp -d)
	trap 'rm -rf "$dir"' EXIT
fi
go build -o "$dir/dcor-stream" ./cmd/dcor-stream
[ -f "$dir/x.npy" ] || go run ./bench/genarrow -n "$n" -p 64 -q 64 -npy -o "$dir" >/dev/null
rm -f "$dir/xy.arrow" "$dir/x.f64" "$dir/y.f64"
ls -l "$dir/x.npy" "$dir/y.npy"
/usr/bin/time -v "$dir/dcor-stream" -format json -progress -workers "$workers" -mem "$mem" -precision "$prec" \
	-x "$dir/x.npy" -y "$dir/y.npy" >"$dir/moonshot.json" 2>"$dir/moonshot.err" || {
	cat "$dir/moonshot.err"
	exit 1
}
grep '^dcor-stream: out of core' "$dir/moonshot.err" || true
printf 'n = %s, %s workers, -mem %s, %s: wall %s, peak RSS %s kB\n' "$n" "$workers" "$mem" "$prec" \
	"$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$dir/moonshot.err")" \
	"$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$dir/moonshot.err")"
cat "$dir/moonshot.json"
