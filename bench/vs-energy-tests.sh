#!/usr/bin/env bash
# Permutation p-values of dcor-stream against R energy on the reference
# cases in testdata/energy, R = 999 permutations each: the test of
# independence (perm_p_value, on the U-statistic) against energy's dcovU
# permuted with R's sample(), and perm_p_value_v (the same permutations on
# the V-statistic) against dcov.test; pdcov.test (of
# pdCov = 0, the same U-statistic) on the cases with z. The two programs
# draw different permutations, so their p-values agree within Monte-Carlo
# error: the check is |p_ours − p_energy| <= 4·sqrt(2·p(1−p)/R) + 2/(R+1).
# pdcov's p-value is also computed under -mem 64KiB: the same bits.
# The shipped cases' p-values sit at 1/(R+1) or 1, so two generated null
# cases (x, y, z independent normals, written by R with set.seed) put the
# comparison in the middle of [0, 1], where Monte-Carlo agreement is a test.
#
#   bench/vs-energy-tests.sh [R]
#
# Needs Rscript with energy (apt-get install r-cran-energy).
set -euo pipefail
R=${1:-999}
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go build -o "$dir/dcor-stream" ./cmd/dcor-stream
d=testdata/energy
cols() { head -1 "$1" | tr -d '"'; }
fail=0
row() { # name p_ours p_energy
	awk -v n="$1" -v a="$2" -v b="$3" -v R="$R" 'BEGIN {
		p = (a + b) / 2; tol = 4 * sqrt(2 * p * (1 - p) / R) + 2 / (R + 1)
		d = a - b; if (d < 0) d = -d
		printf "%-34s %10.4f %10.4f %10.4f %s\n", n, a, b, tol, (d <= tol ? "ok" : "DIFFERS")
		exit (d <= tol ? 0 : 1) }' || fail=1
}
Rscript -e "set.seed(11); w <- function(name, n, k, s) write.csv(matrix(rnorm(n * k), n, k, dimnames = list(NULL, paste0(s, 1:k))), file.path('$dir', paste0(name, '_', s, '.csv')), row.names = FALSE); w('f_null_n200', 200, 3, 'x'); w('f_null_n200', 200, 2, 'y'); w('g_pdcov_null_n120', 120, 2, 'x'); w('g_pdcov_null_n120', 120, 2, 'y'); w('g_pdcov_null_n120', 120, 2, 'z')"
printf "%-34s %10s %10s %10s\n" case dcor-stream energy tolerance
for c in a_linear_n50 b_sin_n200 c_binorm_rho0.5_n1000 d1_pdcor_condindep_n300 d2_pdcor_direct_n300 e8_ties_univariate_n100 f_null_n200 g_pdcov_null_n120; do
	d=testdata/energy
	[ -f "$d/${c}_x.csv" ] || d=$dir
	x=$d/${c}_x.csv y=$d/${c}_y.csv
	"$dir/dcor-stream" -quiet -format json -permutations "$R" -seed 7 -x "$x:$(cols "$x")" -y "$y:$(cols "$y")" >"$dir/out.json"
	ours=$(sed 's/.*"perm_p_value":\([^,]*\).*/\1/' "$dir/out.json")
	oursv=$(sed 's/.*"perm_p_value_v":\([^,]*\).*/\1/' "$dir/out.json")
	# dcov.test permutes the V-statistic n·dCov²_n (perm_p_value_v);
	# perm_p_value permutes the U-statistic (bcdcor's numerator, energy's
	# dcovU). The two tests agree at the extremes but not in between.
	read -r theirs vtest < <(Rscript -e "suppressMessages(library(energy)); x <- as.matrix(read.csv('$x')); y <- as.matrix(read.csv('$y')); n <- nrow(x); set.seed(7); t0 <- dcovU(x, y); tb <- replicate($R, dcovU(x, y[sample(n), , drop = FALSE])); set.seed(7); cat((1 + sum(tb >= t0)) / ($R + 1), dcov.test(x, y, R = $R)\$p.value, '\\n')")
	row "$c dcovU permuted" "$ours" "$theirs"
	row "$c dcov.test" "$oursv" "$vtest"
	z=$d/${c}_z.csv
	if [ -f "$z" ]; then
		ours=$("$dir/dcor-stream" -quiet -format json -permutations "$R" -seed 7 -x "$x:$(cols "$x")" -y "$y:$(cols "$y")" -z "$z:$(cols "$z")" | sed 's/.*"pdcor_perm_p_value":\([^,]*\).*/\1/')
		theirs=$(Rscript -e "suppressMessages(library(energy)); set.seed(7); x <- as.matrix(read.csv('$x')); y <- as.matrix(read.csv('$y')); z <- as.matrix(read.csv('$z')); cat(pdcov.test(x, y, z, R = $R)\$p.value)")
		row "$c pdcov.test" "$ours" "$theirs"
		# The same p-value from panels under a small budget, to the bit.
		mem=$("$dir/dcor-stream" -quiet -format json -mem 64KiB -permutations "$R" -seed 7 -x "$x:$(cols "$x")" -y "$y:$(cols "$y")" -z "$z:$(cols "$z")" | sed 's/.*"pdcor_perm_p_value":\([^,]*\).*/\1/')
		if [ "$mem" != "$ours" ]; then
			echo "$c pdcov.test: -mem 64KiB gives $mem, in memory $ours"
			fail=1
		fi
	fi
done
exit $fail
