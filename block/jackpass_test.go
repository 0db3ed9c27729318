package block

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/dcor-stream/dcor-stream/estimator"
)

// TestJackPassEqualsJackknife: the jackknife pass of a Plan gives the
// bytes of Jackknife, from the rows in memory with the tiles in any order
// and batches, and from panels of several sizes in either order.
func TestJackPassEqualsJackknife(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	for _, tc := range []struct {
		name           string
		n              int
		dims           []int
		opts           Options
		held, streamed int
	}{
		{"fused_3_spaces", 700, []int{20, 5, 1}, Options{TileSize: 64}, 128, 64},
		{"univariate", 515, []int{1, 1}, Options{TileSize: 32, Workers: 3}, 64, 96},
		{"direct_general_exponent", 300, []int{3, 2}, Options{TileSize: 40, Exponent: 1.3, Workers: 3}, 80, 40},
		{"float32", 400, []int{24, 16}, Options{TileSize: 64, Precision: Float32}, 128, 64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			spaces := randomSpaces(rng, tc.n, tc.dims...)
			st, err := Compute(ctx, spaces, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := Jackknife(ctx, spaces, st, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			want := encodeJack(t, ref)
			pl, err := Prepare(spaces, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := pl.ScanBound(spaces); err != nil {
				t.Fatal(err)
			}
			if _, err := pl.NewStats(); err != nil {
				t.Fatal(err)
			}
			// In memory, the tiles shuffled, in two batches.
			jk := estimator.NewJackknife(st)
			jp, err := pl.NewJackPass(st, jk)
			if err != nil {
				t.Fatal(err)
			}
			g := (tc.n + pl.TileSize() - 1) / pl.TileSize()
			var tiles []Tile
			for i := range g {
				for j := i; j < g; j++ {
					tiles = append(tiles, Tile{i, j})
				}
			}
			rng.Shuffle(len(tiles), func(a, b int) { tiles[a], tiles[b] = tiles[b], tiles[a] })
			count := 0
			for _, part := range [][]Tile{tiles[:len(tiles)/3], tiles[len(tiles)/3:]} {
				if err := jp.AddTiles(ctx, spaces, part, func(Tile) error { count++; return nil }); err != nil {
					t.Fatal(err)
				}
			}
			if got := encodeJack(t, jk); !bytes.Equal(got, want) || count != len(tiles) {
				t.Errorf("in memory: the pass differs from Jackknife (%d of %d tiles reported)", count, len(tiles))
			}
			// From panels, forward and backward.
			for _, backward := range []bool{false, true} {
				jk := estimator.NewJackknife(st)
				jp, err := pl.NewJackPass(st, jk)
				if err != nil {
					t.Fatal(err)
				}
				pn := pl.NewPanel(tc.held, tc.streamed)
				var starts []int
				for i0 := 0; i0 < tc.n; i0 += tc.held {
					starts = append(starts, i0)
				}
				if backward {
					for a, b := 0, len(starts)-1; a < b; a, b = a+1, b-1 {
						starts[a], starts[b] = starts[b], starts[a]
					}
				}
				for _, i0 := range starts {
					pn.Hold(i0)
					m := min(tc.held, tc.n-i0)
					if err := pn.Append(rows(spaces, i0, m)); err != nil {
						t.Fatal(err)
					}
					if err := jp.AddHeld(ctx, pn, nil, nil); err != nil {
						t.Fatal(err)
					}
					from, to := i0+m, tc.n
					if backward {
						from, to = 0, i0
					}
					for j0 := from; j0 < to; j0 += tc.streamed {
						if err := jp.AddStream(ctx, pn, j0, rows(spaces, j0, min(tc.streamed, to-j0)), nil, nil); err != nil {
							t.Fatal(err)
						}
					}
				}
				if got := encodeJack(t, jk); !bytes.Equal(got, want) {
					t.Errorf("panels (backward=%v): the pass differs from Jackknife", backward)
				}
			}
		})
	}
}

// TestJackPassStops: an error of added stops the pass, and the tiles
// added are exactly those reported.
func TestJackPassStops(t *testing.T) {
	ctx := context.Background()
	spaces := randomSpaces(rand.New(rand.NewPCG(5, 6)), 300, 3, 2)
	opts := Options{TileSize: 32, Workers: 2}
	st, err := Compute(ctx, spaces, opts)
	if err != nil {
		t.Fatal(err)
	}
	pl, err := Prepare(spaces, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := pl.ScanBound(spaces); err != nil {
		t.Fatal(err)
	}
	if _, err := pl.NewStats(); err != nil {
		t.Fatal(err)
	}
	var tiles []Tile
	for i := range 10 {
		for j := i; j < 10; j++ {
			tiles = append(tiles, Tile{i, j})
		}
	}
	jk := estimator.NewJackknife(st)
	jp, err := pl.NewJackPass(st, jk)
	if err != nil {
		t.Fatal(err)
	}
	var got []Tile
	stop := context.Canceled
	err = jp.AddTiles(ctx, spaces, tiles, func(tl Tile) error {
		got = append(got, tl)
		if len(got) == 7 {
			return stop
		}
		return nil
	})
	if err != stop {
		t.Fatalf("AddTiles = %v, want %v", err, stop)
	}
	// The rest added after: the whole pass.
	done := map[Tile]bool{}
	for _, tl := range got {
		done[tl] = true
	}
	var rest []Tile
	for _, tl := range tiles {
		if !done[tl] {
			rest = append(rest, tl)
		}
	}
	if err := jp.AddTiles(ctx, spaces, rest, nil); err != nil {
		t.Fatal(err)
	}
	ref, err := Jackknife(ctx, spaces, st, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(encodeJack(t, jk), encodeJack(t, ref)) {
		t.Error("a pass stopped after 7 tiles and resumed differs from Jackknife")
	}
}

func encodeJack(t *testing.T, jk *estimator.Jackknife) []byte {
	t.Helper()
	b, err := jk.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestJackknifeEncoding: the jackknife sums round-trip through their
// encoding (to the bytes and the standard errors), the halves of a pass
// merge to the whole in either order without changing their argument,
// and any flipped byte is refused.
func TestJackknifeEncoding(t *testing.T) {
	ctx := context.Background()
	spaces := randomSpaces(rand.New(rand.NewPCG(7, 8)), 200, 4, 1, 2)
	opts := Options{TileSize: 32}
	st, err := Compute(ctx, spaces, opts)
	if err != nil {
		t.Fatal(err)
	}
	whole, err := Jackknife(ctx, spaces, st, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := encodeJack(t, whole)
	pl, err := Prepare(spaces, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := pl.ScanBound(spaces); err != nil {
		t.Fatal(err)
	}
	if _, err := pl.NewStats(); err != nil {
		t.Fatal(err)
	}
	var tiles []Tile
	for i := range 7 {
		for j := i; j < 7; j++ {
			tiles = append(tiles, Tile{i, j})
		}
	}
	half := func(part []Tile) *estimator.Jackknife {
		jk := estimator.NewJackknife(st)
		jp, err := pl.NewJackPass(st, jk)
		if err != nil {
			t.Fatal(err)
		}
		if err := jp.AddTiles(ctx, spaces, part, nil); err != nil {
			t.Fatal(err)
		}
		// Through the encoding, bound again.
		back := new(estimator.Jackknife)
		if err := back.UnmarshalBinary(encodeJack(t, jk)); err != nil {
			t.Fatal(err)
		}
		if err := back.SetStats(st); err != nil {
			t.Fatal(err)
		}
		return back
	}
	a, b := half(tiles[:11]), half(tiles[11:])
	bb := encodeJack(t, b)
	if err := a.Merge(b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(encodeJack(t, a), want) {
		t.Error("the merged halves differ from the whole pass")
	}
	if !bytes.Equal(encodeJack(t, b), bb) {
		t.Error("Merge changed its argument")
	}
	pa, _ := a.PartialSE(0, 1, 2)
	pw, _ := whole.PartialSE(0, 1, 2)
	if a.Pair(0, 1) != whole.Pair(0, 1) || pa != pw {
		t.Error("the decoded and merged sums give other standard errors")
	}
	for i := range want {
		c := append([]byte(nil), want...)
		c[i] ^= 0x10
		if err := new(estimator.Jackknife).UnmarshalBinary(c); !errors.Is(err, estimator.ErrCorrupt) && !errors.Is(err, estimator.ErrVersion) {
			t.Fatalf("byte %d flipped: %v, want ErrCorrupt", i, err)
		}
	}
	if err := new(estimator.Jackknife).SetStats(st); err == nil {
		t.Error("SetStats of an empty jackknife to a state of 3 spaces: no error")
	}
}
