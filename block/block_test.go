package block

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"gonum.org/v1/gonum/floats/scalar"

	"github.com/dcor-stream/dcor-stream/estimator"
)

// state is the content of an estimator.Stats, decoded from version 1 of
// its MarshalBinary encoding (see estimator.Stats.MarshalBinary).
type state struct {
	k, n     int
	exponent float64
	shift    []float64
	s        []float64 // S'_kl = sum + compensation, PairIndex order
	rows     [][]float64
}

func decode(t *testing.T, st *estimator.Stats) state {
	t.Helper()
	s := state{k: st.K(), n: st.N(), exponent: st.Exponent()}
	for k := range s.k {
		s.shift = append(s.shift, st.Shift(k))
		s.rows = append(s.rows, st.RowSums(k, nil))
	}
	for k := range s.k {
		for l := k; l < s.k; l++ {
			s.s = append(s.s, st.S(k, l))
		}
	}
	return s
}

// scales returns the scale exponents st was created with, so that a
// naive state matches it.
func scales(st *estimator.Stats) []int {
	b := make([]int, st.K())
	for k := range b {
		b[k] = st.Scale(k)
	}
	return b
}

func encode(t *testing.T, st *estimator.Stats) []byte {
	t.Helper()
	b, err := st.MarshalBinary()
	if err != nil {
		t.Fatalf("MarshalBinary: %v", err)
	}
	return b
}

// dist returns |x_i - x_j|^α by the definition.
func dist(s Space, i, j int, alpha float64) float64 {
	var d2 float64
	for q := range s.Dim {
		t := s.Data[i*s.Dim+q] - s.Data[j*s.Dim+q]
		d2 += t * t
	}
	if alpha == 2 {
		return d2
	}
	return math.Pow(math.Sqrt(d2), alpha)
}

// naive returns the state of all pairs built from one diagonal tile of
// the whole sample, with plain loops over the definition, and the scale of
// the rounding errors of each S entry and row sum: a distance a computed
// to within ε|a| gives a' = a - c to within ε|a|, so the scale of a'_k a'_l
// is (|a'_k| + |a_k|)(|a'_l| + |a_l|), not |a'_k a'_l|, which can be much
// smaller when the shift is close to the distances.
func naive(spaces []Space, alpha float64, shift []float64, scale []int) (st *estimator.Stats, magS []float64, magRows [][]float64) {
	k, n := len(spaces), spaces[0].Rows()
	pairs := k * (k + 1) / 2
	tile := &estimator.Tile{Diagonal: true, S: make([]float64, pairs), RowI: make([][]float64, k)}
	magS = make([]float64, pairs)
	magRows = make([][]float64, k)
	for s := range k {
		tile.RowI[s] = make([]float64, n)
		magRows[s] = make([]float64, n)
	}
	a := make([]float64, k)
	mag := make([]float64, k)
	for i := range n {
		for j := range n {
			if i == j {
				continue
			}
			for s := range k {
				d := dist(spaces[s], i, j, alpha)
				a[s] = d - shift[s]
				mag[s] = math.Abs(a[s]) + math.Abs(d)
				tile.RowI[s][i] += a[s]
				magRows[s][i] += mag[s]
			}
			for s := range k {
				for u := s; u < k; u++ {
					p := estimator.PairIndex(k, s, u)
					tile.S[p] += a[s] * a[u]
					magS[p] += mag[s] * mag[u]
				}
			}
		}
	}
	st = estimator.New(k, n, alpha, shift, scale)
	if err := st.AddTile(tile); err != nil {
		panic(err)
	}
	return st, magS, magRows
}

// naiveShift returns the unrounded (lower) median of a_i,i+1 over i < m−1.
func naiveShift(s Space, m int, alpha float64) float64 {
	if m < 2 {
		return 0
	}
	d := make([]float64, m-1)
	for i := range d {
		d[i] = dist(s, i, i+1, alpha)
	}
	slices.Sort(d)
	return d[(len(d)-1)/2]
}

func randSpace(rng *rand.Rand, n, dim int) Space {
	s := Space{Data: make([]float64, n*dim), Dim: dim}
	for i := range s.Data {
		s.Data[i] = rng.NormFloat64()*3 + 10
	}
	return s
}

func intSpace(rng *rand.Rand, n, dim, maxV int) Space {
	s := Space{Data: make([]float64, n*dim), Dim: dim}
	for i := range s.Data {
		s.Data[i] = float64(rng.IntN(maxV+1) - maxV/3)
	}
	return s
}

// compareState checks got against want within tol times the magnitude of
// the terms of each sum.
func compareState(t *testing.T, name string, got, want *estimator.Stats, magS []float64, magRows [][]float64, tol float64) {
	t.Helper()
	g, w := decode(t, got), decode(t, want)
	if g.k != w.k || g.n != w.n || g.exponent != w.exponent {
		t.Fatalf("%s: (k, n, α) = (%d, %d, %v), want (%d, %d, %v)", name, g.k, g.n, g.exponent, w.k, w.n, w.exponent)
	}
	for p := range g.s {
		if !scalar.EqualWithinAbsOrRel(g.s[p], w.s[p], tol*magS[p], tol) {
			t.Errorf("%s: S'[%d] = %v, want %v (scale %v)", name, p, g.s[p], w.s[p], magS[p])
		}
	}
	for k := range g.rows {
		for i := range g.rows[k] {
			if !scalar.EqualWithinAbsOrRel(g.rows[k][i], w.rows[k][i], tol*magRows[k][i], tol) {
				t.Errorf("%s: r'[%d][%d] = %v, want %v", name, k, i, g.rows[k][i], w.rows[k][i])
				return
			}
		}
	}
}

func TestComputeMatchesNaive(t *testing.T) {
	const tileSize = 8
	rng := rand.New(rand.NewPCG(1, 2))
	dimSets := [][]int{{1}, {3}, {20}, {1, 1}, {1, 3}, {20, 1}, {3, 20}, {1, 3, 20}}
	for _, n := range []int{1, 2, 3, 4, 5, tileSize - 1, tileSize, tileSize + 1, 3*tileSize + 7} {
		for _, dims := range dimSets {
			spaces := make([]Space, len(dims))
			for k, d := range dims {
				spaces[k] = randSpace(rng, n, d)
			}
			for _, alpha := range []float64{0.5, 1, 1.5, 2, 0.7} {
				name := fmt.Sprintf("n=%d/dims=%v/alpha=%v", n, dims, alpha)
				t.Run(name, func(t *testing.T) {
					const tol = 1e-12
					st, err := Compute(t.Context(), spaces, Options{Exponent: alpha, TileSize: tileSize, Workers: 3})
					if err != nil {
						t.Fatalf("Compute: %v", err)
					}
					shift := make([]float64, len(spaces))
					for k := range spaces {
						shift[k] = st.Shift(k)
						want := naiveShift(spaces[k], min(n, max(tileSize, shiftRows)), alpha)
						if math.Abs(shift[k]-want) > 0x1p-8*math.Abs(want) || roundBits(shift[k], 8) != shift[k] {
							t.Errorf("Shift(%d) = %v, want %v rounded to 8 bits", k, shift[k], want)
						}
					}
					want, magS, magRows := naive(spaces, alpha, shift, scales(st))
					compareState(t, "Compute", st, want, magS, magRows, tol)
				})
			}
		}
	}
}

// TestExactIntegers checks that with α = 2 and small-integer data every
// sum is exact, so the state equals the naive one bit for bit, for both
// kernels, any tile size and any number of workers.
func TestExactIntegers(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{2, 5, 16, 17, 55} {
		for _, dims := range [][]int{{1}, {3, 1}, {20, 3, 1}} {
			spaces := make([]Space, len(dims))
			for k, d := range dims {
				spaces[k] = intSpace(rng, n, d, 9)
			}
			for _, kern := range []kernel{kernelAuto, kernelDirect, kernelGram} {
				for _, ts := range []int{4, 16} {
					st, err := compute(t.Context(), spaces, Options{Exponent: 2, TileSize: ts, Workers: 2}, kern)
					if err != nil {
						t.Fatalf("Compute: %v", err)
					}
					shift := make([]float64, len(spaces))
					for k := range shift {
						shift[k] = st.Shift(k)
					}
					want, _, _ := naive(spaces, 2, shift, scales(st))
					if !bytes.Equal(encode(t, st), encode(t, want)) {
						g, w := decode(t, st), decode(t, want)
						t.Errorf("n=%d dims=%v kernel=%d tile=%d: S' = %v, want %v (state differs)", n, dims, kern, ts, g.s, w.s)
					}
				}
			}
		}
	}
}

// TestClosedForm checks S_kk for α = 1 against
//
//	CF = sum_{i != j} |x_i - x_j|² = 2n·sum_i |x_i|² - 2|sum_i x_i|²
//
// corrected for the shift: S' = sum (a - c)² = CF - 2c·T' - n(n-1)c²,
// where T' = sum_{i != j} (a - c) is the sum of the shifted row sums. The
// comparison is of S' + 2c·T' + n(n-1)c² with CF, the two sides of which
// are sums of positive terms.
func TestClosedForm(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, dim := range []int{1, 2, 7, 20, 64} {
		for _, integers := range []bool{true, false} {
			const n = 301
			var s Space
			if integers {
				s = intSpace(rng, n, dim, 20)
			} else {
				s = randSpace(rng, n, dim)
			}
			st, err := Compute(t.Context(), []Space{s}, Options{TileSize: 32})
			if err != nil {
				t.Fatalf("Compute: %v", err)
			}
			// CF is translation invariant: centre real-valued data by the
			// first row to keep the two terms from cancelling.
			var norms float64
			sum := make([]float64, dim)
			for i := range n {
				for q := range dim {
					v := s.Data[i*dim+q]
					if !integers {
						v -= s.Data[q]
					}
					norms += v * v
					sum[q] += v
				}
			}
			var sumSq float64
			for _, v := range sum {
				sumSq += v * v
			}
			cf := 2*float64(n)*norms - 2*sumSq
			g := decode(t, st)
			var total float64
			for _, r := range g.rows[0] {
				total += r
			}
			c := g.shift[0]
			got := g.s[0] + 2*c*total + float64(n)*float64(n-1)*c*c
			if !scalar.EqualWithinAbsOrRel(got, cf, 0, 1e-12) {
				t.Errorf("S'_00 + 2cT' + n(n-1)c² (dim=%d, integers=%v) = %v, want %v from the closed form", dim, integers, got, cf)
			}
		}
	}
}

func TestWorkersBitIdentical(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const n = 400
	spaces := []Space{randSpace(rng, n, 1), randSpace(rng, n, 3), randSpace(rng, n, 20)}
	for _, alpha := range []float64{1, 0.5} {
		var ref []byte
		for _, w := range []int{1, 2, 3, 7} {
			st, err := Compute(t.Context(), spaces, Options{Exponent: alpha, TileSize: 16, Workers: w})
			if err != nil {
				t.Fatalf("Compute: %v", err)
			}
			b := encode(t, st)
			if ref == nil {
				ref = b
				continue
			}
			if !bytes.Equal(b, ref) {
				t.Errorf("Compute(Workers=%d, α=%v) differs from Workers=1", w, alpha)
			}
		}
	}
}

func TestDefaultsAndReadOnly(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	const n = 300
	x, y := randSpace(rng, n, 2), randSpace(rng, n, 1)
	x0 := append([]float64(nil), x.Data...)
	st, err := Compute(t.Context(), []Space{x, y}, Options{})
	if err != nil {
		t.Fatalf("Compute: %v", err)
	}
	if !bytes.Equal(float64Bytes(x.Data), float64Bytes(x0)) {
		t.Errorf("Compute modified Space.Data")
	}
	if st.Exponent() != 1 || st.N() != n || st.K() != 2 {
		t.Errorf("Compute(defaults): (α, n, K) = (%v, %d, %d), want (1, %d, 2)", st.Exponent(), st.N(), st.K(), n)
	}
	explicit, err := Compute(t.Context(), []Space{x, y}, Options{Exponent: 1, TileSize: DefaultTileSize, Workers: 1})
	if err != nil {
		t.Fatalf("Compute: %v", err)
	}
	if !bytes.Equal(encode(t, st), encode(t, explicit)) {
		t.Errorf("Compute(Options{}) differs from the explicit defaults")
	}
}

func float64Bytes(v []float64) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	}
	return b
}

// TestKernelsAgree compares the Gram and direct squared distances entry by
// entry on data with duplicated and nearly duplicated rows and a constant
// column far from the others' mean.
func TestKernelsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	const n, dim = 40, 24
	s := randSpace(rng, n, dim)
	for i := range n {
		s.Data[i*dim+5] = 1234.567 // constant column
	}
	copy(s.Data[3*dim:4*dim], s.Data[7*dim:8*dim]) // duplicates
	copy(s.Data[20*dim:21*dim], s.Data[7*dim:8*dim])
	copy(s.Data[30*dim:31*dim], s.Data[31*dim:32*dim])
	s.Data[30*dim+2] += 1e-9 // near-duplicate
	copy(s.Data[33*dim:34*dim], s.Data[34*dim:35*dim])
	s.Data[33*dim+11] *= 1 + 1e-14
	dupe := func(i, j int) bool {
		return bytes.Equal(float64Bytes(s.Data[i*dim:(i+1)*dim]), float64Bytes(s.Data[j*dim:(j+1)*dim]))
	}

	tile := func(kern kernel) [][]float64 {
		// All of I×J with I = J, the diagonal included: computed as an
		// off-diagonal tile with no shift, so every kernel (the fused Gram
		// one for kernelGram) sees every pair; its distance tile captured.
		p := newPlan([]Space{s}, n, 2, n, kern)
		sc := p.newScratch()
		sl := p.newSlot()
		p.setTile(&sl, 0, 0)
		sc.capture = make([]float64, n*n)
		p.tile(sc, 0, n, 0, n, false, p.shift, sl.tile.S, sl.tile.RowI, sl.viewJ)
		d := make([][]float64, n)
		for i := range n {
			d[i] = sc.capture[i*n : (i+1)*n]
		}
		return d
	}
	direct, gram := tile(kernelDirect), tile(kernelGram)
	for i := range n {
		for j := range n {
			want := dist(s, i, j, 2)
			if dupe(i, j) && (direct[i][j] != 0 || gram[i][j] != 0) {
				t.Errorf("d²(%d, %d) of duplicates: direct %v, Gram %v, want exactly 0", i, j, direct[i][j], gram[i][j])
			}
			if !scalar.EqualWithinRel(direct[i][j], want, 1e-12) {
				t.Errorf("direct d²(%d, %d) = %v, want %v", i, j, direct[i][j], want)
			}
			if !scalar.EqualWithinRel(gram[i][j], direct[i][j], 1e-12) {
				t.Errorf("Gram d²(%d, %d) = %v, want %v (direct)", i, j, gram[i][j], direct[i][j])
			}
		}
	}

	// The same through Compute, for every exponent and with another space.
	y := randSpace(rng, n, 1)
	for _, alpha := range []float64{0.5, 1, 1.5, 2} {
		sd, err := compute(t.Context(), []Space{s, y}, Options{Exponent: alpha, TileSize: 16}, kernelDirect)
		if err != nil {
			t.Fatalf("Compute: %v", err)
		}
		sg, err := compute(t.Context(), []Space{s, y}, Options{Exponent: alpha, TileSize: 16}, kernelGram)
		if err != nil {
			t.Fatalf("Compute: %v", err)
		}
		_, magS, magRows := naive([]Space{s, y}, alpha, []float64{sd.Shift(0), sd.Shift(1)}, scales(sd))
		compareState(t, fmt.Sprintf("Gram vs direct (α=%v)", alpha), sg, sd, magS, magRows, 1e-12)
	}
}

// TestPairMatchesNaive checks the statistics computed from the tiled state
// against those of the naive state.
func TestPairMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	const n = 150
	x := randSpace(rng, n, 3)
	y := Space{Data: make([]float64, n), Dim: 1}
	for i := range n {
		y.Data[i] = x.Data[i*3] + 0.5*rng.NormFloat64()
	}
	for _, alpha := range []float64{1, 1.5} {
		st, err := Compute(t.Context(), []Space{x, y}, Options{Exponent: alpha, TileSize: 32})
		if err != nil {
			t.Fatalf("Compute: %v", err)
		}
		want, _, _ := naive([]Space{x, y}, alpha, []float64{st.Shift(0), st.Shift(1)}, scales(st))
		g, w := st.Pair(0, 1), want.Pair(0, 1)
		for _, c := range []struct {
			name      string
			got, want float64
		}{
			{"DCor", g.DCor, w.DCor},
			{"DCovSq", g.DCovSq, w.DCovSq},
			{"BCDCor", g.BCDCor, w.BCDCor},
			{"DCovU", g.DCovU, w.DCovU},
		} {
			if !scalar.EqualWithinAbsOrRel(c.got, c.want, 1e-12, 1e-10) {
				t.Errorf("Pair(α=%v).%s = %v, want %v", alpha, c.name, c.got, c.want)
			}
		}
		if g.DCor < 0.3 {
			t.Errorf("Pair(α=%v).DCor = %v for dependent data", alpha, g.DCor)
		}
	}
}

func TestErrors(t *testing.T) {
	ok := Space{Data: []float64{1, 2, 3, 4}, Dim: 2}
	for _, c := range []struct {
		name   string
		spaces []Space
		opts   Options
		want   error
	}{
		{"none", nil, Options{}, ErrNoSpaces},
		{"dim 0", []Space{{Data: []float64{1}, Dim: 0}}, Options{}, ErrShape},
		{"ragged", []Space{{Data: []float64{1, 2, 3}, Dim: 2}}, Options{}, ErrShape},
		{"sample count", []Space{ok, {Data: []float64{1, 2, 3}, Dim: 1}}, Options{}, ErrSampleCount},
		{"exponent high", []Space{ok}, Options{Exponent: 2.5}, ErrExponent},
		{"exponent negative", []Space{ok}, Options{Exponent: -1}, ErrExponent},
		{"exponent NaN", []Space{ok}, Options{Exponent: math.NaN()}, ErrExponent},
		{"NaN", []Space{ok, {Data: []float64{1, math.NaN()}, Dim: 1}}, Options{}, ErrNotFinite},
		{"Inf", []Space{{Data: []float64{1, math.Inf(-1), 3, 4}, Dim: 2}}, Options{}, ErrNotFinite},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, err := Compute(t.Context(), c.spaces, c.opts)
			if !errors.Is(err, c.want) || st != nil {
				t.Errorf("Compute = %v, %v; want nil, %v", st, err, c.want)
			}
		})
	}
}

func TestEmpty(t *testing.T) {
	st, err := Compute(t.Context(), []Space{{Dim: 3}, {Dim: 1}}, Options{})
	if err != nil || st.N() != 0 || st.K() != 2 {
		t.Fatalf("Compute(n=0) = %v, %v; want an empty state of 2 spaces", st, err)
	}
}

func TestCancel(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	x := randSpace(rng, 20000, 1)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if st, err := Compute(ctx, []Space{x}, Options{}); !errors.Is(err, context.Canceled) || st != nil {
		t.Errorf("Compute(cancelled) = %v, %v; want nil, context.Canceled", st, err)
	}

	// Cancelled while running: returns promptly.
	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	st, err := Compute(ctx, []Space{x, x}, Options{TileSize: 64, Workers: 2})
	if !errors.Is(err, context.Canceled) || st != nil {
		t.Errorf("Compute(cancelled while running) = %v, %v; want nil, context.Canceled", st, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Compute took %v to notice the cancellation", d)
	}
}

func TestRoundBits(t *testing.T) {
	for _, c := range []struct {
		x    float64
		bits int
		want float64
	}{
		{0, 8, 0},
		{1, 8, 1},
		{-3.7, 8, -3.703125}, // 237/64
		{1000, 8, 1000},
		{1001, 8, 1000},
		{1234.567, 8, 1232},
		{255.5, 8, 256},
		{0.1, 8, 0x1.9ap-4},
		{math.Inf(1), 8, math.Inf(1)},
	} {
		if got := roundBits(c.x, c.bits); got != c.want {
			t.Errorf("roundBits(%v, %d) = %v, want %v", c.x, c.bits, got, c.want)
		}
	}
}

func TestTileSizes(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	const n = 23
	spaces := []Space{randSpace(rng, n, 1), randSpace(rng, n, 2), randSpace(rng, n, 17)}
	for _, ts := range []int{1, 2, 5, n - 1, n, 100, 0} {
		for _, k := range []int{1, 2, 3} {
			st, err := Compute(t.Context(), spaces[:k], Options{TileSize: ts, Workers: 2})
			if err != nil {
				t.Fatalf("Compute: %v", err)
			}
			shift := make([]float64, k)
			for i := range shift {
				shift[i] = st.Shift(i)
			}
			want, magS, magRows := naive(spaces[:k], 1, shift, scales(st))
			compareState(t, fmt.Sprintf("TileSize=%d, K=%d", ts, k), st, want, magS, magRows, 1e-12)
		}
	}
}

// TestAllocs checks that the allocations do not grow with the number of
// tiles: partials and scratch are reused.
func TestAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("timing-free but slow under -race")
	}
	rng := rand.New(rand.NewPCG(19, 20))
	allocs := func(n int) float64 {
		spaces := []Space{randSpace(rng, n, 1), randSpace(rng, n, 20)}
		return testing.AllocsPerRun(2, func() {
			if _, err := Compute(t.Context(), spaces, Options{TileSize: 16, Workers: 2}); err != nil {
				t.Fatal(err)
			}
		})
	}
	small, large := allocs(160), allocs(1600) // 55 and 5050 tiles
	if large > small+10 {
		t.Errorf("Compute allocates %v times for 5050 tiles, %v for 55: allocation per tile", large, small)
	}
}
