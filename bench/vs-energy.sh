#!/usr/bin/env bash
# dcor-stream against R energy on the same data: time, peak RSS and the
# values side by side.
#
#   bench/vs-energy.sh [n] [p] [q]      (default 10000 64 64)
#
# x is n×p standard normal, y = tanh of a random linear map of x plus
# noise, n×q. Needs Rscript with energy (apt-get install r-cran-energy) and
# /usr/bin/time. energy needs about 8·n²·6 bytes (7.5 GB at n = 10,000).
set -euo pipefail
n=${1:-10000}; p=${2:-64}; q=${3:-64}
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

Rscript -e "
set.seed(7); n <- $n; p <- $p; q <- $q
x <- matrix(rnorm(n * p), n, p)
y <- tanh(x %*% matrix(rnorm(p * q) / sqrt(p), p, q)) + 0.5 * matrix(rnorm(n * q), n, q)
colnames(x) <- paste0('x', 1:p); colnames(y) <- paste0('y', 1:q)
m <- cbind(x, y)
out <- matrix(sprintf('%.17g', m), nrow(m))
colnames(out) <- colnames(m)
write.table(out, '$dir/xy.csv', sep = ',', row.names = FALSE, quote = FALSE)
saveRDS(list(x = x, y = y), '$dir/xy.rds')
"
cat > "$dir/energy.R" <<R
suppressMessages(library(energy))
d <- readRDS('$dir/xy.rds')
t0 <- proc.time()[['elapsed']]
v <- c(dcor(d\$x, d\$y), bcdcor(d\$x, d\$y))
cat(sprintf('%.17g %.17g %.3f\n', v[1], v[2], proc.time()[['elapsed']] - t0))
R
/usr/bin/time -f '%M' Rscript "$dir/energy.R" >"$dir/energy.txt" 2>"$dir/energy.rss"
go build -o "$dir/dcor-stream" ./cmd/dcor-stream
/usr/bin/time -f '%e %M' "$dir/dcor-stream" -format json -x 'x*' -y 'y*' "$dir/xy.csv" >"$dir/ours.json" 2>"$dir/ours.time"
python3 - "$dir" "$n" "$p" "$q" <<'PY'
import json, sys
d, n, p, q = sys.argv[1:]
dcor, bc, et = map(float, open(d + '/energy.txt').read().split())
ers = int(open(d + '/energy.rss').read().split()[-1])
o = json.load(open(d + '/ours.json'))
wall, rss = map(float, open(d + '/ours.time').read().split()[-2:])
print(f'n={n} p={p} q={q}')
print(f'R energy dcor+bcdcor: {et:.2f} s (computation), peak RSS {ers/1024:.0f} MB')
print(f'dcor-stream (CSV in, JSON out, whole process): {wall:.2f} s, peak RSS {rss/1024:.0f} MB')
for k, ref in [('dcor', dcor), ('bcdcor', bc)]:
    print(f'  {k}: dcor-stream {o[k]:.15g}  energy {ref:.15g}  rel.diff {abs(o[k]-ref)/abs(ref):.1e}')
PY
