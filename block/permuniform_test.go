package block

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/dcor-stream/dcor-stream/estimator"
)

// falseAlarm is the false-alarm rate of the χ² tests of the permutations:
// each fails with probability 10⁻⁶ if they are uniform (the seeds are
// fixed, so a pass is a pass for ever).
const falseAlarm = 1e-6

// chiSquare returns Σ (c − e)²/e over the counts c, each expected e.
func chiSquare(counts []int, e float64) float64 {
	var chi float64
	for _, c := range counts {
		d := float64(c) - e
		chi += d * d / e
	}
	return chi
}

// chiCritical returns the χ² value of df degrees of freedom exceeded
// with probability falseAlarm.
func chiCritical(df int) float64 {
	return distuv.ChiSquared{K: float64(df)}.Quantile(1 - falseAlarm)
}

// TestPermutationChiSquare: the permutations π_b, b < B, of one seed are
// uniform to a χ² test at a false-alarm rate of 10⁻⁶ on the positions
// (counts of π(i) = v, df (n−1)²), on the ordered pairs of three pairs of
// positions ((π(i), π(j)), df n(n−1) − 1) and, for n ≤ 8, on the whole
// permutation (df n! − 1). The 4-round Feistel network of scheme 1 failed
// each (χ² 73,279 on 119 df at n = 5; 31,415 of 40,320 orders at n = 8;
// positions 5σ high at n = 100 with B = 50,000).
func TestPermutationChiSquare(t *testing.T) {
	for _, n := range []int{5, 8, 16, 64, 100} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			p := NewPermutation(n, 20261207)
			const draws = 200000
			pos := make([]int, n*n)
			pairs := [][2]int{{0, 1}, {n - 2, n - 1}, {0, n - 1}}
			pairCounts := make([][]int, len(pairs))
			for k := range pairs {
				pairCounts[k] = make([]int, n*n)
			}
			full := map[string]int{}
			pi := make([]int, n)
			for b := range draws {
				p.Fill(b, pi)
				for i, v := range pi {
					pos[i*n+v]++
				}
				for k, pr := range pairs {
					pairCounts[k][pi[pr[0]]*n+pi[pr[1]]]++
				}
				if n <= 8 {
					full[fmt.Sprint(pi)]++
				}
			}
			if chi, crit := chiSquare(pos, draws/float64(n)), chiCritical((n-1)*(n-1)); chi > crit {
				t.Errorf("positions: χ² = %.0f on %d df, beyond %.0f", chi, (n-1)*(n-1), crit)
			}
			for k, pr := range pairs {
				// The n cells (v, v) are impossible: leave them out.
				var cells []int
				for v := range n * n {
					if v/n != v%n {
						cells = append(cells, pairCounts[k][v])
					}
				}
				df := n*(n-1) - 1
				if chi, crit := chiSquare(cells, draws/float64(n*(n-1))), chiCritical(df); chi > crit {
					t.Errorf("pair of positions %v: χ² = %.0f on %d df, beyond %.0f", pr, chi, df, crit)
				}
			}
			if n <= 8 {
				fact := 1
				for k := 2; k <= n; k++ {
					fact *= k
				}
				counts := make([]int, 0, fact)
				for _, c := range full {
					counts = append(counts, c)
				}
				for len(counts) < fact {
					counts = append(counts, 0) // an order never drawn
				}
				if chi, crit := chiSquare(counts, draws/float64(fact)), chiCritical(fact-1); chi > crit {
					t.Errorf("%d orders drawn of %d: χ² = %.0f on %d df, beyond %.0f", len(full), fact, chi, fact-1, crit)
				}
			}
		})
	}
}

// parity returns 0 for an even permutation, 1 for an odd one.
func parity(pi []int) int {
	seen := make([]bool, len(pi))
	cycles := 0
	for i := range pi {
		if !seen[i] {
			cycles++
			for j := i; !seen[j]; j = pi[j] {
				seen[j] = true
			}
		}
	}
	return (len(pi) - cycles) % 2
}

// TestPermutationParity: at n = 16 and 64 (sizes 4^k, where every
// permutation of scheme 1 was even) half the permutations are odd, to a
// binomial bound of false-alarm rate below 10⁻⁶ (5.3 σ).
func TestPermutationParity(t *testing.T) {
	for _, n := range []int{16, 64, 17} {
		p := NewPermutation(n, 7)
		const draws = 20000
		odd := 0
		for b := range draws {
			odd += parity(p.Of(b))
		}
		if d := math.Abs(float64(odd) - draws/2); d > 5.3*math.Sqrt(draws/4.0) {
			t.Errorf("n=%d: %d odd permutations of %d, want about half", n, odd, draws)
		}
	}
}

// TestPermutationSeedsAndIndices: π_b depends on the seed and on b (no two
// of the first permutations of two seeds are equal at n = 1000), and on
// nothing else: the same π_b for any order of b.
func TestPermutationSeedsAndIndices(t *testing.T) {
	const n = 1000
	a, b := NewPermutation(n, 1), NewPermutation(n, 2)
	seen := map[string]bool{}
	for k := range 50 {
		for _, p := range []*Permutation{a, b} {
			key := fmt.Sprint(p.Of(k))
			if seen[key] {
				t.Fatalf("permutation %d repeats", k)
			}
			seen[key] = true
		}
	}
	if fmt.Sprint(a.Of(49)) != fmt.Sprint(NewPermutation(n, 1).Of(49)) {
		t.Error("π_49 differs between two Permutations of the same seed")
	}
}

// spaceOfInts returns v as a univariate space.
func spaceOfInts(v []int) Space {
	s := Space{Data: make([]float64, len(v)), Dim: 1}
	for i, x := range v {
		s.Data[i] = float64(x)
	}
	return s
}

// exactDeltas returns, for integer data (univariate, α = 1, so every
// distance is an integer), Δ_U(π) = (n−2)ΔS − 2ΔQ and Δ_V = nΔS − 2ΔQ of
// a permutation against the identity, in exact integers.
func exactDeltas(x, y []int, pi []int) (du, dv int64) {
	n := len(x)
	a := func(v []int, i, j int) int64 {
		d := int64(v[i] - v[j])
		if d < 0 {
			d = -d
		}
		return d
	}
	var s0, s, q0, q int64
	rx, ry := make([]int64, n), make([]int64, n)
	for i := range n {
		for j := range n {
			rx[i] += a(x, i, j)
			ry[i] += a(y, i, j)
			s0 += a(x, i, j) * a(y, i, j)
			s += a(x, i, j) * a(y, pi[i], pi[j])
		}
	}
	for i := range n {
		q0 += rx[i] * ry[i]
		q += rx[i] * ry[pi[i]]
	}
	ds, dq := s-s0, q-q0
	return int64(n-2)*ds - 2*dq, int64(n)*ds - 2*dq
}

// permutations calls f with every permutation of [0, n) (Heap's
// algorithm).
func permutations(n int, f func([]int)) {
	pi := make([]int, n)
	for i := range pi {
		pi[i] = i
	}
	c := make([]int, n)
	f(pi)
	for i := 0; i < n; {
		if c[i] < i {
			if i%2 == 0 {
				pi[0], pi[i] = pi[i], pi[0]
			} else {
				pi[c[i]], pi[i] = pi[i], pi[c[i]]
			}
			f(pi)
			c[i]++
			i = 0
		} else {
			c[i] = 0
			i++
		}
	}
}

// TestPermutationPValueExact: at n = 5…8 on integer data (ties exact) the
// test's p-values at R = 20,000 are within 5 Monte-Carlo standard errors
// of the exact permutation p-values over all n! orders (brute force), for
// the U and the V statistic; and its exceedances equal the exact count
// over its own permutations. With scheme 1, n = 8 was 40 SE off.
func TestPermutationPValueExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	const r = 20000
	for n := 5; n <= 8; n++ {
		for c := range 3 {
			x, y := make([]int, n), make([]int, n)
			for i := range n {
				switch c {
				case 0: // dependent
					x[i] = rng.IntN(10)
					y[i] = x[i] + rng.IntN(7) - 3
				case 1: // two groups
					y[i] = i % 2
					x[i] = 5*y[i] + rng.IntN(2)
				default: // independent
					x[i], y[i] = rng.IntN(4), rng.IntN(4)
				}
			}
			t.Run(fmt.Sprintf("n=%d/%d", n, c), func(t *testing.T) {
				sp := []Space{spaceOfInts(x), spaceOfInts(y)}
				st, err := Compute(t.Context(), sp, Options{})
				if err != nil {
					t.Fatal(err)
				}
				perm := NewPermutation(n, 3)
				pt, err := Permutations(t.Context(), sp, st, 0, 1, r, perm, Options{Workers: 2})
				if err != nil {
					t.Fatal(err)
				}
				got := pt.Result(st, perm.Fill)
				own, ownV := 0, 0
				pi := make([]int, n)
				for b := range r {
					perm.Fill(b, pi)
					du, dv := exactDeltas(x, y, pi)
					own += int(b2i(du >= 0))
					ownV += int(b2i(dv >= 0))
				}
				if got.Exceed != own || got.ExceedV != ownV {
					t.Errorf("exceedances %d, %d; exact over the same permutations %d, %d", got.Exceed, got.ExceedV, own, ownV)
				}
				var all, ex, exV int
				permutations(n, func(pi []int) {
					du, dv := exactDeltas(x, y, pi)
					all++
					ex += int(b2i(du >= 0))
					exV += int(b2i(dv >= 0))
				})
				for _, k := range []struct {
					name  string
					got   int
					exact float64
				}{{"U", got.Exceed, float64(ex) / float64(all)}, {"V", got.ExceedV, float64(exV) / float64(all)}} {
					p := float64(k.got) / r
					se := math.Sqrt(k.exact * (1 - k.exact) / r)
					if math.Abs(p-k.exact) > 5*se+1e-12 {
						t.Errorf("%s: share exceeding %.5f, exact over all %d! orders %.5f (%.1f SE)", k.name, p, n, k.exact, (p-k.exact)/se)
					}
				}
			})
		}
	}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// TestPermutationTiesExact: ties are decided on exact sums. When x's
// U-centred distance matrix is exactly 0 (every row but one equal), every
// permutation ties and p = 1 (scheme 1 printed 0.157 at R = 50: rounded
// products a'·b' turned the ties into noise); and for two-valued x and y
// of non-integer values (their shifted distances are not integers, so
// float sums of products in other orders round differently), the
// exceedances equal the exact count of the same permutations.
func TestPermutationTiesExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	const n, r = 20, 200
	x := Space{Data: make([]float64, n), Dim: 1}
	y := Space{Data: make([]float64, n), Dim: 1}
	for i := range n {
		x.Data[i] = 1
		y.Data[i] = rng.NormFloat64()
	}
	x.Data[3] = 7
	for _, opts := range []Options{{}, {TileSize: 6, Workers: 2}} {
		sp := []Space{x, y}
		st, err := Compute(t.Context(), sp, opts)
		if err != nil {
			t.Fatal(err)
		}
		perm := NewPermutation(n, 1)
		pt, err := Permutations(t.Context(), sp, st, 0, 1, r, perm, opts)
		if err != nil {
			t.Fatal(err)
		}
		if got := pt.Result(st, perm.Fill); got.P != 1 || got.Exceed != r {
			t.Errorf("tile %d: all rows of x but one equal: p = %v (%d of %d exceed), want 1", opts.TileSize, got.P, got.Exceed, r)
		}
	}

	// Two values 0.1·k of x and 0.3·k of y (k ∈ {0, 1}), scaled: the
	// distances are 0 or 0.1 (0.3), the U numerators integers times
	// 0.1·0.3 in exact arithmetic, with many exact ties.
	const m = 14
	xi, yi := make([]int, m), make([]int, m)
	xs, ys := Space{Data: make([]float64, m), Dim: 1}, Space{Data: make([]float64, m), Dim: 1}
	for i := range m {
		xi[i], yi[i] = rng.IntN(2), rng.IntN(2)
		if i < 4 {
			yi[i] = xi[i]
		}
		xs.Data[i], ys.Data[i] = 0.1*float64(xi[i]), 0.3*float64(yi[i])
	}
	sp := []Space{xs, ys}
	for _, opts := range []Options{{}, {TileSize: 5, Workers: 2}} {
		st, err := Compute(t.Context(), sp, opts)
		if err != nil {
			t.Fatal(err)
		}
		perm := NewPermutation(m, 2)
		pt, err := Permutations(t.Context(), sp, st, 0, 1, r, perm, opts)
		if err != nil {
			t.Fatal(err)
		}
		got := pt.Result(st, perm.Fill)
		own, ownV, ties := 0, 0, 0
		pi := make([]int, m)
		for b := range r {
			perm.Fill(b, pi)
			// The distances are 0.1·|Δk| and 0.3·|Δk|: the deltas are
			// 0.03 times those of the integers k.
			du, dv := exactDeltas(xi, yi, pi)
			own += int(b2i(du >= 0))
			ownV += int(b2i(dv >= 0))
			ties += int(b2i(du == 0))
		}
		if ties == 0 {
			t.Fatal("no exact tie among the permutations: the test tests nothing")
		}
		if got.Exceed != own || got.ExceedV != ownV {
			t.Errorf("tile %d: exceedances %d, %d; exact %d, %d (%d exact ties)", opts.TileSize, got.Exceed, got.ExceedV, own, ownV, ties)
		}
	}
}

// TestPermPassCancel: a pass cancelled after k permutations of the first
// tiles returns the context's error before all R permutations of them are
// done, having added only whole tiles; a pass over the tiles not added,
// resumed from the encoding of what was, gives the bytes of one
// uninterrupted pass.
func TestPermPassCancel(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	const n, r = 150, 400
	spaces := randomSpaces(rng, n, 3, 2)
	opts := Options{TileSize: 32, Workers: 2}
	ctx := context.Background()
	st, err := Compute(ctx, spaces, opts)
	if err != nil {
		t.Fatal(err)
	}
	perm := NewPermutation(n, 21)
	ref, err := Permutations(ctx, spaces, st, 0, 1, r, perm, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := encodePerm(t, ref)
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
	tiles := pl.allTiles()
	for _, k := range []int64{1, 450, 2000} {
		test := estimator.NewPermutationTest(0, 1, r, n)
		pp, err := pl.NewPermPass(st, test, 0, 1, perm, spaces[1])
		if err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithCancel(ctx)
		var count atomic.Int64
		pp.afterPerm = func() {
			if count.Add(1) == k {
				cancel()
			}
		}
		done := map[Tile]bool{}
		err = pp.AddTiles(cctx, spaces, tiles, func(tl Tile) error { done[tl] = true; return nil })
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("k=%d: the cancelled pass returned %v", k, err)
		}
		// Each worker finishes at most the permutation it is in.
		if c := count.Load(); c > k+int64(opts.Workers) || len(done) == len(tiles) {
			t.Errorf("k=%d: %d permutations and %d of %d tiles done after the cancellation", k, c, len(done), len(tiles))
		}
		saved := new(estimator.PermutationTest)
		if err := saved.UnmarshalBinary(encodePerm(t, test)); err != nil {
			t.Fatal(err)
		}
		var rest []Tile
		for _, tl := range tiles {
			if !done[tl] {
				rest = append(rest, tl)
			}
		}
		pp2, err := pl.NewPermPass(st, saved, 0, 1, perm, spaces[1])
		if err != nil {
			t.Fatal(err)
		}
		if err := pp2.AddTiles(ctx, spaces, rest, nil); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(encodePerm(t, saved), want) {
			t.Errorf("k=%d (%d tiles done first): the resumed pass differs from one uninterrupted", k, len(done))
		}
	}
}
