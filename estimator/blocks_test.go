package estimator_test

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"

	"github.com/dcor-stream/dcor-stream/estimator"
)

func (m matrix) rows(a, b int) matrix { return matrix{n: b - a, d: m.d, v: m.v[a*m.d : b*m.d]} }

// TestBlocksBruteForce: the block estimates and their delete-one-block
// jackknife standard errors equal a plain recomputation: each block's U
// from its own state, means without each block, R* and pdCor of those
// means, and the jackknife formula, all in float64 loops.
func TestBlocksBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	const blocks, size = 9, 25
	n := blocks * size
	x := randMatrix(rng, n, 2)
	y, z := randMatrix(rng, n, 1), randMatrix(rng, n, 3)
	for i := range n { // dependence between x and y
		y.v[i] += x.v[2*i]
	}
	est := estimator.NewBlocks(3)
	var us [][6]float64
	for b := range blocks {
		st := naiveStats(1, x.rows(b*size, (b+1)*size), y.rows(b*size, (b+1)*size), z.rows(b*size, (b+1)*size))
		if err := est.Add(st); err != nil {
			t.Fatal(err)
		}
		var u [6]float64
		for i, p := range [][2]int{{0, 1}, {0, 0}, {1, 1}, {0, 2}, {1, 2}, {2, 2}} {
			u[i], _ = st.U(p[0], p[1])
		}
		us = append(us, u)
	}
	theta := func(skip int) (rxy, pd, semi, rxz float64) {
		var m [6]float64
		c := 0.0
		for b, u := range us {
			if b == skip {
				continue
			}
			for i := range m {
				m[i] += u[i]
			}
			c++
		}
		for i := range m {
			m[i] /= c
		}
		r := func(a, b, c float64) float64 { return a / math.Sqrt(b*c) }
		rxy, rxz, ryz := r(m[0], m[1], m[2]), r(m[3], m[1], m[5]), r(m[4], m[2], m[5])
		return rxy, (rxy - rxz*ryz) / math.Sqrt((1-rxz*rxz)*(1-ryz*ryz)), (rxz - rxy*ryz) / math.Sqrt(1-rxy*rxy), rxz
	}
	se := func(f func(int) float64) float64 {
		var loo []float64
		var mean float64
		for b := range blocks {
			loo = append(loo, f(b))
			mean += loo[b]
		}
		mean /= blocks
		var ss float64
		for _, v := range loo {
			ss += (v - mean) * (v - mean)
		}
		return math.Sqrt(float64(blocks-1) / blocks * ss)
	}
	wantR, wantPD, wantSemi, _ := theta(-1)
	wantRSE := se(func(b int) float64 { r, _, _, _ := theta(b); return r })
	wantPDSE := se(func(b int) float64 { _, p, _, _ := theta(b); return p })
	wantSemiSE := se(func(b int) float64 { _, _, s, _ := theta(b); return s })
	// The jackknife covariance of R*(x, y) and R*(x, z).
	var wantCov float64
	{
		var mxy, mxz float64
		for b := range blocks {
			rxy, _, _, rxz := theta(b)
			mxy += rxy / blocks
			mxz += rxz / blocks
		}
		for b := range blocks {
			rxy, _, _, rxz := theta(b)
			wantCov += float64(blocks-1) / blocks * (rxy - mxy) * (rxz - mxz)
		}
	}
	got, gotP := est.Pair(0, 1), est.Partial(0, 1, 2)
	cov := est.BCDCorCov([][2]int{{0, 1}, {0, 2}})
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"bcdcor", got.BCDCor, wantR}, {"bcdcor_se", got.BCDCorSE, wantRSE},
		{"pdcor", gotP.PDCor, wantPD}, {"pdcor_se", gotP.PDCorSE, wantPDSE},
		{"semi_partial", gotP.SemiPartial, wantSemi}, {"semi_partial_se", gotP.SemiPartialSE, wantSemiSE},
		{"cov(xy, xz)", cov[0][1], wantCov}, {"cov(xz, xy)", cov[1][0], wantCov},
		{"cov(xy, xy)", cov[0][0], wantRSE * wantRSE},
	} {
		if !scalar.EqualWithinAbsOrRel(c.got, c.want, 1e-13, 1e-10) {
			t.Errorf("%s = %.17g, brute force %.17g", c.name, c.got, c.want)
		}
	}
	if got.Blocks != blocks || got.Rows != n || got.Flags != 0 {
		t.Errorf("blocks %d rows %d flags %v", got.Blocks, got.Rows, got.Flags)
	}

	// Split into two shards and merged in order: the same bytes and
	// results; and the encoding round-trips and refuses a flipped bit.
	a, b := estimator.NewBlocks(3), estimator.NewBlocks(3)
	for i := range blocks {
		st := naiveStats(1, x.rows(i*size, (i+1)*size), y.rows(i*size, (i+1)*size), z.rows(i*size, (i+1)*size))
		dst := a
		if i >= 4 {
			dst = b
		}
		if err := dst.Add(st); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Merge(b); err != nil {
		t.Fatal(err)
	}
	ea, _ := a.MarshalBinary()
	ee, _ := est.MarshalBinary()
	if !bytes.Equal(ea, ee) || a.Pair(0, 1) != got {
		t.Error("shards merged differ from one run")
	}
	var back estimator.Blocks
	if err := back.UnmarshalBinary(ee); err != nil || back.Pair(0, 1) != got {
		t.Errorf("round trip: %v", err)
	}
	ee[len(ee)/2] ^= 4
	if err := back.UnmarshalBinary(ee); err == nil {
		t.Error("a flipped bit was accepted")
	}
}

func TestBlocksFew(t *testing.T) {
	est := estimator.NewBlocks(2)
	if r := est.Pair(0, 1); r.Flags&estimator.TooFewSamples == 0 {
		t.Errorf("no blocks: flags %v", r.Flags)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	x := randMatrix(rng, 3, 1)
	if err := est.Add(naiveStats(1, x, x)); err == nil {
		t.Error("a block of 3 samples was accepted")
	}
	x = randMatrix(rng, 8, 1)
	if err := est.Add(naiveStats(1, x, x)); err != nil {
		t.Fatal(err)
	}
	// One block of 8 samples: its U-statistics are defined (no
	// too_few_samples), the delete-one-block SEs are not (se_undefined),
	// and x against itself is perfect dependence, as in the exact path.
	want := estimator.SEUndefined | estimator.PerfectDependence
	if r := est.Pair(0, 1); r.Flags != want || r.BCDCorSE != 0 || r.BCDCor != 1 {
		t.Errorf("one block: %+v, want flags %v", r, want)
	}
	if c := est.BCDCorCov([][2]int{{0, 1}}); c != nil {
		t.Errorf("one block: BCDCorCov = %v, want nil (undefined)", c)
	}
	if q := est.Partial(0, 1, 1); q.Flags&estimator.SEUndefined == 0 || q.Flags&estimator.TooFewSamples != 0 {
		t.Errorf("one block: partial flags %v, want se_undefined", q.Flags)
	}
}
