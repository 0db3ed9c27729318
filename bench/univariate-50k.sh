#!/usr/bin/env bash
# Exact dCor of n univariate samples (default 50,000: beyond R energy's
# dense-matrix limit of n ≈ 46,000) against energy's O(n log n) dcor2d,
# with dcor-stream's peak RSS.
#
#   bench/univariate-50k.sh [n]
#
# Needs Rscript with the energy package (Debian: apt-get install
# r-cran-energy) and /usr/bin/time (apt-get install time).
set -euo pipefail
n=${1:-50000}
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

Rscript -e "
suppressMessages(library(energy))
set.seed(2026)
n <- $n
x <- rnorm(n); y <- x^2 + 0.5 * rnorm(n)
write.csv(data.frame(x = sprintf('%.17g', x), y = sprintf('%.17g', y)), '$dir/xy.csv', row.names = FALSE, quote = FALSE)
t <- system.time(u <- dcor2d(x, y, 'U'))[['elapsed']]
cat(sprintf('%.17g %.17g %.17g %.17g %.3f\n', dcor2d(x, y, 'V'), u, dcov2d(x, y, 'V'), dcov2d(x, y, 'U'), t), file = '$dir/energy.txt')
"
go build -o "$dir/dcor-stream" ./cmd/dcor-stream
/usr/bin/time -v "$dir/dcor-stream" -format json -x x -y y "$dir/xy.csv" >"$dir/out.json" 2>"$dir/time.txt"
python3 - "$dir" <<'PY'
import json, sys
d = sys.argv[1]
v, u, cv, cu, et = map(float, open(d + '/energy.txt').read().split())
o = json.load(open(d + '/out.json'))
rss = [l for l in open(d + '/time.txt') if 'Maximum resident' in l][0].split()[-1]
wall = [l for l in open(d + '/time.txt') if 'Elapsed (wall' in l][0].split()[-1]
worst = 0
for name, ours, ref in [('dcor_sq', o['dcor_sq'], v), ('bcdcor', o['bcdcor'], u), ('dcov_sq', o['dcov_sq'], cv), ('dcov_u', o['dcov_u'], cu)]:
    rel = abs(ours - ref) / abs(ref)
    worst = max(worst, rel)
    print(f'{name:8s} dcor-stream {ours:.17g}  energy dcor2d {ref:.17g}  rel.diff {rel:.2e}')
print(f'n = {o["n"]}, dcor-stream wall {wall} (reading the CSV included), peak RSS {int(rss)/1024:.1f} MB; energy dcor2d(type U) alone {et:.1f} s; worst rel.diff {worst:.2e}')
sys.exit(0 if worst < 1e-9 else 1)
PY
