package block

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/dcor-stream/dcor-stream/estimator"

	"gonum.org/v1/gonum/floats/scalar"
)

// bruteProjection returns sum_{i≠j} P_xz,ij·P_yz,π(i)π(j) by plain loops
// over the definition (energy's projection), holding O(n) values.
func bruteProjection(sp []Space, pi func(int) int) float64 {
	n := sp[0].Rows()
	nf := float64(n)
	rows := func(s Space) ([]float64, float64) {
		r := make([]float64, n)
		var t float64
		for i := range n {
			for j := range n {
				if i != j {
					r[i] += dist(s, i, j, 1)
				}
			}
			t += r[i]
		}
		return r, t
	}
	rx, tx := rows(sp[0])
	ry, ty := rows(sp[1])
	rz, tz := rows(sp[2])
	u := func(s Space, r []float64, t float64, i, j int) float64 {
		return dist(s, i, j, 1) - (r[i]+r[j])/(nf-2) + t/((nf-1)*(nf-2))
	}
	var uxz, uyz, uzz float64
	for i := range n {
		for j := range n {
			if i != j {
				z := u(sp[2], rz, tz, i, j)
				uxz += u(sp[0], rx, tx, i, j) * z
				uyz += u(sp[1], ry, ty, i, j) * z
				uzz += z * z
			}
		}
	}
	bx, by := uxz/uzz, uyz/uzz
	var s float64
	for i := range n {
		for j := range n {
			if i == j {
				continue
			}
			pxz := u(sp[0], rx, tx, i, j) - bx*u(sp[2], rz, tz, i, j)
			a, b := pi(i), pi(j)
			pyz := u(sp[1], ry, ty, a, b) - by*u(sp[2], rz, tz, a, b)
			s += pxz * pyz
		}
	}
	return s
}

// TestPartialPermutationsBruteForce: the statistic equals energy's
// teststat computed by plain loops, and each replicate's exceedance
// agrees, for direct and Gram spaces; 1 and 3 workers agree.
func TestPartialPermutationsBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 1))
	for _, dims := range [][3]int{{1, 1, 1}, {3, 2, 2}, {18, 2, 17}} {
		t.Run(fmt.Sprint(dims), func(t *testing.T) {
			const n, r = 40, 30
			sp := []Space{randSpace(rng, n, dims[0]), randSpace(rng, n, dims[1]), randSpace(rng, n, dims[2])}
			for i := range n { // x and y both depend on z, and weakly on each other
				sp[0].Data[i*dims[0]] += 0.8 * sp[2].Data[i*dims[2]]
				sp[1].Data[i*dims[1]] += 0.8*sp[2].Data[i*dims[2]] + 0.3*sp[0].Data[i*dims[0]]
			}
			perm := NewPermutation(n, 3)
			opts := Options{TileSize: 16, Workers: 3}
			st, err := Compute(t.Context(), sp, opts)
			if err != nil {
				t.Fatal(err)
			}
			got, err := PartialPermutations(t.Context(), sp, st, 0, 1, 2, r, perm, opts)
			if err != nil {
				t.Fatal(err)
			}
			obs := bruteProjection(sp, func(i int) int { return i })
			if want := obs / (n - 3); !scalar.EqualWithinAbsOrRel(got.Statistic, want, 1e-12, 1e-9) {
				t.Errorf("statistic %.17g, brute force %.17g", got.Statistic, want)
			}
			exceed := 0
			for b := range r {
				if pb := perm.Of(b); bruteProjection(sp, func(i int) int { return pb[i] }) >= obs {
					exceed++
				}
			}
			if got.Exceed != exceed {
				t.Errorf("exceed %d, brute force %d", got.Exceed, exceed)
			}
			one, err := PartialPermutations(t.Context(), sp, st, 0, 1, 2, r, perm, Options{TileSize: 16, Workers: 1})
			if err != nil || one != got {
				t.Errorf("1 worker: %+v %v, 3 workers %+v", one, err, got)
			}
			t.Logf("pdcov statistic %.4g, p = %.3f", got.Statistic, got.P)
		})
	}
}

// TestPartialPermPassEqualsPartialPermutations: the pass of pdcov's test,
// alone and with the test of independence, gives the same sums from the
// rows in memory with the tiles in any order and from panels in either
// order, equal to PartialPermutations' result, for Gram and direct
// spaces; the independence sums it adds are those of Permutations.
func TestPartialPermPassEqualsPartialPermutations(t *testing.T) {
	rng := rand.New(rand.NewPCG(47, 48))
	for _, tc := range []struct {
		name           string
		n              int
		dims           []int
		opts           Options
		held, streamed int
		xz, xy         float64 // x's and y's dependence on z, y's on x
	}{
		{"gram", 300, []int{20, 17, 18}, Options{TileSize: 64, Workers: 2}, 128, 64, 0.8, 0.3},
		{"direct", 200, []int{3, 2, 1}, Options{TileSize: 40, Workers: 3}, 80, 40, 0, 0}, // the null: p spread
		{"mixed", 170, []int{2, 20, 3}, Options{TileSize: 32, Workers: 2}, 64, 32, 0.8, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			spaces := []Space{randSpace(rng, tc.n, tc.dims[0]), randSpace(rng, tc.n, tc.dims[1]), randSpace(rng, tc.n, tc.dims[2])}
			for i := range tc.n {
				d0, d1, d2 := tc.dims[0], tc.dims[1], tc.dims[2]
				spaces[0].Data[i*d0] += tc.xz * spaces[2].Data[i*d2]
				spaces[1].Data[i*d1] += tc.xz*spaces[2].Data[i*d2] + tc.xy*spaces[0].Data[i*d0]
			}
			st, err := Compute(ctx, spaces, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			perm := NewPermutation(tc.n, 9)
			const r = 19
			ref, err := PartialPermutations(ctx, spaces, st, 0, 1, 2, r, perm, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			indep, err := Permutations(ctx, spaces, st, 0, 1, r, perm, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
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
			var want []byte
			for _, way := range []string{"memory", "forward", "backward"} {
				for _, both := range []bool{false, true} {
					pt := estimator.NewPartialPermutationTest(0, 1, 2, r)
					var test *estimator.PermutationTest
					if both {
						test = estimator.NewPermutationTest(0, 1, r, tc.n)
					}
					pp, err := pl.NewPartialPermPass(st, test, pt, 0, 1, 2, perm, spaces[1], spaces[2])
					if err != nil {
						t.Fatal(err)
					}
					drivePass(t, rng, pl, pp, spaces, way, tc.held, tc.streamed)
					got := encodeAny(t, pt)
					if want == nil {
						want = got
					}
					if !bytes.Equal(got, want) {
						t.Errorf("%s (with the independence test %v): other sums", way, both)
					}
					if res := pt.Result(tc.n); res.Statistic != ref.Statistic || res.Exceed != ref.Exceed || res.P != ref.P {
						t.Errorf("%s: %+v, PartialPermutations %+v", way, res, ref)
					}
					if both && !bytes.Equal(encodeAny(t, test), encodeAny(t, indep)) {
						t.Errorf("%s: the independence sums differ from Permutations'", way)
					}
					back := new(estimator.PartialPermutationTest)
					if err := back.UnmarshalBinary(got); err != nil || back.Result(tc.n) != pt.Result(tc.n) {
						t.Errorf("decoded: %v", err)
					}
				}
			}
			t.Logf("pdcov statistic %.4g, exceed %d of %d", ref.Statistic, ref.Exceed, r)
		})
	}
}

// drivePass adds every tile of the grid to pp: in memory ("memory": the
// tiles shuffled, in two calls) or from panels of held rows, first to
// last ("forward") or last to first ("backward").
func drivePass(t *testing.T, rng *rand.Rand, pl *Plan, pp interface {
	AddTiles(context.Context, []Space, []Tile, func(Tile) error) error
	AddHeld(context.Context, *Panel, func(Tile) bool, func(Tile) error) error
	AddStream(context.Context, *Panel, int, []Space, func(Tile) bool, func(Tile) error) error
}, spaces []Space, way string, held, streamed int) {
	t.Helper()
	ctx := context.Background()
	n := pl.N()
	if way == "memory" {
		g := (n + pl.TileSize() - 1) / pl.TileSize()
		var tiles []Tile
		for i := range g {
			for j := i; j < g; j++ {
				tiles = append(tiles, Tile{i, j})
			}
		}
		rng.Shuffle(len(tiles), func(a, b int) { tiles[a], tiles[b] = tiles[b], tiles[a] })
		for _, part := range [][]Tile{tiles[:len(tiles)/2], tiles[len(tiles)/2:]} {
			if err := pp.AddTiles(ctx, spaces, part, nil); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	backward := way == "backward"
	pn := pl.NewPanel(held, streamed)
	var starts []int
	for i0 := 0; i0 < n; i0 += held {
		starts = append(starts, i0)
	}
	if backward {
		slices.Reverse(starts)
	}
	for _, i0 := range starts {
		pn.Hold(i0)
		m := min(held, n-i0)
		if err := pn.Append(rows(spaces, i0, m)); err != nil {
			t.Fatal(err)
		}
		if err := pp.AddHeld(ctx, pn, nil, nil); err != nil {
			t.Fatal(err)
		}
		from, to := i0+m, n
		if backward {
			from, to = 0, i0
		}
		for j0 := from; j0 < to; j0 += streamed {
			if err := pp.AddStream(ctx, pn, j0, rows(spaces, j0, min(streamed, to-j0)), nil, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func encodeAny(t *testing.T, m interface{ MarshalBinary() ([]byte, error) }) []byte {
	t.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
