#!/usr/bin/env bash
# From a PyTorch model to a layer x layer dCor matrix and its heatmap:
# export the layers of two tiny random networks on random data to .npy
# (export_activations.py), then run dcor-stream matrix on the files.
#
#   examples/pytorch/run_example.sh [OUT_DIR] [N]
#
# Needs Debian's python3-torch and python3-numpy (apt-get install
# python3-torch python3-numpy) and Go. PYTHON picks the interpreter (default:
# the first of python3, /usr/bin/python3 that imports torch).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:-$(mktemp -d)}
n=${2:-2000}
mkdir -p "$out"
out=$(cd "$out" && pwd)

if [ -z "${PYTHON:-}" ]; then
	for p in python3 /usr/bin/python3; do
		if command -v "$p" >/dev/null && "$p" -c 'import torch, numpy' 2>/dev/null; then PYTHON=$p; break; fi
	done
fi
if [ -z "${PYTHON:-}" ]; then
	echo "run_example.sh: no python3 with torch and numpy; on Debian: apt-get install python3-torch python3-numpy" >&2
	exit 1
fi

# The dcor-stream command line, in one place: built from this checkout, run
# in $out so that the spaces are labelled by their short file names.
bin=$(mktemp -d)/dcor-stream
trap 'rm -rf "$(dirname "$bin")"' EXIT
echo "== build: go build ./cmd/dcor-stream"
(cd "$repo" && go build -o "$bin" ./cmd/dcor-stream)
dcor() { (cd "$out" && "$bin" "$@"); }

echo "== export: $PYTHON export_activations.py --out $out --n $n"
start=$(date +%s.%N)
"$PYTHON" "$here/export_activations.py" --out "$out" --n "$n" >/dev/null
t1=$(date +%s.%N)
ls -l "$out"

rows=() cols=()
for f in "$out"/a.layers.*.npy; do rows+=(-rows "$(basename "$f")"); done
for f in "$out"/b.layers.*.npy "$out/label.npy"; do cols+=(-cols "$(basename "$f")"); done

echo "== cd $out && dcor-stream matrix ${rows[*]} ${cols[*]} -heatmap heatmap.png -format csv"
dcor matrix "${rows[@]}" "${cols[@]}" -heatmap heatmap.png -format csv >"$out/matrix.csv"
t2=$(date +%s.%N)
# The bcdcor table. The columns are picked by their names in the CSV
# header, never by position: a column inserted before bcdcor (dcor_sq
# once was) must not change what is printed.
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i
		if (!("row" in col) || !("col" in col) || !("bcdcor" in col)) { print "run_example.sh: no row, col or bcdcor column in the CSV header: " $0 > "/dev/stderr"; exit 1 }
		next }
	{ r0 = $col["row"]; c0 = $col["col"]; v[r0 "," c0] = $col["bcdcor"]; if (!(r0 in r)) { r[r0]; ro[++nr] = r0 } if (!(c0 in c)) { c[c0]; co[++nc] = c0 } }
	END {
		if (nr == 0) exit 1
		printf "bcdcor %12s", ""; for (j = 1; j <= nc; j++) printf " %12s", co[j]; print ""
		for (i = 1; i <= nr; i++) { printf "%-19s", ro[i]; for (j = 1; j <= nc; j++) printf " %12.4f", v[ro[i] "," co[j]]; print "" }
	}' "$out/matrix.csv"
echo "heatmap: $out/heatmap.png  csv: $out/matrix.csv"

# The same layers written in each shuffled loader's order (--order loader),
# aligned by the sample IDs written beside them: -key ids must give the
# same matrix as the files written in sample order (the samples come in
# another order, so the last bits of a statistic may differ: compared to
# 1e-12).
echo "== export --order loader to $out/loader; dcor-stream matrix ... -key ids"
"$PYTHON" "$here/export_activations.py" --out "$out/loader" --n "$n" --order loader >/dev/null
(cd "$out/loader" && "$bin" matrix "${rows[@]}" "${cols[@]}" -key ids -format csv >"$out/matrix-key.csv")
if paste -d, "$out/matrix.csv" "$out/matrix-key.csv" | awk -F, '
	NR == 1 { h = NF / 2; for (i = 1; i <= h; i++) col[$i] = i
		for (k in want) if (!(k in col)) exit 1
		next }
	BEGIN { want["row"]; want["col"]; want["dcor"]; want["dcor_sq"]; want["bcdcor"] }
	{ if ($col["row"] != $(h + col["row"]) || $col["col"] != $(h + col["col"])) exit 1
	  for (k in want) { if (k == "row" || k == "col") continue
		d = $col[k] - $(h + col[k]); if (d < 0) d = -d; if (d > 1e-12) exit 1 } }'; then
	echo "-key ids on the loader-ordered files: the same matrix (dcor, dcor_sq, bcdcor within 1e-12)"
else
	echo "-key ids on the loader-ordered files gave another matrix:" >&2
	diff "$out/matrix.csv" "$out/matrix-key.csv" >&2
	exit 1
fi
awk -v a="$start" -v b="$t1" -v c="$t2" 'BEGIN { printf "time: export %.1f s, dcor-stream matrix %.2f s\n", b - a, c - b }'
