#!/bin/sh
# Out-of-core schedule (issue 4): n = 100,000 samples, p = q = 32, stored
# as Parquet (51 MB as float64), run in memory and under -mem 16MiB; prints
# wall time and peak RSS of each (/usr/bin/time -v) and the largest
# relative difference of the JSON values (want <= 1e-12; the out-of-core
# schedule gives the same bytes, so 0).
#
#	bench/outofcore.sh [N] [P] [Q] [MEM]
set -eu
n=${1:-100000}
p=${2:-32}
q=${3:-32}
mem=${4:-16MiB}
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go build -o "$dir/dcor-stream" ./cmd/dcor-stream
go run ./bench/genarrow -n "$n" -p "$p" -q "$q" -batch 8192 -parquet -o "$dir" >/dev/null
rm -f "$dir/xy.arrow" "$dir/x.f64" "$dir/y.f64"
ls -l "$dir/xy.parquet"

measure() { # name, args...
	name=$1
	shift
	/usr/bin/time -v "$dir/dcor-stream" -format json "$@" -x x -y y "$dir/xy.parquet" >"$dir/$name.json" 2>"$dir/$name.err" || {
		cat "$dir/$name.err"
		exit 1
	}
	grep '^dcor-stream' "$dir/$name.err" || true
	printf '%-12s wall %s  peak RSS %s kB\n' "$name" \
		"$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$dir/$name.err")" \
		"$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$dir/$name.err")"
}
measure in-memory
measure out-of-core -mem "$mem"

python3 - "$dir/in-memory.json" "$dir/out-of-core.json" <<'PY'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
print("passes:", b.pop("passes"))
worst = 0.0
for k, v in a.items():
    if isinstance(v, float):
        d = abs(v - b[k]) / max(abs(v), 1e-300)
        worst = max(worst, d)
print("dcor %.15g  bcdcor %.15g" % (a["dcor"], a["bcdcor"]))
print("max relative difference: %.3g (%s)" % (worst, "identical JSON" if a == b else "differs"))
sys.exit(0 if worst <= 1e-12 else 1)
PY
