package finite

import (
	"math"
	"testing"
)

// TestAll: a non-finite value at any position of slices of every length
// up to 9 (the four sums and the tail) is found; finite extremes are not
// taken for one.
func TestAll(t *testing.T) {
	finite := []float64{0, math.Copysign(0, -1), math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64, 1}
	for n := range 10 {
		v := make([]float64, n)
		for i := range v {
			v[i] = finite[i%len(finite)]
		}
		if !All(v) {
			t.Fatalf("n = %d: finite values %v taken for non-finite", n, v)
		}
		for i := range n {
			for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
				w := append([]float64(nil), v...)
				w[i] = bad
				if All(w) {
					t.Errorf("n = %d: %v at %d not found", n, bad, i)
				}
			}
		}
	}
}
