package estimator_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"

	"github.com/dcor-stream/dcor-stream/estimator"
)

// intMatrix returns n rows of d small integers, so that with exponent 2 and
// an integer shift every tile sum is exact and the state equals the one of a
// single naive tile with ==. (For real-valued data the tiles' own sums
// round, but the state is still order-free: see TestOrderIndependent.)
func intMatrix(rng *rand.Rand, n, d int) matrix {
	m := matrix{n: n, d: d, v: make([]float64, n*d)}
	for i := range m.v {
		m.v[i] = float64(rng.IntN(21) - 10)
	}
	return m
}

// offTile returns the off-diagonal tile of rows [i0, i1) × [j0, j1).
func offTile(alpha float64, shift []float64, i0, i1, j0, j1 int, spaces ...matrix) *estimator.Tile {
	k := len(spaces)
	tile := &estimator.Tile{I0: i0, J0: j0, S: make([]float64, k*(k+1)/2), RowI: make([][]float64, k), RowJ: make([][]float64, k)}
	for s := range spaces {
		tile.RowI[s] = make([]float64, i1-i0)
		tile.RowJ[s] = make([]float64, j1-j0)
	}
	for i := i0; i < i1; i++ {
		for j := j0; j < j1; j++ {
			a := make([]float64, k)
			for s, m := range spaces {
				a[s] = dist(m, i, j, alpha) - shift[s]
				tile.RowI[s][i-i0] += a[s]
				tile.RowJ[s][j-j0] += a[s]
			}
			for p := range k {
				for q := p; q < k; q++ {
					tile.S[estimator.PairIndex(k, p, q)] += 2 * a[p] * a[q]
				}
			}
		}
	}
	return tile
}

// tiles partitions the upper triangle of the tile grid of size m.
func tiles(alpha float64, shift []float64, n, m int, spaces ...matrix) []*estimator.Tile {
	var out []*estimator.Tile
	for i0 := 0; i0 < n; i0 += m {
		i1 := min(i0+m, n)
		out = append(out, naiveTile(alpha, shift, i0, i1, spaces...))
		for j0 := i1; j0 < n; j0 += m {
			out = append(out, offTile(alpha, shift, i0, i1, j0, min(j0+m, n), spaces...))
		}
	}
	return out
}

func encode(t *testing.T, s *estimator.Stats) []byte {
	t.Helper()
	b, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSplitMergeExact(t *testing.T) {
	for seed := range uint64(8) {
		rng := rand.New(rand.NewPCG(seed, 2))
		n := 5 + rng.IntN(40)
		x, y, z := intMatrix(rng, n, 1+rng.IntN(3)), intMatrix(rng, n, 1+rng.IntN(3)), intMatrix(rng, n, 2)
		shift := []float64{float64(rng.IntN(30)), float64(rng.IntN(30)), 7}
		const alpha = 2

		one := estimator.New(3, n, alpha, shift, nil)
		one.AddTile(naiveTile(alpha, shift, 0, n, x, y, z))

		ts := tiles(alpha, shift, n, 1+rng.IntN(7), x, y, z)
		rng.Shuffle(len(ts), func(i, j int) { ts[i], ts[j] = ts[j], ts[i] })
		cut := rng.IntN(len(ts) + 1)
		a, b := estimator.New(3, n, alpha, shift, nil), estimator.New(3, n, alpha, shift, nil)
		for _, tl := range ts[:cut] {
			a.AddTile(tl)
		}
		for _, tl := range ts[cut:] {
			b.AddTile(tl)
		}
		bBefore := encode(t, b)
		ab := a.Clone()
		if err := ab.Merge(b); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(encode(t, b), bBefore) {
			t.Errorf("seed %d: Merge modified its argument", seed)
		}
		ba := b.Clone()
		if err := ba.Merge(a); err != nil {
			t.Fatal(err)
		}
		want := encode(t, one)
		if got := encode(t, ab); !bytes.Equal(got, want) {
			t.Errorf("seed %d n=%d: split (%d tiles, cut %d) then merge differs from one pass", seed, n, len(ts), cut)
		}
		if got := encode(t, ba); !bytes.Equal(got, want) {
			t.Errorf("seed %d: Merge is not commutative", seed)
		}

		// Associativity over three parts, and the empty identity.
		parts := []*estimator.Stats{estimator.New(3, n, alpha, shift, nil), estimator.New(3, n, alpha, shift, nil), estimator.New(3, n, alpha, shift, nil)}
		for i, tl := range ts {
			parts[i%3].AddTile(tl)
		}
		left := parts[0].Clone()
		mustMerge(t, left, parts[1])
		mustMerge(t, left, parts[2])
		right := parts[1].Clone()
		mustMerge(t, right, parts[2])
		right2 := parts[0].Clone()
		mustMerge(t, right2, right)
		mustMerge(t, right2, estimator.New(3, n, alpha, shift, nil))
		mustMerge(t, right2, nil)
		var zero estimator.Stats
		mustMerge(t, &zero, right2)
		if !bytes.Equal(encode(t, left), want) || !bytes.Equal(encode(t, &zero), want) {
			t.Errorf("seed %d: (a+b)+c, a+(b+c)+empty and one pass differ", seed)
		}
	}
}

func mustMerge(t *testing.T, s, o *estimator.Stats) {
	t.Helper()
	if err := s.Merge(o); err != nil {
		t.Fatal(err)
	}
}

func TestMergeIncompatible(t *testing.T) {
	base := estimator.New(2, 10, 1, []float64{1, 2}, nil)
	base.AddTile(&estimator.Tile{Diagonal: true, S: []float64{1, 2, 3}, RowI: [][]float64{make([]float64, 10), make([]float64, 10)}})
	before := encode(t, base)
	for _, tc := range []struct {
		name  string
		other *estimator.Stats
	}{
		{"spaces", estimator.New(3, 10, 1, []float64{1, 2, 3}, nil)},
		{"samples", estimator.New(2, 11, 1, []float64{1, 2}, nil)},
		{"exponent", estimator.New(2, 10, 0.5, []float64{1, 2}, nil)},
		{"shift", estimator.New(2, 10, 1, []float64{1, 2.5}, nil)},
		{"scale", estimator.New(2, 10, 1, []float64{1, 2}, []int{0, 1})},
	} {
		err := base.Merge(tc.other)
		if !errors.Is(err, estimator.ErrIncompatible) {
			t.Errorf("Merge(different %s) = %v, want ErrIncompatible", tc.name, err)
		}
		if !bytes.Equal(encode(t, base), before) {
			t.Errorf("Merge(different %s) modified the receiver", tc.name)
		}
	}
}

// TestShiftInvariance checks that the statistics do not depend on the shift
// the sums were accumulated with (DESIGN §4).
func TestShiftInvariance(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 2))
	n := 60
	x, y, z := randMatrix(rng, n, 3), randMatrix(rng, n, 2), randMatrix(rng, n, 2)
	for i := range y.v {
		y.v[i] += x.v[i/2*3] // some dependence
	}
	ref := estimator.New(3, n, 1, []float64{0, 0, 0}, nil)
	ref.AddTile(naiveTile(1, []float64{0, 0, 0}, 0, n, x, y, z))
	// Mean distances here are about 2. The invariance is exact in
	// arithmetic; in float64 its rounding grows with |c − mean| (a shift of
	// 1000 moved dcor by 4e-11), which is why block picks c ≈ mean.
	for _, shift := range [][]float64{{1, 2, 3}, {-5, 0.25, 10}, {1e-3, 20, 1}} {
		st := estimator.New(3, n, 1, shift, nil)
		for _, tl := range tiles(1, shift, n, 13, x, y, z) {
			st.AddTile(tl)
		}
		got, want := st.Pair(0, 1), ref.Pair(0, 1)
		gp, wp := st.Partial(0, 1, 2), ref.Partial(0, 1, 2)
		for _, c := range []struct {
			name      string
			got, want float64
		}{
			{"dcor", got.DCor, want.DCor}, {"dcov_sq", got.DCovSq, want.DCovSq},
			{"dvar_x_sq", got.DVarXSq, want.DVarXSq}, {"bcdcor", got.BCDCor, want.BCDCor},
			{"dcov_u", got.DCovU, want.DCovU}, {"t", got.T, want.T}, {"pdcor", gp.PDCor, wp.PDCor},
			{"pdcov", gp.PDCov, wp.PDCov},
		} {
			if !scalar.EqualWithinAbsOrRel(c.got, c.want, 1e-13, 1e-11) {
				t.Errorf("shift %v: %s = %v, want %v (no shift)", shift, c.name, c.got, c.want)
			}
		}
	}
}

func randMatrix(rng *rand.Rand, n, d int) matrix {
	m := matrix{n: n, d: d, v: make([]float64, n*d)}
	for i := range m.v {
		m.v[i] = rng.NormFloat64()
	}
	return m
}

func TestDegenerate(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3} {
		x := randMatrix(rand.New(rand.NewPCG(1, 2)), n, 2)
		var st *estimator.Stats
		if n == 0 {
			st = estimator.New(2, 0, 1, []float64{0, 0}, nil)
		} else {
			st = naiveStats(1, x, x)
		}
		r := st.Pair(0, 1)
		if r.Flags&estimator.TooFewSamples == 0 || r.BCDCor != 0 || r.T != 0 || r.P != 1 {
			t.Errorf("Pair(n=%d) = %+v, want too_few_samples, bcdcor 0, T 0, p 1", n, r)
		}
		p := st.Partial(0, 1, 0)
		if p.Flags&estimator.TooFewSamples == 0 || p.PDCor != 0 {
			t.Errorf("Partial(n=%d) = %+v, want too_few_samples and 0", n, p)
		}
	}
}

func TestEncodingRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 2))
	x, y := randMatrix(rng, 30, 2), randMatrix(rng, 30, 3)
	st := naiveStats(1.5, x, y)
	b := encode(t, st)
	var got estimator.Stats
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(encode(t, &got), b) {
		t.Error("MarshalBinary(UnmarshalBinary(b)) != b")
	}
	if got.Pair(0, 1) != st.Pair(0, 1) {
		t.Errorf("decoded Pair = %+v, want %+v", got.Pair(0, 1), st.Pair(0, 1))
	}
	for cut := range len(b) {
		if err := got.UnmarshalBinary(b[:cut]); !errors.Is(err, estimator.ErrCorrupt) {
			t.Fatalf("UnmarshalBinary(first %d of %d bytes) = %v, want ErrCorrupt", cut, len(b), err)
		}
	}
	bad := bytes.Clone(b)
	bad[4] = 9
	if err := got.UnmarshalBinary(bad); !errors.Is(err, estimator.ErrVersion) {
		t.Errorf("UnmarshalBinary(version 9) = %v, want ErrVersion", err)
	}
}

func FuzzUnmarshalBinary(f *testing.F) {
	rng := rand.New(rand.NewPCG(7, 2))
	for _, n := range []int{0, 1, 4, 9} {
		x := randMatrix(rng, max(n, 1), 2)
		st := estimator.New(1, n, 1, []float64{0.5}, nil)
		if n > 0 {
			st = naiveStats(1, x, x)
		}
		b, _ := st.MarshalBinary()
		f.Add(b)
	}
	f.Add([]byte("DCST\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		check(t, b)
		// The checksum refuses nearly every mutation: also decode the
		// bytes with a checksum that fits, to reach the parser.
		if len(b) >= 9 {
			fixed := append([]byte(nil), b[:len(b)-4]...)
			check(t, binary.LittleEndian.AppendUint32(fixed, crc32.Checksum(fixed, crc32.MakeTable(crc32.Castagnoli))))
		}
	})
}

// check asserts the invariants of UnmarshalBinary on b: an error wraps a
// sentinel and leaves the receiver unchanged; a state re-encodes to bytes
// that decode to the same bytes again.
func check(t *testing.T, b []byte) {
	{
		s := estimator.New(1, 2, 1, []float64{3}, nil)
		before := encode(t, s)
		err := s.UnmarshalBinary(b)
		if err != nil {
			if !errors.Is(err, estimator.ErrCorrupt) && !errors.Is(err, estimator.ErrVersion) {
				t.Fatalf("UnmarshalBinary error %v wraps no sentinel", err)
			}
			if !bytes.Equal(encode(t, s), before) {
				t.Fatal("UnmarshalBinary changed the receiver on error")
			}
			return
		}
		// Row sums take 8 bytes a row or more, so n is bounded by the
		// input's length unless every row sum is zero (an empty state,
		// such as a shard of no tile, keeps none, for any n).
		if s.N() > len(b) && estimator.RowsHeld(s) {
			t.Fatalf("decoded n=%d from %d bytes", s.N(), len(b))
		}
		enc := encode(t, s)
		var again estimator.Stats
		if err := again.UnmarshalBinary(enc); err != nil {
			t.Fatalf("re-decoding a re-encoded state: %v", err)
		}
		if !bytes.Equal(encode(t, &again), enc) {
			t.Fatal("encoding does not round-trip")
		}
	}
}

// TestEveryBitFlipRefused flips each bit of an encoded state in turn: the
// checksum refuses every one (CRC-32C detects all single-bit errors), so a
// damaged shard or checkpoint can never merge into a changed result.
func TestEveryBitFlipRefused(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	x, y, z := randMatrix(rng, 9, 2), randMatrix(rng, 9, 1), randMatrix(rng, 9, 3)
	b := encode(t, naiveStats(1, x, y, z))
	for i := range 8 * len(b) {
		flipped := append([]byte(nil), b...)
		flipped[i/8] ^= 1 << (i % 8)
		var s estimator.Stats
		if err := s.UnmarshalBinary(flipped); err == nil {
			t.Fatalf("bit %d of %d flipped: state accepted", i, 8*len(b))
		} else if !errors.Is(err, estimator.ErrCorrupt) && !errors.Is(err, estimator.ErrVersion) {
			t.Fatalf("bit %d: %v wraps no sentinel", i, err)
		}
	}
}

func TestPairIndex(t *testing.T) {
	for k := 1; k < 6; k++ {
		seen := map[int]bool{}
		for p := range k {
			for q := p; q < k; q++ {
				i := estimator.PairIndex(k, p, q)
				if i != estimator.PairIndex(k, q, p) || i < 0 || i >= k*(k+1)/2 || seen[i] {
					t.Errorf("PairIndex(%d, %d, %d) = %d: out of range, repeated or asymmetric", k, p, q, i)
				}
				seen[i] = true
			}
		}
	}
}

func TestFlagsString(t *testing.T) {
	f := estimator.ZeroVarX | estimator.PerfectDependence
	if got := f.String(); got != "zero_var_x,perfect_dependence" {
		t.Errorf("Flags.String() = %q", got)
	}
	if got := estimator.Flags(0).String(); got != "" {
		t.Errorf("Flags(0).String() = %q, want empty", got)
	}
}

func TestNoNaN(t *testing.T) {
	// Constant spaces, identical spaces and tiny n: every field finite or
	// ±Inf (T only), never NaN.
	rng := rand.New(rand.NewPCG(11, 2))
	konst := matrix{n: 12, d: 2, v: make([]float64, 24)}
	x := randMatrix(rng, 12, 2)
	for _, sp := range [][2]matrix{{konst, konst}, {x, konst}, {konst, x}, {x, x}} {
		st := naiveStats(1, sp[0], sp[1], sp[0])
		r := st.Pair(0, 1)
		p := st.Partial(0, 1, 2)
		for _, v := range []float64{r.DCor, r.DCorSq, r.DCov, r.DCovSq, r.DVarXSq, r.DVarYSq, r.BCDCor, r.DCovU, r.DVarXU, r.DVarYU, r.T, r.DF, r.P, p.PDCor, p.PDCov, p.SemiPartial} {
			if math.IsNaN(v) {
				t.Errorf("NaN in %+v / %+v", r, p)
				break
			}
		}
	}
}

func ExampleStats_Merge() {
	// Two halves of the pairs of 4 samples on a line, x = y = 0, 1, 2, 4.
	x := matrix{n: 4, d: 1, v: []float64{0, 1, 2, 4}}
	shift := []float64{0, 0}
	a := estimator.New(2, 4, 1, shift, nil)
	b := estimator.New(2, 4, 1, shift, nil)
	a.AddTile(naiveTile(1, shift, 0, 2, x, x))
	b.AddTile(naiveTile(1, shift, 2, 4, x, x))
	b.AddTile(offTile(1, shift, 0, 2, 2, 4, x, x))
	if err := a.Merge(b); err != nil {
		fmt.Println(err)
		return
	}
	r := a.Pair(0, 1)
	fmt.Printf("dcor %.6f bcdcor %.6f\n", r.DCor, r.BCDCor)
	// Output: dcor 1.000000 bcdcor 1.000000
}

// TestOrderIndependent checks that the state does not depend on the order
// of the tiles, how they are split into shards, or the order the shards
// are merged in, to the last bit, for real-valued data: every sum is rounded
// once per tile to a fixed-point grid and then added exactly.
func TestOrderIndependent(t *testing.T) {
	for seed := range uint64(6) {
		rng := rand.New(rand.NewPCG(seed, 9))
		n := 10 + rng.IntN(50)
		x, y, z := randMatrix(rng, n, 1+rng.IntN(5)), randMatrix(rng, n, 1+rng.IntN(3)), randMatrix(rng, n, 2)
		alpha := []float64{0.5, 1, 1.5, 2}[rng.IntN(4)]
		shift := []float64{rng.Float64() * 3, rng.Float64() * 3, 1.5}
		ts := tiles(alpha, shift, n, 1+rng.IntN(9), x, y, z)

		one := estimator.New(3, n, alpha, shift, nil)
		for _, tl := range ts {
			one.AddTile(tl)
		}
		want := encode(t, one)

		rng.Shuffle(len(ts), func(i, j int) { ts[i], ts[j] = ts[j], ts[i] })
		shards := make([]*estimator.Stats, 1+rng.IntN(5))
		for i := range shards {
			shards[i] = estimator.New(3, n, alpha, shift, nil)
		}
		for _, tl := range ts {
			shards[rng.IntN(len(shards))].AddTile(tl)
		}
		rng.Shuffle(len(shards), func(i, j int) { shards[i], shards[j] = shards[j], shards[i] })
		var merged estimator.Stats
		for _, sh := range shards {
			mustMerge(t, &merged, sh)
		}
		if got := encode(t, &merged); !bytes.Equal(got, want) {
			t.Errorf("seed %d (n=%d, α=%v, %d tiles, %d shards): shuffled, sharded and merged state differs from the in-order one", seed, n, alpha, len(ts), len(shards))
		}
		if merged.Pair(0, 1) != one.Pair(0, 1) || merged.Partial(0, 1, 2) != one.Partial(0, 1, 2) {
			t.Errorf("seed %d: results differ", seed)
		}
	}
}

// TestAddTileNotFinite: a tile holding ±Inf or NaN anywhere is refused
// with ErrOverflow, and the state is unchanged.
func TestAddTileNotFinite(t *testing.T) {
	for _, bad := range []float64{math.Inf(1), math.Inf(-1), math.NaN()} {
		for where := range 3 {
			st := estimator.New(2, 8, 1, []float64{0.5, 0.25}, nil)
			good := &estimator.Tile{I0: 0, J0: 4, S: []float64{1, 2, 3}, RowI: [][]float64{{1, 2, 3, 4}, {5, 6, 7, 8}}, RowJ: [][]float64{{1, 1, 1, 1}, {2, 2, 2, 2}}}
			if err := st.AddTile(good); err != nil {
				t.Fatal(err)
			}
			before, _ := st.MarshalBinary()
			tl := &estimator.Tile{I0: 0, J0: 4, S: []float64{1, 2, 3}, RowI: [][]float64{{1, 2, 3, 4}, {5, 6, 7, 8}}, RowJ: [][]float64{{1, 1, 1, 1}, {2, 2, 2, 2}}}
			switch where {
			case 0:
				tl.S[1] = bad
			case 1:
				tl.RowI[1][3] = bad
			case 2:
				tl.RowJ[0][0] = bad
			}
			if err := st.AddTile(tl); !errors.Is(err, estimator.ErrOverflow) {
				t.Errorf("AddTile(%v at %d) = %v, want ErrOverflow", bad, where, err)
			}
			if after, _ := st.MarshalBinary(); !bytes.Equal(before, after) {
				t.Errorf("AddTile(%v at %d) changed the state", bad, where)
			}
		}
	}
}
