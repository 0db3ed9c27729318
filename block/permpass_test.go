package block

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"

	"github.com/dcor-stream/dcor-stream/estimator"
)

// TestPermPassEqualsPermutations: the permutation pass of a Plan gives the
// bytes of Permutations, from the rows in memory with the tiles in any
// order, and from panels in either order, for a Gram and a direct y.
func TestPermPassEqualsPermutations(t *testing.T) {
	rng := rand.New(rand.NewPCG(45, 46))
	for _, tc := range []struct {
		name           string
		n              int
		dims           []int
		opts           Options
		held, streamed int
	}{
		{"gram", 500, []int{20, 17}, Options{TileSize: 64, Workers: 2}, 128, 64},
		{"direct_y", 300, []int{20, 3}, Options{TileSize: 40, Workers: 3}, 80, 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			spaces := randomSpaces(rng, tc.n, tc.dims...)
			st, err := Compute(ctx, spaces, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			perm := NewPermutation(tc.n, 9)
			const r = 5
			ref, err := Permutations(ctx, spaces, st, 0, 1, r, perm, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			want := encodePerm(t, ref)
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
			g := (tc.n + pl.TileSize() - 1) / pl.TileSize()
			var tiles []Tile
			for i := range g {
				for j := i; j < g; j++ {
					tiles = append(tiles, Tile{i, j})
				}
			}
			rng.Shuffle(len(tiles), func(a, b int) { tiles[a], tiles[b] = tiles[b], tiles[a] })
			test := estimator.NewPermutationTest(0, 1, r)
			pp, err := pl.NewPermPass(st, test, 0, 1, perm, spaces[1])
			if err != nil {
				t.Fatal(err)
			}
			for _, part := range [][]Tile{tiles[:len(tiles)/2], tiles[len(tiles)/2:]} {
				if err := pp.AddTiles(ctx, spaces, part, nil); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(encodePerm(t, test), want) {
				t.Error("in memory: the pass differs from Permutations")
			}
			for _, backward := range []bool{false, true} {
				test := estimator.NewPermutationTest(0, 1, r)
				pp, err := pl.NewPermPass(st, test, 0, 1, perm, spaces[1])
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
					if err := pp.AddHeld(ctx, pn, nil, nil); err != nil {
						t.Fatal(err)
					}
					from, to := i0+m, tc.n
					if backward {
						from, to = 0, i0
					}
					for j0 := from; j0 < to; j0 += tc.streamed {
						if err := pp.AddStream(ctx, pn, j0, rows(spaces, j0, min(tc.streamed, to-j0)), nil, nil); err != nil {
							t.Fatal(err)
						}
					}
				}
				if !bytes.Equal(encodePerm(t, test), want) {
					t.Errorf("panels (backward=%v): the pass differs from Permutations", backward)
				}
				back := new(estimator.PermutationTest)
				if err := back.UnmarshalBinary(encodePerm(t, test)); err != nil || back.Result(st, perm.At) != ref.Result(st, perm.At) {
					t.Errorf("decoded: %v", err)
				}
			}
		})
	}
}

func encodePerm(t *testing.T, pt *estimator.PermutationTest) []byte {
	t.Helper()
	b, err := pt.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
