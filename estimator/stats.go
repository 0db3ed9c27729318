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
// The sums are exact. Each tile's contributions are rounded once to a
// fixed-point grid — row sums to int64 multiples of a power of two fixed by
// n and a bound B_k on |a'^k_ij|, S_kl to 128-bit multiples of another —
// and then added as integers. Integer addition is associative, so the state
// is the same to the last bit whatever the order of the tiles, the number
// of workers, the way the tile grid was split into shards, or the order in
// which the shards' states are merged. The grids leave 62 (row sums) and
// 125 (S) bits for values up to the bound, finer than float64 rounding of
// the same sums unless one distance is more than about 2^10 times the mean.
package estimator

import (
	"errors"
	"fmt"
	"math"
)

// ErrIncompatible is returned by Merge when two states do not describe the
// same samples and options.
var ErrIncompatible = errors.New("estimator: incompatible states")

// Stats is the additive state of K feature spaces over n samples.
//
// The zero value is an empty state with no spaces: Merge into it copies the
// other state. A Stats is not safe for concurrent use; the block package
// accumulates tiles into it from one goroutine in a fixed order.
type Stats struct {
	k        int
	n        int
	capacity int // n the grids are set for: n, or more after Grow
	exponent float64
	shift    []float64 // c_k
	bound    []float64 // B_k >= max |a'^k_ij|
	rowQ     []float64 // quantum of the row sums of space k, a power of two
	sQ       []float64 // quantum of S'_kl, packed by PairIndex, a power of two
	rows     [][]int64 // shifted row sums, in units of rowQ[k]
	s        []int128  // S'_kl in units of sQ, packed by PairIndex
}

// New returns an empty state for k spaces of n samples, with the distance
// exponent, the per-space shifts c_k that every tile added to it was
// computed with, and bounds B_k >= max_{i != j} |a^k_ij − c_k| (a bound on
// the shifted distances: for instance max((2R_k)^α − c_k, c_k) with R_k the
// largest distance of a sample of space k from any fixed point). The bounds
// fix the fixed-point grids of the sums; a tighter bound gives a finer grid.
// It panics if k < 1, n < 0, len(shift) != k, len(bound) != k, a bound is
// not positive and finite, or the exponent is outside (0, 2].
func New(k, n int, exponent float64, shift, bound []float64) *Stats {
	if k < 1 {
		panic("estimator: k < 1")
	}
	if n < 0 {
		panic("estimator: negative n")
	}
	if len(shift) != k || len(bound) != k {
		panic("estimator: len(shift) or len(bound) != k")
	}
	if !(exponent > 0 && exponent <= 2) {
		panic("estimator: exponent outside (0, 2]")
	}
	for i := range k {
		if !(bound[i] > 0 && bound[i] <= math.MaxFloat64) || math.IsNaN(shift[i]) || math.IsInf(shift[i], 0) {
			panic("estimator: bound not positive and finite, or shift not finite")
		}
	}
	st := &Stats{
		k:        k,
		n:        n,
		capacity: n,
		exponent: exponent,
		shift:    append([]float64(nil), shift...),
		bound:    append([]float64(nil), bound...),
		rows:     make([][]int64, k),
		s:        make([]int128, k*(k+1)/2),
	}
	st.setQuanta()
	for i := range st.rows {
		st.rows[i] = make([]int64, n)
	}
	return st
}

// Bits of headroom of the fixed-point grids: a row sum is at most
// (n−1)·B_k < 2^rowBits quanta, |S'_kl| at most n²·B_k·B_l < 2^sBits quanta.
const (
	rowBits = 62
	sBits   = 125
)

// setQuanta derives the grids from the capacity and the bounds.
func (s *Stats) setQuanta() {
	n := float64(max(s.capacity, 1))
	s.rowQ = make([]float64, s.k)
	for k, b := range s.bound {
		s.rowQ[k] = pow2AtLeast(n*b) / (1 << rowBits)
	}
	s.sQ = make([]float64, s.k*(s.k+1)/2)
	for k := range s.k {
		for l := k; l < s.k; l++ {
			s.sQ[PairIndex(s.k, k, l)] = math.Ldexp(pow2AtLeast(n*s.bound[k]), -62) * math.Ldexp(pow2AtLeast(n*s.bound[l]), -(sBits-62))
		}
	}
}

// pow2AtLeast returns the least power of two >= x, for x > 0.
func pow2AtLeast(x float64) float64 {
	frac, exp := math.Frexp(x)
	if frac == 0.5 {
		return x
	}
	return math.Ldexp(1, exp)
}

// K returns the number of feature spaces.
func (s *Stats) K() int { return s.k }

// N returns the number of samples.
func (s *Stats) N() int { return s.n }

// Exponent returns the distance exponent α.
func (s *Stats) Exponent() float64 { return s.exponent }

// Shift returns c_k, the constant subtracted from every off-diagonal
// distance of space k before accumulation.
func (s *Stats) Shift(k int) float64 { return s.shift[k] }

// Bound returns B_k, the bound on |a^k_ij − c_k| the state was created with.
func (s *Stats) Bound(k int) float64 { return s.bound[k] }

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
// Summing the tiles of a partition of the upper triangle of the tile grid
// gives S'_kl and the shifted row sums exactly once.
type Tile struct {
	I0, J0   int
	Diagonal bool
	S        []float64
	RowI     [][]float64
	RowJ     [][]float64
}

// AddTile adds the contribution of t: each value is rounded once to the
// state's fixed-point grid and added exactly. It panics if t does not fit
// the state, or if a value exceeds what the bounds allow (a bound that does
// not hold).
func (s *Stats) AddTile(t *Tile) {
	if len(t.S) != len(s.s) || len(t.RowI) != s.k || (!t.Diagonal && len(t.RowJ) != s.k) {
		panic("estimator: tile does not match the state's spaces")
	}
	for p, v := range t.S {
		s.s[p] = s.s[p].add(toInt128(v / s.sQ[p]))
	}
	for k := range s.k {
		addRows(s.rows[k], t.I0, t.RowI[k], s.rowQ[k])
		if !t.Diagonal {
			addRows(s.rows[k], t.J0, t.RowJ[k], s.rowQ[k])
		}
	}
}

func addRows(dst []int64, off int, src []float64, q float64) {
	if off < 0 || off+len(src) > len(dst) {
		panic("estimator: tile rows out of range")
	}
	dst = dst[off : off+len(src)]
	for i, v := range src {
		u := math.RoundToEven(v / q)
		if !(math.Abs(u) < 1<<rowBits) {
			panic("estimator: row sum exceeds the bound")
		}
		dst[i] += int64(u)
	}
}

// Merge adds other to s: afterwards s describes the union of the pairs the
// two states were accumulated over. Both must have the same spaces, samples,
// exponent and shifts; otherwise Merge returns an error wrapping
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
	case s.n != other.n || s.capacity != other.capacity:
		return fmt.Errorf("%d samples (capacity %d) vs %d (%d): %w", s.n, s.capacity, other.n, other.capacity, ErrIncompatible)
	case s.exponent != other.exponent:
		return fmt.Errorf("exponent %v vs %v: %w", s.exponent, other.exponent, ErrIncompatible)
	}
	for k := range s.shift {
		if s.shift[k] != other.shift[k] || s.bound[k] != other.bound[k] {
			return fmt.Errorf("space %d shift/bound %v/%v vs %v/%v: %w", k, s.shift[k], s.bound[k], other.shift[k], other.bound[k], ErrIncompatible)
		}
	}
	// Check for overflow before changing anything: states of disjoint
	// tiles of the same samples never overflow.
	for k := range s.rows {
		for i, v := range other.rows[k] {
			if sum := s.rows[k][i] + v; sum >= 1<<rowBits || sum <= -(1<<rowBits) {
				return fmt.Errorf("space %d row %d: sum exceeds the bound (overlapping states?): %w", k, i, ErrIncompatible)
			}
		}
	}
	for p := range s.s {
		s.s[p] = s.s[p].add(other.s[p])
	}
	for k := range s.rows {
		for i, v := range other.rows[k] {
			s.rows[k][i] += v
		}
	}
	return nil
}

// Clone returns a deep copy of s.
func (s *Stats) Clone() *Stats { return s.clone() }

func (s *Stats) clone() *Stats {
	c := &Stats{
		k:        s.k,
		n:        s.n,
		capacity: s.capacity,
		exponent: s.exponent,
		shift:    append([]float64(nil), s.shift...),
		bound:    append([]float64(nil), s.bound...),
		rowQ:     append([]float64(nil), s.rowQ...),
		sQ:       append([]float64(nil), s.sQ...),
		rows:     make([][]int64, len(s.rows)),
		s:        append([]int128(nil), s.s...),
	}
	for k := range s.rows {
		c.rows[k] = append([]int64(nil), s.rows[k]...)
	}
	return c
}

// sum is a Neumaier compensated sum: the value is hi + lo.
type sum struct{ hi, lo float64 }

func (k *sum) add(x float64) {
	t := k.hi + x
	if math.Abs(k.hi) >= math.Abs(x) {
		k.lo += (k.hi - t) + x
	} else {
		k.lo += (x - t) + k.hi
	}
	k.hi = t
}

func (k sum) value() float64 { return k.hi + k.lo }

// S returns the shifted product sum S'_kl = sum_{i != j} (a^k_ij − c_k)(a^l_ij − c_l)
// accumulated so far.
func (s *Stats) S(k, l int) float64 {
	s.checkSpace(k)
	s.checkSpace(l)
	return s.sum(k, l)
}

// RowSums appends to dst the shifted row sums r'^k_i = sum_{j != i} (a^k_ij − c_k)
// of space k accumulated so far, i = 0..n−1, and returns the result.
func (s *Stats) RowSums(k int, dst []float64) []float64 {
	s.checkSpace(k)
	q := s.rowQ[k]
	for _, r := range s.rows[k] {
		dst = append(dst, float64(r)*q)
	}
	return dst
}

// Grow appends m samples to the state, with zero row sums, for the online
// case: tiles of the new rows against the old ones and among themselves are
// then added as usual. When n passes the capacity the grids were set for,
// the capacity doubles (or more) and every sum is rescaled to the coarser
// grid, each rounded once; the grids then have the precision of a state
// created for the new capacity. It panics if m < 0.
func (s *Stats) Grow(m int) {
	if m < 0 {
		panic("estimator: negative growth")
	}
	n := s.n + m
	for k := range s.rows {
		s.rows[k] = append(s.rows[k], make([]int64, m)...)
	}
	s.n = n
	if n <= s.capacity {
		return
	}
	c := max(1, s.capacity)
	for c < n {
		c *= 2
	}
	s.regrid(func() { s.capacity = c })
}

// Widen raises the bound of space k to at least b (to 2b when it grows,
// so that widening is rare), rescaling the sums of space k to the coarser
// grid. It is for the online case, when new samples lie farther apart than
// the bound allows. It panics if b is not finite.
func (s *Stats) Widen(k int, b float64) {
	s.checkSpace(k)
	if math.IsNaN(b) || math.IsInf(b, 0) {
		panic("estimator: bound not finite")
	}
	if b <= s.bound[k] {
		return
	}
	s.regrid(func() { s.bound[k] = 2 * b })
}

// regrid applies change to the capacity or bounds and moves every sum to
// the new grids, which are never finer than the old ones.
func (s *Stats) regrid(change func()) {
	oldRowQ, oldSQ := append([]float64(nil), s.rowQ...), append([]float64(nil), s.sQ...)
	change()
	s.setQuanta()
	for k, r := range s.rows {
		if sh := shiftBits(s.rowQ[k], oldRowQ[k]); sh > 0 {
			for i, v := range r {
				r[i] = shiftRound(v, sh)
			}
		}
	}
	for p := range s.s {
		if sh := shiftBits(s.sQ[p], oldSQ[p]); sh > 0 {
			s.s[p] = s.s[p].shiftRound(sh)
		}
	}
}

// shiftBits returns log2(q/old) for powers of two q >= old.
func shiftBits(q, old float64) uint {
	_, e := math.Frexp(q)
	_, eo := math.Frexp(old)
	if e < eo {
		panic("estimator: finer grid after regrid")
	}
	return uint(e - eo)
}

// shiftRound returns v/2^sh rounded to the nearest integer, ties to even.
func shiftRound(v int64, sh uint) int64 {
	if sh >= 63 {
		return 0 // |v| < 2^rowBits
	}
	q := v >> sh // floor
	r := v - q<<sh
	half := int64(1) << (sh - 1)
	if r > half || r == half && q&1 == 1 {
		q++
	}
	return q
}
