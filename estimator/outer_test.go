package estimator

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestOuterAdd: outerAdd (the AVX2 kernel where the CPU runs it) gives
// the bits of outerAddGo, for widths with and without a tail of fewer
// than 32 columns, and adds to what c holds.
func TestOuterAdd(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, c := range [][3]int{{1, 1, 1}, {7, 3, 32}, {50, 5, 37}, {33, 64, 64}, {100, 17, 96 + 31}, {9, 2, 256}, {20, 256, 256}, {5, 3, 16}, {6, 4, 15}} {
		m, d, e := c[0], c[1], c[2]
		x, y := make([]float64, m*d), make([]float64, m*e)
		for i := range x {
			x[i] = rng.NormFloat64() * math.Ldexp(1, rng.IntN(40)-20)
		}
		for i := range y {
			y[i] = rng.NormFloat64()
		}
		want, got := make([]float64, d*e), make([]float64, d*e)
		for i := range want {
			want[i] = rng.NormFloat64()
			got[i] = want[i]
		}
		outerAddGo(want, x, y, m, d, e)
		outerAdd(got, x, y, m, d, e)
		for i := range got {
			if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
				t.Fatalf("m %d, d %d, e %d: entry %d is %v, Go %v", m, d, e, i, got[i], want[i])
			}
		}
	}
}
