package block

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/dcor-stream/dcor-stream/estimator"
)

// rows returns the rows [r0, r0+m) of every space.
func rows(spaces []Space, r0, m int) []Space {
	out := make([]Space, len(spaces))
	for k, s := range spaces {
		out[k] = Space{Data: s.Data[r0*s.Dim : (r0+m)*s.Dim], Dim: s.Dim}
	}
	return out
}

// outOfCore runs the out-of-core schedule over spaces as the command does
// over a file: a first pass of blocks of scan rows into the bounds, then
// for each panel of held rows (in the order of panels, reversed if
// backward), the held tiles and every later (earlier, if backward) block
// of streamed rows.
func outOfCore(t *testing.T, spaces []Space, opts Options, held, streamed, scan int, backward bool) *estimator.Stats {
	t.Helper()
	ctx := context.Background()
	n := spaces[0].Rows()
	pl, err := Prepare(rows(spaces, 0, min(n, LeadRows(opts))), opts)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	for r := 0; r < n; r += scan {
		if err := pl.ScanBound(rows(spaces, r, min(scan, n-r))); err != nil {
			t.Fatalf("ScanBound: %v", err)
		}
	}
	st, err := pl.NewStats()
	if err != nil {
		t.Fatalf("NewStats: %v", err)
	}
	pn := pl.NewPanel(held, streamed)
	var starts []int
	for i0 := 0; i0 < n; i0 += held {
		starts = append(starts, i0)
	}
	if backward {
		for a, b := 0, len(starts)-1; a < b; a, b = a+1, b-1 {
			starts[a], starts[b] = starts[b], starts[a]
		}
	}
	for _, i0 := range starts {
		pn.Hold(i0)
		m := min(held, n-i0)
		// Fill the panel in pieces, as from blocks of a pass.
		for r := i0; r < i0+m; r += streamed {
			if err := pn.Append(rows(spaces, r, min(streamed, i0+m-r))); err != nil {
				t.Fatalf("Append: %v", err)
			}
		}
		if err := pn.AddHeld(ctx, st); err != nil {
			t.Fatalf("AddHeld: %v", err)
		}
		from, to := i0+m, n
		if backward {
			from, to = 0, i0
		}
		for j0 := from; j0 < to; j0 += streamed {
			if err := pn.AddStream(ctx, st, j0, rows(spaces, j0, min(streamed, to-j0))); err != nil {
				t.Fatalf("AddStream: %v", err)
			}
		}
	}
	return st
}

func randomSpaces(rng *rand.Rand, n int, dims ...int) []Space {
	out := make([]Space, len(dims))
	for k, d := range dims {
		x := make([]float64, n*d)
		for i := range x {
			x[i] = rng.NormFloat64() + float64(k)
			if k > 0 && i%d == 0 {
				x[i] += out[0].Data[(i/d)*out[0].Dim] // some dependence
			}
		}
		out[k] = Space{Data: x, Dim: d}
	}
	return out
}

// TestPlanEqualsCompute: the out-of-core schedule gives the bytes of
// Compute, for panels and blocks of several sizes, in either order, with
// either kernel path and several exponents.
func TestPlanEqualsCompute(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	for _, tc := range []struct {
		name                 string
		n                    int
		dims                 []int
		opts                 Options
		held, streamed, scan int
	}{
		{"fused_3_spaces", 700, []int{20, 5, 1}, Options{TileSize: 64}, 128, 64, 100},
		{"fused_held_not_streamed_multiple", 650, []int{32, 16}, Options{TileSize: 64, Exponent: 0.5}, 192, 128, 77},
		{"univariate", 515, []int{1, 1}, Options{TileSize: 32}, 64, 96, 515},
		{"direct_general_exponent", 300, []int{3, 2}, Options{TileSize: 40, Exponent: 1.3, Workers: 3}, 80, 40, 7},
		{"one_panel", 200, []int{17, 2}, Options{TileSize: 64}, 256, 64, 50},
		{"tile_one_row", 20, []int{2, 16}, Options{TileSize: 1, Workers: 2}, 3, 2, 5},
		{"more_than_4096_rows", 4500, []int{1, 3}, Options{}, 1024, 512, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spaces := randomSpaces(rng, tc.n, tc.dims...)
			want, err := Compute(context.Background(), spaces, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			wb := encode(t, want)
			for _, backward := range []bool{false, true} {
				got := outOfCore(t, spaces, tc.opts, tc.held, tc.streamed, tc.scan, backward)
				if gb := encode(t, got); !bytes.Equal(gb, wb) {
					t.Errorf("backward=%v: out-of-core state differs from Compute's: pair %+v, want %+v", backward, got.Pair(0, 1), want.Pair(0, 1))
				}
			}
		})
	}
}

func TestPlanErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	ctx := context.Background()
	spaces := randomSpaces(rng, 300, 4, 18)
	opts := Options{TileSize: 64}
	short, err := Prepare(rows(spaces, 0, 100), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := short.ScanBound(rows(spaces, 0, 101)); !errors.Is(err, ErrSampleCount) {
		t.Errorf("ScanBound of 101 rows after Prepare with all of 100: %v, want ErrSampleCount", err)
	}
	if err := short.ScanBound(rows(spaces, 0, 99)); err != nil {
		t.Fatal(err)
	}
	if _, err := short.NewStats(); !errors.Is(err, ErrSampleCount) {
		t.Errorf("NewStats after 99 rows scanned, Prepare with all of 100: %v, want ErrSampleCount", err)
	}
	if _, err := Prepare(spaces, Options{Exponent: 3}); !errors.Is(err, ErrExponent) {
		t.Errorf("Prepare exponent 3: %v, want ErrExponent", err)
	}
	pl, err := Prepare(spaces, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := pl.ScanBound(rows(spaces[:1], 0, 10)); !errors.Is(err, ErrShape) {
		t.Errorf("ScanBound of 1 space: %v, want ErrShape", err)
	}
	if err := pl.ScanBound(spaces); err != nil {
		t.Fatal(err)
	}
	st, err := pl.NewStats()
	if err != nil {
		t.Fatal(err)
	}
	pn := pl.NewPanel(128, 128)
	pn.Hold(64)
	if err := pn.Append(rows(spaces, 64, 100)); err != nil {
		t.Fatal(err)
	}
	if err := pn.AddHeld(ctx, st); !errors.Is(err, ErrRange) {
		t.Errorf("AddHeld of 100 rows, tiles of 64: %v, want ErrRange", err)
	}
	pn.Hold(0)
	if err := pn.Append(rows(spaces, 0, 128)); err != nil {
		t.Fatal(err)
	}
	if err := pn.AddStream(ctx, st, 64, rows(spaces, 64, 64)); !errors.Is(err, ErrRange) {
		t.Errorf("AddStream overlapping the held rows: %v, want ErrRange", err)
	}
	if err := pn.AddStream(ctx, st, 130, rows(spaces, 130, 64)); !errors.Is(err, ErrRange) {
		t.Errorf("AddStream at row 130: %v, want ErrRange", err)
	}
	far := rows(spaces, 128, 64)
	far[1].Data = append([]float64(nil), far[1].Data...)
	far[1].Data[5] = 1e6
	if err := pn.AddStream(ctx, st, 128, far); !errors.Is(err, ErrBound) {
		t.Errorf("AddStream of a changed row: %v, want ErrBound", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := pn.AddStream(cctx, st, 128, rows(spaces, 128, 64)); !errors.Is(err, context.Canceled) {
		t.Errorf("AddStream cancelled: %v, want context.Canceled", err)
	}
}
