package block

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// exactBig returns sum_k a_k·b_k (b nil: sum_k a_k) in exact big.Float
// arithmetic.
func exactBig(a, b []float64) *big.Float {
	sum := new(big.Float).SetPrec(0).SetMode(big.ToNearestEven)
	sum.SetPrec(1 << 14)
	for k, x := range a {
		t := new(big.Float).SetPrec(1 << 14).SetFloat64(x)
		if b != nil {
			t.Mul(t, new(big.Float).SetFloat64(b[k]))
		}
		sum.Add(sum, t)
	}
	return sum
}

func expansion(s *exactSum, k int) (*big.Float, bool) {
	v, ok := s.appendTo(nil, k)
	return exactBig(v, nil), ok
}

// TestExactSum: the sums and dot products of exactSum equal the exact
// ones (big.Float of 16,384 bits, exact for these values), for values of
// mixed signs and scales from 2^−900 to 2^900, subnormals, exact
// cancellations, and beyond a carry; a product below 2^−969 or not finite
// makes the sum invalid.
func TestExactSum(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	gen := func(m, spread int) []float64 {
		v := make([]float64, m)
		for i := range v {
			v[i] = math.Ldexp(rng.NormFloat64(), rng.IntN(2*spread+1)-spread)
		}
		return v
	}
	for _, tc := range []struct {
		name    string
		a, b    []float64
		sumOnly bool
	}{
		{"unit", gen(3000, 0), gen(3000, 0), false},
		{"spread", gen(5000, 400), gen(5000, 400), false},
		{"sum_wide", gen(2000, 1000), nil, true},
		{"subnormal", []float64{5e-324, -1.5e-310, 2.2250738585072014e-308, 3e-320}, nil, true},
		{"cancel", []float64{1e300, 1, -1e300, -1, 0x1p-1074, 0.1, -0.1}, nil, true},
		{"negative", []float64{-1, -2, -3, -0x1p-60}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s exactSum
			var want *big.Float
			if tc.sumOnly {
				s.sum(tc.a)
				want = exactBig(tc.a, nil)
			} else {
				s.dot(tc.a, tc.b)
				s.add(0.5) // and an addition after a dot
				want = exactBig(tc.a, tc.b)
				want.Add(want, big.NewFloat(0.5))
			}
			got, ok := expansion(&s, 0)
			if !ok || got.Cmp(want) != 0 {
				t.Errorf("sum = %v (ok %v), want %v", got, ok, want)
			}
			twice, _ := expansion(&s, 1)
			if twice.Cmp(new(big.Float).Mul(want, big.NewFloat(2))) != 0 {
				t.Errorf("doubled sum = %v, want 2·%v", twice, want)
			}
		})
	}
	for _, bad := range [][2]float64{{0x1p-500, 0x1p-480}, {1e200, 1e200}, {math.Inf(1), 1}} {
		var s exactSum
		s.dot(bad[:1], bad[1:])
		if _, ok := s.appendTo(nil, 0); ok {
			t.Errorf("dot of %v and %v: valid, want invalid", bad[0], bad[1])
		}
	}
}

func BenchmarkExactDot(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	x, y := make([]float64, 1<<16), make([]float64, 1<<16)
	for i := range x {
		x[i], y[i] = rng.NormFloat64(), rng.NormFloat64()
	}
	var s exactSum
	for b.Loop() {
		s.reset()
		s.dot(x, y)
	}
	b.ReportMetric(float64(len(x)*b.N)/b.Elapsed().Seconds()/1e6, "Mproducts/s")
}
