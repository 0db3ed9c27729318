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
// closed form. Long sums are compensated (Neumaier) and the compensation
// terms are merged too.
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
	exponent float64
	shift    []float64 // c_k
	rows     [][]float64
	s        []sum // S'_kl packed by PairIndex
}

// New returns an empty state for k spaces of n samples, with the distance
// exponent and the per-space shifts c_k (len(shift) == k) that every tile
// added to it was computed with. It panics if k < 1, n < 0,
// len(shift) != k or the exponent is outside (0, 2].
func New(k, n int, exponent float64, shift []float64) *Stats {
	if k < 1 {
		panic("estimator: k < 1")
	}
	if n < 0 {
		panic("estimator: negative n")
	}
	if len(shift) != k {
		panic("estimator: len(shift) != k")
	}
	if !(exponent > 0 && exponent <= 2) {
		panic("estimator: exponent outside (0, 2]")
	}
	st := &Stats{
		k:        k,
		n:        n,
		exponent: exponent,
		shift:    append([]float64(nil), shift...),
		rows:     make([][]float64, k),
		s:        make([]sum, k*(k+1)/2),
	}
	for i := range st.rows {
		st.rows[i] = make([]float64, n)
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
// distance of space k before accumulation.
func (s *Stats) Shift(k int) float64 { return s.shift[k] }

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

// AddTile adds the contribution of t. It panics if t does not fit the state.
func (s *Stats) AddTile(t *Tile) {
	if len(t.S) != len(s.s) || len(t.RowI) != s.k || (!t.Diagonal && len(t.RowJ) != s.k) {
		panic("estimator: tile does not match the state's spaces")
	}
	for p, v := range t.S {
		s.s[p].add(v)
	}
	for k := range s.k {
		addRows(s.rows[k], t.I0, t.RowI[k])
		if !t.Diagonal {
			addRows(s.rows[k], t.J0, t.RowJ[k])
		}
	}
}

func addRows(dst []float64, off int, src []float64) {
	if off < 0 || off+len(src) > len(dst) {
		panic("estimator: tile rows out of range")
	}
	dst = dst[off : off+len(src)]
	for i, v := range src {
		dst[i] += v
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
	case s.n != other.n:
		return fmt.Errorf("%d samples vs %d: %w", s.n, other.n, ErrIncompatible)
	case s.exponent != other.exponent:
		return fmt.Errorf("exponent %v vs %v: %w", s.exponent, other.exponent, ErrIncompatible)
	}
	for k := range s.shift {
		if s.shift[k] != other.shift[k] {
			return fmt.Errorf("space %d shift %v vs %v: %w", k, s.shift[k], other.shift[k], ErrIncompatible)
		}
	}
	for p := range s.s {
		s.s[p].merge(other.s[p])
	}
	for k := range s.rows {
		addRows(s.rows[k], 0, other.rows[k])
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
		rows:     make([][]float64, len(s.rows)),
		s:        append([]sum(nil), s.s...),
	}
	for k := range s.rows {
		c.rows[k] = append([]float64(nil), s.rows[k]...)
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

// merge adds o, its compensation included.
func (k *sum) merge(o sum) {
	k.add(o.hi)
	k.add(o.lo)
}

func (k sum) value() float64 { return k.hi + k.lo }
