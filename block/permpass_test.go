package block

import (
	"bytes"
	"context"
	"errors"
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
			test := estimator.NewPermutationTest(0, 1, r, tc.n)
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
				test := estimator.NewPermutationTest(0, 1, r, tc.n)
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
				if err := back.UnmarshalBinary(encodePerm(t, test)); err != nil || back.Result(st, perm.Fill) != ref.Result(st, perm.Fill) {
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

// TestPermPassPairs: a pass of several pairs (the entries of a matrix:
// two spaces x, two y, one of them also an x) adds to each pair's test the
// bytes of Permutations of that pair, in memory and from panels.
func TestPermPassPairs(t *testing.T) {
	rng := rand.New(rand.NewPCG(49, 50))
	const n, r = 230, 6
	spaces := randomSpaces(rng, n, 3, 20, 2, 17)
	opts := Options{TileSize: 48, Workers: 2}
	ctx := context.Background()
	st, err := Compute(ctx, spaces, opts)
	if err != nil {
		t.Fatal(err)
	}
	perm := NewPermutation(n, 11)
	pairs := [][2]int{{0, 2}, {0, 3}, {1, 2}, {1, 3}, {3, 1}}
	var want [][]byte
	for _, pr := range pairs {
		ref, err := Permutations(ctx, spaces, st, pr[0], pr[1], r, perm, opts)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, encodePerm(t, ref))
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
	for _, way := range []string{"memory", "forward", "backward"} {
		var tests []*estimator.PermutationTest
		for _, pr := range pairs {
			tests = append(tests, estimator.NewPermutationTest(pr[0], pr[1], r, n))
		}
		held := make([]Space, len(spaces))
		held[1], held[2], held[3] = spaces[1], spaces[2], spaces[3]
		pp, err := pl.NewPermPassPairs(st, tests, pairs, perm, held)
		if err != nil {
			t.Fatal(err)
		}
		drivePass(t, rng, pl, pp, spaces, way, 96, 48)
		for i, test := range tests {
			if !bytes.Equal(encodePerm(t, test), want[i]) {
				t.Errorf("%s: pair %v differs from Permutations", way, pairs[i])
			}
		}
	}
	held := make([]Space, len(spaces))
	held[2] = spaces[2]
	if _, err := pl.NewPermPassPairs(st, []*estimator.PermutationTest{estimator.NewPermutationTest(0, 3, r, n)}, [][2]int{{0, 3}}, perm, held); !errors.Is(err, ErrShape) {
		t.Errorf("space 3 not held: %v", err)
	}
}
