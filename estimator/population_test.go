package estimator_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/dcor-stream/dcor-stream/block"
)

// popDCor2 is the population dCor² of a bivariate normal with correlation
// rho (Székely, Rizzo & Bakirov 2007, Theorem 7):
//
//	dCor²(ρ) = [ρ·asin ρ + sqrt(1−ρ²) − ρ·asin(ρ/2) − sqrt(4−ρ²) + 1] / [1 + π/3 − sqrt 3]
func popDCor2(rho float64) float64 {
	num := rho*math.Asin(rho) + math.Sqrt(1-rho*rho) - rho*math.Asin(rho/2) - math.Sqrt(4-rho*rho) + 1
	return num / (1 + math.Pi/3 - math.Sqrt(3))
}

// TestPopulationBivariateNormal checks that the bias-corrected R* of
// n = 20,000 bivariate normal samples is within 4 standard errors of the
// population dCor². The standard error is estimated from the spread of R*
// over 8 disjoint subsamples of n/8, divided by sqrt(8) (the variance of R*
// falls as 1/n).
func TestPopulationBivariateNormal(t *testing.T) {
	if testing.Short() {
		t.Skip("n = 20,000 exact pairs: skipped in -short mode")
	}
	const n, parts = 20000, 8
	for i, rho := range []float64{0.3, 0.5, 0.8} {
		rng := rand.New(rand.NewPCG(uint64(i)+100, 2))
		x, y := make([]float64, n), make([]float64, n)
		for j := range n {
			u, v := rng.NormFloat64(), rng.NormFloat64()
			x[j], y[j] = u, rho*u+math.Sqrt(1-rho*rho)*v
		}
		rstar := func(x, y []float64) float64 {
			st, err := block.Compute(t.Context(), []block.Space{{Data: x, Dim: 1}, {Data: y, Dim: 1}}, block.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return st.Pair(0, 1).BCDCor
		}
		full := rstar(x, y)
		var sum, sum2 float64
		m := n / parts
		for p := range parts {
			r := rstar(x[p*m:(p+1)*m], y[p*m:(p+1)*m])
			sum += r
			sum2 += r * r
		}
		mean := sum / parts
		sd := math.Sqrt((sum2 - parts*mean*mean) / (parts - 1))
		se := sd / math.Sqrt(parts)
		want := popDCor2(rho)
		if math.Abs(full-want) > 4*se {
			t.Errorf("rho=%v: R*(n=%d) = %.6f, population dCor² = %.6f, |diff| > 4·SE = %.6f", rho, n, full, want, 4*se)
		}
		t.Logf("rho=%v: R* = %.6f, population %.6f, SE ≈ %.6f", rho, full, want, se)
	}
}
