#!/usr/bin/env bash
# dcor-stream against R energy and a NumPy Gram-trick baseline on the same
# data: whole-process wall time, peak RSS (/usr/bin/time -v) and the values
# side by side.
#
#   bench/vs-tools.sh [--install] [--no-energy] [--no-numpy] [n] [p] [q] [-- dcor-stream flags]
#
# Defaults: n = 10000, p = q = 64. The data (go run ./bench/genarrow) is x,
# n×p standard normal, and y = tanh(x·W/sqrt(p)) + 0.5·noise, n×q, written
# once as an Arrow IPC file (read by dcor-stream) and as raw float64 files
# (read by R and NumPy, outside the timed region for R). --install installs
# the missing tools from Debian packages (r-cran-energy, python3-numpy,
# time) with apt-get; without it a missing tool is skipped. R energy needs
# about 48·n² bytes and NumPy about 24·n² bytes: each is skipped when that
# exceeds the available memory.
set -euo pipefail
install=0; energy=1; numpy=1
while [[ $# -gt 0 && $1 == --* ]]; do
	case $1 in
	--install) install=1 ;;
	--no-energy) energy=0 ;;
	--no-numpy) numpy=0 ;;
	--) break ;;
	*) echo "usage: $0 [--install] [--no-energy] [--no-numpy] [n] [p] [q] [-- dcor-stream flags]" >&2; exit 2 ;;
	esac
	shift
done
n=${1:-10000}; p=${2:-64}; q=${3:-64}
shift $(($# < 3 ? $# : 3)) || true
[[ ${1:-} == -- ]] && shift
extra=("$@")
cd "$(dirname "$0")/.."

# The Debian python3 has python3-numpy; a python3 earlier in PATH (pyenv)
# may not.
py=python3
if ! python3 -c 'import numpy' 2>/dev/null && /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
	py=/usr/bin/python3
fi
if [[ $install == 1 ]]; then
	pkgs=()
	[[ -x /usr/bin/time ]] || pkgs+=(time)
	/usr/bin/python3 -c 'import numpy' 2>/dev/null || pkgs+=(python3-numpy)
	Rscript -e 'library(energy)' >/dev/null 2>&1 || pkgs+=(r-cran-energy)
	if [[ ${#pkgs[@]} -gt 0 ]]; then
		apt-get update && apt-get install -y "${pkgs[@]}"
	fi
fi
[[ -x /usr/bin/time ]] || { echo "$0: needs /usr/bin/time (apt-get install time, or --install)" >&2; exit 1; }
if [[ $energy == 1 ]] && ! Rscript -e 'library(energy)' >/dev/null 2>&1; then
	echo "R energy not installed (apt-get install r-cran-energy, or --install): skipped" >&2; energy=0
fi
[[ $install == 1 ]] && py=/usr/bin/python3
if [[ $numpy == 1 ]] && ! $py -c 'import numpy' 2>/dev/null; then
	echo "NumPy not installed (apt-get install python3-numpy, or --install): skipped" >&2; numpy=0
fi
availkb=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)
if [[ $energy == 1 ]] && (( 48 * n * n / 1024 > availkb )); then
	echo "R energy needs about $((48 * n * n / 1024 / 1024)) MB: skipped" >&2; energy=0
fi
if [[ $numpy == 1 ]] && (( 24 * n * n / 1024 > availkb )); then
	echo "NumPy needs about $((24 * n * n / 1024 / 1024)) MB: skipped" >&2; numpy=0
fi

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go run ./bench/genarrow -n "$n" -p "$p" -q "$q" -o "$dir"
go build -o "$dir/dcor-stream" ./cmd/dcor-stream

timed() { # name, command...: runs it under /usr/bin/time -v, stdout to $dir/name.out
	local name=$1; shift
	/usr/bin/time -v "$@" >"$dir/$name.out" 2>"$dir/$name.time"
}

timed dcor-stream "$dir/dcor-stream" -format json -x x -y y ${extra[@]+"${extra[@]}"} "$dir/xy.arrow"

if [[ $numpy == 1 ]]; then
	cat >"$dir/gram.py" <<'PY'
# The NumPy baseline: full n×n distance matrices by the Gram trick on
# centred data (BLAS GEMM), then the V- and U-statistics of DESIGN.md §1.
import sys
import numpy as np
d, n, p, q = sys.argv[1], *map(int, sys.argv[2:5])
x = np.fromfile(d + '/x.f64').reshape(n, p)
y = np.fromfile(d + '/y.f64').reshape(n, q)
def dist(z):
    z = z - z.mean(0)
    s = np.einsum('ij,ij->i', z, z)
    a = z @ z.T
    a *= -2
    a += s[:, None]
    a += s[None, :]
    np.maximum(a, 0, out=a)
    np.fill_diagonal(a, 0)
    return np.sqrt(a, out=a)
a, b = dist(x), dist(y)
ra, rb = a.sum(1), b.sum(1)
S = {'xy': np.einsum('ij,ij->', a, b), 'xx': np.einsum('ij,ij->', a, a), 'yy': np.einsum('ij,ij->', b, b)}
R = {'x': ra, 'y': rb}
def v2(k, l):
    return S[k + l] / n**2 - 2 * (R[k] @ R[l]) / n**3 + R[k].sum() * R[l].sum() / n**4
def u(k, l):
    return (S[k + l] / (n * (n - 3)) - 2 * (R[k] @ R[l]) / (n * (n - 2) * (n - 3))
            + R[k].sum() * R[l].sum() / (n * (n - 1) * (n - 2) * (n - 3)))
S['yx'] = S['xy']
dcor = np.sqrt(v2('x', 'y') / np.sqrt(v2('x', 'x') * v2('y', 'y')))
bc = u('x', 'y') / np.sqrt(u('x', 'x') * u('y', 'y'))
print(f'{dcor:.17g} {bc:.17g}')
PY
	timed numpy $py "$dir/gram.py" "$dir" "$n" "$p" "$q"
fi

if [[ $energy == 1 ]]; then
	cat >"$dir/energy.R" <<R
suppressMessages(library(energy))
x <- matrix(readBin('$dir/x.f64', 'double', $n * $p, endian = 'little'), $n, $p, byrow = TRUE)
y <- matrix(readBin('$dir/y.f64', 'double', $n * $q, endian = 'little'), $n, $q, byrow = TRUE)
t0 <- proc.time()[['elapsed']]
v <- c(dcor(x, y), bcdcor(x, y))
cat(sprintf('%.17g %.17g %.3f\n', v[1], v[2], proc.time()[['elapsed']] - t0))
R
	timed energy Rscript "$dir/energy.R"
fi

python3 - "$dir" "$n" "$p" "$q" "$numpy" "$energy" <<'PY'
import json, sys
d, n, p, q, has_np, has_r = sys.argv[1:]
def tv(name):
    wall = rss = None
    for l in open(f'{d}/{name}.time'):
        if 'Elapsed (wall' in l:
            t = l.split()[-1].split(':')
            wall = sum(float(v) * 60**i for i, v in enumerate(reversed(t)))
        if 'Maximum resident' in l:
            rss = int(l.split()[-1]) / 1024
    return wall, rss
o = json.load(open(d + '/dcor-stream.out'))
rows = [('dcor-stream', *tv('dcor-stream'), o['dcor'], o['bcdcor'], '')]
if has_np == '1':
    dc, bc = map(float, open(d + '/numpy.out').read().split())
    rows.append(('NumPy Gram', *tv('numpy'), dc, bc, ''))
if has_r == '1':
    dc, bc, et = map(float, open(d + '/energy.out').read().split())
    rows.append(('R energy', *tv('energy'), dc, bc, f'(dcor+bcdcor alone {et:.2f} s)'))
pairs = int(n) * (int(n) - 1) / 2
print(f'n = {n}, p = {p}, q = {q}: {pairs:.3g} pairs, {pairs * 2 * (int(p) + int(q)) / 1e9:.3g} GFLOP by the Gram count')
print(f'{"tool":12s} {"wall s":>8s} {"RSS MB":>8s} {"dcor":>20s} {"bcdcor":>22s} {"rel.diff":>8s}')
ref = rows[-1]
worst = 0
for name, wall, rss, dc, bc, note in rows:
    rel = max(abs(dc - ref[3]) / abs(ref[3]), abs(bc - ref[4]) / abs(ref[4]))
    if name != 'NumPy Gram':
        worst = max(worst, rel)
    print(f'{name:12s} {wall:8.2f} {rss:8.0f} {dc:20.15g} {bc:22.15g} {rel:8.1e} {note}')
print(f'dcor-stream GFLOP/s (whole process): {pairs * 2 * (int(p) + int(q)) / 1e9 / rows[0][1]:.1f}')
sys.exit(0 if worst < 1e-9 else 1)
PY
