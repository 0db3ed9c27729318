#!/usr/bin/env bash
# Whole-process dcor-stream throughput as a share of this machine's FMA
# peak, measured in the same run: the peak probe (bench/peak, the loop of
# the kernels' width in float64, on as many cores as workers) runs just
# before and just after each timed run, and the share is against the mean
# of the two.
#
#   bench/peak-share.sh [-workers N] [-precision float64|float32] [n p q]...
#
# Default cases: n = 20000, p = q = 256; n = 10000, p = q = 64;
# n = 6000, p = q = 2048. Flops: the Gram count n(n−1)/2 · 2(p+q). Data
# from go run ./bench/genarrow as .npy (written once per case, outside
# the timed region). Prints one line per case: wall, RSS, GFLOP/s, peak,
# share.
set -euo pipefail
workers=$(nproc); prec=float64
while [[ $# -gt 0 && $1 == -* ]]; do
	case $1 in
	-workers) workers=$2; shift ;;
	-precision) prec=$2; shift ;;
	*) echo "usage: $0 [-workers N] [-precision float64|float32] [n p q]..." >&2; exit 2 ;;
	esac
	shift
done
cases=("$@")
[[ ${#cases[@]} -eq 0 ]] && cases=(20000 256 256 10000 64 64 6000 2048 2048)
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/dcor-stream" ./cmd/dcor-stream
go build -o "$tmp/probe" ./bench/peak/probe
kind=avx512/$prec
"$tmp/probe" -kind "$kind" -cores 1 -d 10ms >/dev/null 2>&1 || kind=avx2/$prec
echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores; peak loop $kind on $workers cores; -workers $workers -precision $prec"
printf '%-26s %9s %9s %9s %9s %7s\n' case wall_s rss_MB GFLOP/s peak share
for ((c = 0; c < ${#cases[@]}; c += 3)); do
	n=${cases[c]}; p=${cases[c+1]}; q=${cases[c+2]}
	d="$tmp/d$n.$p.$q"; mkdir -p "$d"
	go run ./bench/genarrow -n "$n" -p "$p" -q "$q" -npy -o "$d" >/dev/null
	rm -f "$d"/*.f64 "$d"/xy.arrow
	p0=$("$tmp/probe" -kind "$kind" -cores "$workers")
	/usr/bin/time -f '%e %M' -o "$d/time" "$tmp/dcor-stream" -format json -quiet -workers "$workers" -precision "$prec" -x "$d/x.npy" -y "$d/y.npy" >"$d/out.json"
	p1=$("$tmp/probe" -kind "$kind" -cores "$workers")
	read -r wall rss <"$d/time"
	awk -v n="$n" -v p="$p" -v q="$q" -v wall="$wall" -v rss="$rss" -v p0="$p0" -v p1="$p1" 'BEGIN {
		g = n * (n - 1) / 2 * 2 * (p + q) / wall / 1e9; pk = (p0 + p1) / 2
		printf "n=%d p=q=%d%*s %9.2f %9.0f %9.1f %9.1f %6.0f%%\n", n, p, 26 - length(sprintf("n=%d p=q=%d", n, p)), "", wall, rss / 1024, g, pk, 100 * g / pk
	}'
	rm -rf "$d"
done
