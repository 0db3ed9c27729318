package estimator_test

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"

	"github.com/dcor-stream/dcor-stream/estimator"
)

// TestGrowOnline feeds the samples in batches, as the online schedule does:
// the state grows by each batch (its grids coarsening as n passes the
// capacity), is widened when the batch holds larger distances, and gets
// the tiles of the new rows against the old ones and among themselves. The
// result equals the one-shot state's to 1e-12.
func TestGrowOnline(t *testing.T) {
	widened := 0
	for seed := range uint64(5) {
		rng := rand.New(rand.NewPCG(seed, 13))
		n := 30 + rng.IntN(90)
		x, y, z := randMatrix(rng, n, 3), randMatrix(rng, n, 2), randMatrix(rng, n, 1)
		for i := range n { // later rows spread wider: Widen has work to do
			s := 1 + 4*float64(i)/float64(n)
			for c := range 3 {
				x.v[i*3+c] *= s
			}
		}
		const alpha = 1.0
		shift := []float64{2, 1.5, 1}
		oneShot := estimator.New(3, n, alpha, shift, naiveBound(alpha, shift, x, y, z))
		oneShot.AddTile(naiveTile(alpha, shift, 0, n, x, y, z))

		// The first batch fixes the initial bounds.
		n0 := 1 + rng.IntN(10)
		first := []matrix{x.firstRows(n0), y.firstRows(n0), z.firstRows(n0)}
		on := estimator.New(3, n0, alpha, shift, naiveBound(alpha, shift, first...))
		on.AddTile(naiveTile(alpha, shift, 0, n0, x, y, z))
		grids := 0
		for lo := n0; lo < n; {
			hi := min(n, lo+1+rng.IntN(25))
			seen := []matrix{x.firstRows(hi), y.firstRows(hi), z.firstRows(hi)}
			for k, b := range naiveBound(alpha, shift, seen...) {
				if b > on.Bound(k) {
					on.Widen(k, b)
					grids++
				}
			}
			on.Grow(hi - lo)
			on.AddTile(offTile(alpha, shift, 0, lo, lo, hi, x, y, z))
			on.AddTile(naiveTile(alpha, shift, lo, hi, x, y, z))
			lo = hi
		}
		if on.N() != n {
			t.Fatalf("grown N() = %d, want %d", on.N(), n)
		}
		got, want := on.Pair(0, 1), oneShot.Pair(0, 1)
		gp, wp := on.Partial(0, 1, 2), oneShot.Partial(0, 1, 2)
		for _, c := range []struct {
			name      string
			got, want float64
		}{
			{"dcor", got.DCor, want.DCor}, {"dcov_sq", got.DCovSq, want.DCovSq}, {"dvar_x_sq", got.DVarXSq, want.DVarXSq},
			{"bcdcor", got.BCDCor, want.BCDCor}, {"dcov_u", got.DCovU, want.DCovU}, {"pdcor", gp.PDCor, wp.PDCor},
			{"pdcov", gp.PDCov, wp.PDCov},
		} {
			if !scalar.EqualWithinAbsOrRel(c.got, c.want, 1e-14, 1e-12) {
				t.Errorf("seed %d (n=%d, %d widenings): online %s = %.17g, one-shot %.17g", seed, n, grids, c.name, c.got, c.want)
			}
		}
		widened += grids
		// A grown state round-trips through its encoding.
		b := encode(t, on)
		var back estimator.Stats
		if err := back.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(encode(t, &back), b) || back.Pair(0, 1) != got {
			t.Errorf("seed %d: grown state does not round-trip", seed)
		}
	}
	if widened == 0 {
		t.Error("no batch widened a bound: the test does not exercise Widen")
	}
}

// TestGrowWithinCapacity: growing to a size the grids already cover
// changes nothing but n.
func TestGrowWithinCapacity(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	x := randMatrix(rng, 20, 2)
	st := naiveStats(1, x, x)
	st.Grow(0)
	if st.N() != 20 {
		t.Fatalf("Grow(0): N() = %d", st.N())
	}
	before := st.Pair(0, 1)
	st.Widen(0, st.Bound(0)/2) // not wider: no-op
	if st.Pair(0, 1) != before {
		t.Error("Widen to a smaller bound changed the state")
	}
}
