// Package estimator holds the additive sufficient statistics of distance
// covariance for K feature spaces and turns them into dCor, bias-corrected
// dCor, their t-test and partial dCor.
//
// For space k with samples x^k_1..x^k_n and exponent α in (0, 2],
//
//	a^k_ij = |x^k_i - x^k_j|^α          (a^k_ii = 0)
//
// every statistic is a function of
//
//	n                                    sample count
//	r^k_i = sum_{j != i} a^k_ij          row sums, one float64 per sample
//	T_k   = sum_i r^k_i                  grand totals
//	S_kl  = sum_{i != j} a^k_ij a^l_ij   for every pair k <= l
//	Q_kl  = sum_i r^k_i r^l_i            (from the row sums, at the end)
//
// S and the row sums are sums over pairs, so they are accumulated tile by
// tile (see Tile) and merged by addition (see Stats.Merge). The n×n distance
// matrix never exists.
//
// To keep the three-term formulas from cancelling, every off-diagonal
// distance is accumulated shifted by a per-space constant c_k, an early
// estimate of the mean distance fixed before any sum starts:
//
//	a'^k_ij = a^k_ij - c_k   (i != j)
//
// U-centring is invariant to such a shift, so the U-statistics are computed
// from the shifted sums directly; double-centring is invariant to a constant
// added to every entry, the diagonal included, so the V-statistics are
// computed with the diagonal set to -c_k, whose contributions are known in
// closed form.
//
// The sums are exact over the whole float64 range. Each tile's
// contributions (float64 values, or double-double pairs for the tiles
// that need them, see Tile) are added into superaccumulators (see bank):
// fixed-point integers widened to whatever range the values added need,
// so that nothing is rounded after the tile. Integer addition is
// associative, so the state is the same to the last bit whatever the
// order of the tiles, the number of workers, the way the tile grid was
// split into shards, or the order in which the shards' states are merged;
// and the final formulas are evaluated exactly from the exact sums (see
// result.go), so their cancellation costs nothing.
//
// Each space may be scaled by a power of two, 2^−e_k, before its
// distances are computed (see Scale): the sums are then of the scaled
// distances, and the covariances are scaled back when they are reported.
package estimator

import (
	"errors"
	"fmt"
	"math"

	"github.com/dcor-stream/dcor-stream/internal/finite"
)

// Errors of Merge and AddTile.
var (
	// ErrIncompatible is returned by Merge when two states do not describe
	// the same samples and options.
	ErrIncompatible = errors.New("estimator: incompatible states")
	// ErrOverflow is returned by AddTile for a tile holding a value that is
	// not finite: a distance or a product of distances beyond float64's
	// range, which the power-of-two scaling of each space prevents unless
	// one space's values span more than about 10^150 around its typical
	// scale.
	ErrOverflow = errors.New("estimator: distance or product of distances beyond float64 range")
	// ErrTooFewSamples is returned for a block of fewer than 4 samples,
	// whose U-statistics are undefined.
	ErrTooFewSamples = errors.New("estimator: too few samples")
)

// Stats is the additive state of K feature spaces over n samples.
//
// The zero value is an empty state with no spaces: Merge into it copies the
// other state. A Stats is not safe for concurrent use, not even by readers:
// the result methods cache the totals they compute.
type Stats struct {
	k        int
	n        int
	exponent float64
	shift    []float64 // c_k
	scale    []int     // e_k: space k's distances are of x·2^−e_k
	rows     []bank    // per space: the shifted row sums r'^k_i
	s        bank      // one row per pair (PairIndex order): S'_kl
	ev       *evaluation
	terms    *terms // the terms of ev that many results share
}

// New returns an empty state for k spaces of n samples, with the distance
// exponent and the per-space shifts c_k and scale exponents e_k that every
// tile added to it was computed with (scale may be nil: no scaling). It
// panics if k < 1, n < 0, len(shift) != k, len(scale) is neither 0 nor k,
// a shift is not finite, or the exponent is outside (0, 2].
func New(k, n int, exponent float64, shift []float64, scale []int) *Stats {
	if k < 1 {
		panic("estimator: k < 1")
	}
	if n < 0 {
		panic("estimator: negative n")
	}
	if len(shift) != k || len(scale) != 0 && len(scale) != k {
		panic("estimator: len(shift) or len(scale) != k")
	}
	if !(exponent > 0 && exponent <= 2) {
		panic("estimator: exponent outside (0, 2]")
	}
	for _, c := range shift {
		if math.IsNaN(c) || math.IsInf(c, 0) {
			panic("estimator: shift not finite")
		}
	}
	st := &Stats{
		k:        k,
		n:        n,
		exponent: exponent,
		shift:    append([]float64(nil), shift...),
		scale:    make([]int, k),
		rows:     make([]bank, k),
		s:        newBank(k * (k + 1) / 2),
	}
	copy(st.scale, scale)
	for i := range st.rows {
		st.rows[i] = newBank(n)
	}
	return st
}

// K returns the number of feature spaces.
func (s *Stats) K() int { return s.k }

// N returns the number of samples.
func (s *Stats) N() int { return s.n }

// Exponent returns the distance exponent α.
func (s *Stats) Exponent() float64 { return s.exponent }

// Shift returns c_k, the constant subtracted from every off-diagonal
// distance of space k before accumulation (in the scaled units of Scale).
func (s *Stats) Shift(k int) float64 { return s.shift[k] }

// Scale returns e_k: the distances of space k were computed on its values
// multiplied by 2^−e_k (0 for ordinary data; see block.Compute). dCor,
// bcdcor and pdCor do not depend on it; covariances are reported in the
// units of the data.
func (s *Stats) Scale(k int) int { return s.scale[k] }

// PairIndex returns the position of the pair (k, l) of k spaces in the packed
// upper triangle used by Tile.S: pairs are ordered (0,0), (0,1), …, (0,K-1),
// (1,1), …, (K-1,K-1). The order of k and l does not matter.
func PairIndex(spaces, k, l int) int {
	if k > l {
		k, l = l, k
	}
	return k*spaces - k*(k-1)/2 + (l - k)
}

// Tile is the contribution of one block of pairs to a Stats.
//
// For rows I = [I0, I0+len(RowI[k])) and J = [J0, J0+len(RowJ[k])), with
// a'^k_ij = a^k_ij - c_k the shifted distances:
//
//   - an off-diagonal tile (I and J disjoint) holds
//     S[PairIndex(K,k,l)] = 2 · sum_{i in I, j in J} a'^k_ij a'^l_ij,
//     RowI[k][i-I0] = sum_{j in J} a'^k_ij and RowJ[k][j-J0] = sum_{i in I} a'^k_ij;
//   - a diagonal tile (Diagonal true, J = I, RowJ nil) holds
//     S[PairIndex(K,k,l)] = sum_{i != j in I} a'^k_ij a'^l_ij and
//     RowI[k][i-I0] = sum_{j in I, j != i} a'^k_ij.
//
// A tile whose float64 sums would round away more than the result can
// afford (one that holds a far outlier, say) can also carry exact parts:
// after ResetExact, the values given to AddExactS, AddExactRowI and
// AddExactRowJ are summed without rounding and added to the same sums as
// S, RowI and RowJ. Summing the tiles of a partition of the upper triangle
// of the tile grid gives S'_kl and the shifted row sums exactly once.
//
// The zero value has no exact parts. A Tile is not safe for concurrent use.
type Tile struct {
	I0, J0   int
	Diagonal bool
	S        []float64
	RowI     [][]float64
	RowJ     [][]float64

	exact *tileExact // nil or off: no exact parts
}

// tileExact holds the exact parts of a tile, kept from tile to tile so
// that their memory is reused.
type tileExact struct {
	on         bool
	s          bank
	rowI, rowJ []bank
}

// ResetExact gives t empty exact parts for k spaces, ni rows I and nj rows
// J (nj is ignored for a diagonal tile). It panics if k < 1.
func (t *Tile) ResetExact(k, ni, nj int) {
	if k < 1 {
		panic("estimator: k < 1")
	}
	ex := t.exact
	if ex == nil || len(ex.rowI) != k {
		ex = &tileExact{rowI: make([]bank, k), rowJ: make([]bank, k)}
		t.exact = ex
	}
	ex.on = true
	ex.s.reset(k * (k + 1) / 2)
	for i := range k {
		ex.rowI[i].reset(ni)
		ex.rowJ[i].reset(nj)
	}
}

// NoExact drops t's exact parts, if any.
func (t *Tile) NoExact() {
	if t.exact != nil {
		t.exact.on = false
	}
}

// AddExactS adds x exactly to the product sum p (in PairIndex order) of t.
// It panics if ResetExact was not called, and x must be finite (AddTile
// checks).
func (t *Tile) AddExactS(p int, x float64) { t.exact.s.add(p, x) }

// AddExactRowI adds x exactly to row i (counted from I0) of space k.
func (t *Tile) AddExactRowI(k, i int, x float64) { t.exact.rowI[k].add(i, x) }

// AddExactRowJ adds x exactly to row j (counted from J0) of space k.
func (t *Tile) AddExactRowJ(k, j int, x float64) { t.exact.rowJ[k].add(j, x) }

// AddTile adds the contribution of t exactly. It returns an error wrapping
// ErrOverflow, and leaves s unchanged, if a value of t is not finite. It
// panics if t does not fit the state.
func (s *Stats) AddTile(t *Tile) error {
	if len(t.S) != s.s.rows || len(t.RowI) != s.k || (!t.Diagonal && len(t.RowJ) != s.k) {
		panic("estimator: tile does not match the state's spaces")
	}
	if err := tileFinite(t); err != nil {
		return err
	}
	ex := t.exact
	if ex != nil && !ex.on {
		ex = nil
	}
	for k := range s.k {
		checkRows(s.n, t.I0, len(t.RowI[k]))
		if !t.Diagonal {
			checkRows(s.n, t.J0, len(t.RowJ[k]))
		}
		if ex != nil {
			if len(ex.rowI) != s.k || ex.s.rows != s.s.rows {
				panic("estimator: tile does not match the state's spaces")
			}
			checkRows(s.n, t.I0, ex.rowI[k].rows)
			if !t.Diagonal {
				checkRows(s.n, t.J0, ex.rowJ[k].rows)
			}
		}
	}
	s.ev = nil
	s.s.addSlice(0, t.S)
	for k := range s.k {
		addRows(&s.rows[k], t.I0, t.RowI[k])
		if !t.Diagonal {
			addRows(&s.rows[k], t.J0, t.RowJ[k])
		}
	}
	if ex != nil {
		s.s.mergeAt(&ex.s, 0)
		for k := range s.k {
			s.rows[k].mergeAt(&ex.rowI[k], t.I0)
			if !t.Diagonal {
				s.rows[k].mergeAt(&ex.rowJ[k], t.J0)
			}
		}
	}
	return nil
}

// tileFinite returns an error wrapping ErrOverflow if a sum of t is not
// finite.
func tileFinite(t *Tile) error {
	ok := finite.All(t.S)
	for k := range t.RowI {
		ok = ok && finite.All(t.RowI[k])
	}
	for k := range t.RowJ {
		ok = ok && finite.All(t.RowJ[k])
	}
	if ok {
		return nil
	}
	for p, v := range t.S {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("tile at rows %d, %d: product sum %d is %v: %w", t.I0, t.J0, p, v, ErrOverflow)
		}
	}
	for _, side := range [][][]float64{t.RowI, t.RowJ} {
		for k, r := range side {
			for i, v := range r {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return fmt.Errorf("tile at rows %d, %d: space %d row sum %d is %v: %w", t.I0, t.J0, k, i, v, ErrOverflow)
				}
			}
		}
	}
	return nil
}

func checkRows(n, off, m int) {
	if off < 0 || off+m > n {
		panic("estimator: tile rows out of range")
	}
}

func addRows(b *bank, off int, src []float64) { b.addSlice(off, src) }

// Merge adds other to s: afterwards s describes the union of the pairs the
// two states were accumulated over. Both must have the same spaces, samples,
// exponent, shifts and scales; otherwise Merge returns an error wrapping
// ErrIncompatible and s is unchanged. A nil other is a no-op; merging into a
// zero-value Stats copies other. other is not modified.
func (s *Stats) Merge(other *Stats) error {
	if other == nil || other.k == 0 {
		return nil
	}
	if s.k == 0 {
		*s = *other.clone()
		return nil
	}
	switch {
	case s.k != other.k:
		return fmt.Errorf("%d spaces vs %d: %w", s.k, other.k, ErrIncompatible)
	case s.n != other.n:
		return fmt.Errorf("%d samples vs %d: %w", s.n, other.n, ErrIncompatible)
	case s.exponent != other.exponent:
		return fmt.Errorf("exponent %v vs %v: %w", s.exponent, other.exponent, ErrIncompatible)
	}
	for k := range s.shift {
		if s.shift[k] != other.shift[k] || s.scale[k] != other.scale[k] {
			return fmt.Errorf("space %d shift %v scale 2^%d vs %v 2^%d: %w", k, s.shift[k], -s.scale[k], other.shift[k], -other.scale[k], ErrIncompatible)
		}
	}
	s.ev = nil
	s.s.merge(&other.s)
	for k := range s.rows {
		s.rows[k].merge(&other.rows[k])
	}
	return nil
}

// Clone returns a deep copy of s.
func (s *Stats) Clone() *Stats { return s.clone() }

func (s *Stats) clone() *Stats {
	c := &Stats{
		k:        s.k,
		n:        s.n,
		exponent: s.exponent,
		shift:    append([]float64(nil), s.shift...),
		scale:    append([]int(nil), s.scale...),
		rows:     make([]bank, len(s.rows)),
		s:        s.s.clone(),
	}
	for k := range s.rows {
		c.rows[k] = s.rows[k].clone()
	}
	return c
}

// S returns the shifted product sum S'_kl = sum_{i != j} (a^k_ij − c_k)(a^l_ij − c_l)
// accumulated so far, rounded to float64.
func (s *Stats) S(k, l int) float64 {
	s.checkSpace(k)
	s.checkSpace(l)
	return s.s.float(PairIndex(s.k, k, l))
}

// RowSums appends to dst the shifted row sums r'^k_i = sum_{j != i} (a^k_ij − c_k)
// of space k accumulated so far, i = 0..n−1, each rounded to float64, and
// returns the result.
func (s *Stats) RowSums(k int, dst []float64) []float64 {
	s.checkSpace(k)
	b := &s.rows[k]
	for i := range b.rows {
		dst = append(dst, b.float(i))
	}
	return dst
}

// RowSumParts writes the shifted row sums r'^k_i of rows [i0, i0+len(hi))
// of space k as three float64 each, r' = hi + mid + lo + ε with hi the
// rounded sum, mid and lo the rounded remainders, so that |ε| is at most
// about 2^−159·|r'| (0 for a sum of 159 significant bits or fewer): for
// products with r' that must not round it (the exact jackknife tiles). It
// only reads the state, so calls may run concurrently with each other.
func (s *Stats) RowSumParts(k, i0 int, hi, mid, lo []float64) {
	s.checkSpace(k)
	b := &s.rows[k]
	checkRows(s.n, i0, len(hi))
	for i := range hi {
		v := b.value(i0 + i)
		hi[i] = v.float()
		v = v.add(dyadicOf(hi[i]).scale(-1))
		mid[i] = v.float()
		lo[i] = v.add(dyadicOf(mid[i]).scale(-1)).float()
	}
}

// Grow appends m samples to the state, with zero row sums, for the online
// case: tiles of the new rows against the old ones and among themselves are
// then added as usual. Nothing is rounded. It panics if m < 0.
func (s *Stats) Grow(m int) {
	if m < 0 {
		panic("estimator: negative growth")
	}
	s.ev = nil
	for k := range s.rows {
		s.rows[k].grow(m)
	}
	s.n += m
}
