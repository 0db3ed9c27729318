package block

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestMaxAbs checks the bitwise maxima against float maxima, over lengths
// around the unrolling and magnitudes across the float64 range.
func TestMaxAbs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 19 {
		v, mu := make([]float64, n), make([]float64, n)
		for i := range v {
			v[i] = math.Ldexp(rng.NormFloat64(), rng.IntN(600)-300)
			mu[i] = math.Ldexp(rng.NormFloat64(), rng.IntN(600)-300)
		}
		if n > 2 {
			v[1] = math.Copysign(0, -1)
		}
		const s = 0x1p-7
		var want, wantC float64
		for i, x := range v {
			want = max(want, math.Abs(x))
			wantC = max(wantC, math.Abs(float64(x*s)-mu[i]))
		}
		if got := maxAbs(v); got != want {
			t.Errorf("maxAbs(n=%d) = %v, want %v", n, got, want)
		}
		if got := maxAbsCentred(v, s, mu); got != wantC {
			t.Errorf("maxAbsCentred(n=%d) = %v, want %v", n, got, wantC)
		}
	}
}
