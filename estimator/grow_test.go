package estimator_test

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"

	"github.com/dcor-stream/dcor-stream/estimator"
)

// TestGrowOnline feeds the samples in batches, as the online schedule does:
// the state grows by each batch and gets the tiles of the new rows against
// the old ones and among themselves. Nothing is rounded by growing, so the
// state holds the same bytes as a state of the final n given the same
// tiles, and its results equal the one-shot state's (other tiles, other
// rounding inside them) to 1e-12.
func TestGrowOnline(t *testing.T) {
	for seed := range uint64(5) {
		rng := rand.New(rand.NewPCG(seed, 13))
		n := 30 + rng.IntN(90)
		x, y, z := randMatrix(rng, n, 3), randMatrix(rng, n, 2), randMatrix(rng, n, 1)
		for i := range n { // later rows spread wider
			s := 1 + 4*float64(i)/float64(n)
			for c := range 3 {
				x.v[i*3+c] *= s
			}
		}
		const alpha = 1.0
		shift := []float64{2, 1.5, 1}
		oneShot := estimator.New(3, n, alpha, shift, nil)
		mustAdd(t, oneShot, naiveTile(alpha, shift, 0, n, x, y, z))

		n0 := 1 + rng.IntN(10)
		on := estimator.New(3, n0, alpha, shift, nil)
		same := estimator.New(3, n, alpha, shift, nil)
		for _, st := range []*estimator.Stats{on, same} {
			mustAdd(t, st, naiveTile(alpha, shift, 0, n0, x, y, z))
		}
		for lo := n0; lo < n; {
			hi := min(n, lo+1+rng.IntN(25))
			on.Grow(hi - lo)
			for _, st := range []*estimator.Stats{on, same} {
				mustAdd(t, st, offTile(alpha, shift, 0, lo, lo, hi, x, y, z))
				mustAdd(t, st, naiveTile(alpha, shift, lo, hi, x, y, z))
			}
			lo = hi
		}
		if on.N() != n {
			t.Fatalf("grown N() = %d, want %d", on.N(), n)
		}
		if !bytes.Equal(encode(t, on), encode(t, same)) {
			t.Errorf("seed %d: grown state differs from the state of the same tiles at the final n", seed)
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
				t.Errorf("seed %d (n=%d): online %s = %.17g, one-shot %.17g", seed, n, c.name, c.got, c.want)
			}
		}
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
}

// TestGrowZero: growing by 0 changes nothing.
func TestGrowZero(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	x := randMatrix(rng, 20, 2)
	st := naiveStats(1, x, x)
	before := encode(t, st)
	st.Grow(0)
	if st.N() != 20 || !bytes.Equal(encode(t, st), before) {
		t.Fatalf("Grow(0) changed the state")
	}
}

func mustAdd(t *testing.T, st *estimator.Stats, tile *estimator.Tile) {
	t.Helper()
	if err := st.AddTile(tile); err != nil {
		t.Fatal(err)
	}
}
