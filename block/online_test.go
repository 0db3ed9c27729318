package block

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"

	"github.com/dcor-stream/dcor-stream/estimator"
)

// online adds spaces to a new Online in batches of the sizes of seq, in
// turn and over again, and returns it.
func online(t *testing.T, spaces []Space, opts Options, seq []int) *Online {
	t.Helper()
	dims := make([]int, len(spaces))
	for k, s := range spaces {
		dims[k] = s.Dim
	}
	o, err := NewOnline(dims, opts)
	if err != nil {
		t.Fatal(err)
	}
	n := spaces[0].Rows()
	for r, b := 0, 0; r < n; b++ {
		m := min(seq[b%len(seq)], n-r)
		if err := o.Add(context.Background(), rows(spaces, r, m)); err != nil {
			t.Fatalf("Add(rows %d..%d): %v", r, r+m, err)
		}
		r += m
		if o.N() != r {
			t.Fatalf("N() = %d after %d rows", o.N(), r)
		}
	}
	return o
}

// sameResults checks every statistic of the pairs and the partial of got
// against want to relative tolerance tol.
func sameResults(t *testing.T, got, want *estimator.Stats, tol float64) {
	t.Helper()
	if got.N() != want.N() {
		t.Fatalf("N = %d, want %d", got.N(), want.N())
	}
	check := func(what string, g, w float64) {
		t.Helper()
		if !scalar.EqualWithinAbsOrRel(g, w, 1e-300, tol) {
			t.Errorf("%s = %v, want %v (Compute)", what, g, w)
		}
	}
	for k := range want.K() {
		for l := k + 1; l < want.K(); l++ {
			g, w := got.Pair(k, l), want.Pair(k, l)
			check("DCor", g.DCor, w.DCor)
			check("DCovSq", g.DCovSq, w.DCovSq)
			check("DVarXSq", g.DVarXSq, w.DVarXSq)
			check("DVarYSq", g.DVarYSq, w.DVarYSq)
			check("BCDCor", g.BCDCor, w.BCDCor)
			check("DCovU", g.DCovU, w.DCovU)
			check("DVarXU", g.DVarXU, w.DVarXU)
			check("DVarYU", g.DVarYU, w.DVarYU)
			check("T", g.T, w.T)
		}
	}
	if want.K() >= 3 {
		g, w := got.Partial(0, 1, 2), want.Partial(0, 1, 2)
		check("PDCor", g.PDCor, w.PDCor)
		check("PDCov", g.PDCov, w.PDCov)
		check("SemiPartial", g.SemiPartial, w.SemiPartial)
	}
}

// TestOnlineEqualsCompute: whatever the batch sizes, the online result
// after the last batch is Compute's on all the rows, to 1e-12 relative.
func TestOnlineEqualsCompute(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	spaces := randomSpaces(rng, 600, 20, 3, 1)
	// Later rows spread wider, so that batches widen the bounds.
	for _, s := range spaces {
		for i := range s.Data {
			s.Data[i] *= 1 + 4*float64(i/s.Dim)/600
		}
	}
	for _, tc := range []struct {
		name string
		opts Options
		seq  []int
	}{
		{"ones", Options{TileSize: 64}, []int{1}},
		{"sevens", Options{TileSize: 64}, []int{7}},
		{"hundreds", Options{TileSize: 64, Exponent: 0.5}, []int{100}},
		{"mixed", Options{TileSize: 64, Workers: 3}, []int{3, 50, 1, 200, 13, 64}},
		{"mixed_exponent", Options{TileSize: 64, Exponent: 1.7}, []int{70, 1, 129}},
		{"default_tile", Options{}, []int{5, 300}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, err := Compute(context.Background(), spaces, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			o := online(t, spaces, tc.opts, tc.seq)
			sameResults(t, o.Stats(), want, 1e-12)
		})
	}
}

// TestOnlineRunning: the result after each batch is Compute's on the rows
// so far, including before the plan is fixed (fewer than TileSize rows),
// and one batch of every row gives Compute's bytes.
func TestOnlineRunning(t *testing.T) {
	rng := rand.New(rand.NewPCG(53, 54))
	spaces := randomSpaces(rng, 300, 2, 16)
	opts := Options{TileSize: 64}
	o, err := NewOnline([]int{2, 16}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if o.Stats() != nil {
		t.Errorf("Stats() of no rows is not nil")
	}
	for r := 0; r < 300; r += 30 {
		if err := o.Add(context.Background(), rows(spaces, r, 30)); err != nil {
			t.Fatal(err)
		}
		want, err := Compute(context.Background(), rows(spaces, 0, r+30), opts)
		if err != nil {
			t.Fatal(err)
		}
		sameResults(t, o.Stats(), want, 1e-12)
	}

	whole := online(t, spaces, opts, []int{300})
	want, _ := Compute(context.Background(), spaces, opts)
	if !bytes.Equal(encode(t, whole.Stats()), encode(t, want)) {
		t.Errorf("one batch of every row: state differs from Compute's")
	}
}

func TestOnlineErrors(t *testing.T) {
	if _, err := NewOnline(nil, Options{}); !errors.Is(err, ErrNoSpaces) {
		t.Errorf("NewOnline(no spaces) = %v, want ErrNoSpaces", err)
	}
	if _, err := NewOnline([]int{1, 0}, Options{}); !errors.Is(err, ErrShape) {
		t.Errorf("NewOnline(dim 0) = %v, want ErrShape", err)
	}
	if _, err := NewOnline([]int{1}, Options{Exponent: 2.5}); !errors.Is(err, ErrExponent) {
		t.Errorf("NewOnline(exponent 2.5) = %v, want ErrExponent", err)
	}
	o, err := NewOnline([]int{1, 2}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := o.Add(ctx, []Space{{Data: []float64{1}, Dim: 1}, {Data: []float64{1, 2, 3}, Dim: 3}}); !errors.Is(err, ErrShape) {
		t.Errorf("Add(dim 3 for 2) = %v, want ErrShape", err)
	}
	if err := o.Add(ctx, []Space{{Data: []float64{1, 2}, Dim: 1}, {Data: []float64{1, 2}, Dim: 2}}); !errors.Is(err, ErrSampleCount) {
		t.Errorf("Add(2 rows and 1) = %v, want ErrSampleCount", err)
	}
	if o.N() != 0 {
		t.Errorf("N() = %d after rejected batches, want 0", o.N())
	}
}
