package job_test

import (
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/dcor-stream/dcor-stream/job"
	"github.com/dcor-stream/dcor-stream/stream"
)

// popDCor2 is the population dCor² of a bivariate normal with correlation
// rho (Székely, Rizzo & Bakirov 2007, Theorem 7; DESIGN §1):
//
//	dCor²(ρ) = [ρ·asin ρ + sqrt(1−ρ²) − ρ·asin(ρ/2) − sqrt(4−ρ²) + 1] / [1 + π/3 − sqrt 3]
func popDCor2(rho float64) float64 {
	num := rho*math.Asin(rho) + math.Sqrt(1-rho*rho) - rho*math.Asin(rho/2) - math.Sqrt(4-rho*rho) + 1
	return num / (1 + math.Pi/3 - math.Sqrt(3))
}

// TestCoverage is the coverage study of the -ci intervals: over reps
// samples of n bivariate normal pairs of correlation ρ, the share of the
// 95% intervals bcdcor_ci that hold the population dCor² (which bcdcor,
// the bias-corrected dCor², estimates), and of dcor_ci that hold the
// population dCor, each with its Monte-Carlo standard error
// sqrt(c(1−c)/reps). It fails if the mean jackknife SE is more than 15%
// from the replicates' standard deviation of bcdcor (what the jackknife
// estimates), or, from n = 300 and ρ = 0.5, if the coverage is more than
// 5 Monte-Carlo errors below 95%. At small dCor² (ρ = 0.2: dCor² = 0.03)
// the distribution of bcdcor is skewed and the normal interval covers
// less (0.87 at n = 100, 0.93 at n = 1,000, 0.945 at n = 2,000 in the
// full study): reported, not asserted. About 40
// CPU-seconds: run it with DCOR_COVERAGE=1 (DCOR_COVERAGE=full: 1,000
// replicates, n up to 2,000, about 8 CPU-minutes).
func TestCoverage(t *testing.T) {
	mode := os.Getenv("DCOR_COVERAGE")
	if mode == "" {
		t.Skip("the coverage study: set DCOR_COVERAGE=1")
	}
	reps, sizes := 400, []int{100, 300, 1000}
	if mode == "full" {
		reps, sizes = 1000, []int{100, 300, 1000, 2000}
	}
	rng := rand.New(rand.NewPCG(11, 12))
	for _, n := range sizes {
		for _, rho := range []float64{0.2, 0.5, 0.8} {
			truth := popDCor2(rho)
			var inB, inD int
			var seSum, spread, mean float64
			for range reps {
				x, y := make([]float64, n), make([]float64, n)
				for i := range n {
					a, b := rng.NormFloat64(), rng.NormFloat64()
					x[i], y[i] = a, rho*a+math.Sqrt(1-rho*rho)*b
				}
				out, err := job.Run(t.Context(), job.Spec{
					Data: []stream.Space{{Name: "x", Data: x, Dim: 1}, {Name: "y", Data: y, Dim: 1}},
					CI:   0.95, Options: job.Options{Workers: 1},
				})
				if err != nil {
					t.Fatal(err)
				}
				p, e := out.Pair, out.Pair.Extras
				if e.BCDCorCI[0] <= truth && truth <= e.BCDCorCI[1] {
					inB++
				}
				if e.DCorCI[0] <= math.Sqrt(truth) && math.Sqrt(truth) <= e.DCorCI[1] {
					inD++
				}
				seSum += e.BCDCorSE
				d := p.BCDCor - truth
				mean += d
				spread += d * d
			}
			r := float64(reps)
			cb, cd := float64(inB)/r, float64(inD)/r
			mc := func(c float64) float64 { return math.Sqrt(c * (1 - c) / r) }
			sd := math.Sqrt(spread/r - (mean/r)*(mean/r))
			t.Logf("n = %4d, ρ = %.1f (dCor² = %.4f): bcdcor_ci covers %.3f ± %.3f, dcor_ci %.3f ± %.3f; mean SE %.4f, sd of bcdcor %.4f, bias %+.4f",
				n, rho, truth, cb, mc(cb), cd, mc(cd), seSum/r, sd, mean/r)
			if q := seSum / r / sd; math.Abs(q-1) > 0.15 {
				t.Errorf("n = %d, ρ = %.1f: mean jackknife SE / sd of bcdcor = %.3f, want 1 ± 0.15", n, rho, q)
			}
			if n >= 300 && rho >= 0.5 && cb < 0.95-5*math.Sqrt(0.95*0.05/r) {
				t.Errorf("n = %d, ρ = %.1f: bcdcor_ci coverage %.3f, want at least 0.95 less 5 Monte-Carlo errors", n, rho, cb)
			}
		}
	}
}
