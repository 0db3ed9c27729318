package estimator

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// bankValues returns values of the kinds the banks are given: row sums of
// either sign around a common scale, with zeros, negative zeros, powers of
// two, subnormals and far outliers.
func bankValues(rng *rand.Rand, m int) []float64 {
	v := make([]float64, m)
	for i := range v {
		x := rng.NormFloat64() * 300
		switch rng.IntN(16) {
		case 0:
			x = 0
		case 1:
			x = math.Copysign(0, -1)
		case 2:
			x = math.Ldexp(1, rng.IntN(200)-100)
		case 3:
			x = math.Float64frombits(rng.Uint64N(1 << 52)) // subnormal
		case 4:
			x = math.Ldexp(rng.Float64()-0.5, rng.IntN(1900)-950)
		}
		v[i] = x
	}
	return v
}

// TestBankAddSlice checks addSlice against exact big.Float sums, over
// slices that widen the layout downwards, upwards or not at all.
func TestBankAddSlice(t *testing.T) {
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 2))
		const rows = 7
		b := newBank(rows)
		want := make([]*big.Float, rows)
		for i := range want {
			want[i] = new(big.Float).SetPrec(4096)
		}
		for range 30 {
			off := rng.IntN(rows)
			src := bankValues(rng, rng.IntN(rows-off+1))
			if seed%2 == 0 {
				for i := range src {
					src[i] = math.Ldexp(rng.NormFloat64(), rng.IntN(8)) // one layout
				}
			}
			b.addSlice(off, src)
			for i, x := range src {
				want[off+i].Add(want[off+i], big.NewFloat(x))
			}
		}
		for i := range rows {
			v := b.value(i)
			got := new(big.Float).SetPrec(4096).SetInt(&v.m)
			got.SetMantExp(got, v.e)
			if got.Cmp(want[i]) != 0 {
				t.Fatalf("seed %d: row %d = %v, want %v", seed, i, got, want[i])
			}
		}
	}
}

// TestBankAddScaledStays checks that a value far below the others, which
// widens the layout downwards, does not send the values of the usual
// scale off addScaled's branch-free path for the rest of the run.
func TestBankAddScaledStays(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	b := newBank(64)
	typical := func() []float64 {
		v := make([]float64, 64)
		for i := range v {
			v[i] = rng.NormFloat64() * 300
		}
		return v
	}
	b.addSlice(0, typical())
	b.addSlice(5, []float64{1e-30, -3e-25})
	for range 3 {
		if v := typical(); b.addScaled(0, v) != len(v) {
			t.Fatalf("after a value of 1e-30 (layout limbs from %d, top %d), addScaled stops on %v", b.lo, b.top, v)
		}
	}
}

// BenchmarkBankAddSlice measures addSlice on a tile's row sums: 256
// values of random sign into the rows of a bank already laid out for them.
func BenchmarkBankAddSlice(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n, t = 4096, 256
	bk := newBank(n)
	srcs := make([][]float64, 16)
	for i := range srcs {
		srcs[i] = make([]float64, t)
		for j := range srcs[i] {
			srcs[i][j] = rng.NormFloat64() * 300
		}
		bk.addSlice(0, srcs[i])
	}
	i := 0
	for b.Loop() {
		bk.addSlice((i%(n/t))*t, srcs[i%len(srcs)])
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*t), "ns/value")
}
