package estimator

import (
	"encoding/binary"
	"fmt"
	"math"
)

// PermutationTest holds the exact sums of a permutation test of
// independence of spaces x and y (energy::dcov.test; DESIGN §5): for R
// permutations π_b of the samples of y,
//
//	S_xy(π_b) = sum_{i≠j} a'_ij b'_π(i)π(j)
//
// added tile by tile (block.Permutations). Under a permutation T_x, T_y,
// U_xx and U_yy do not change and Q_xy(π) = sum_i r^x_i r^y_π(i) is O(n),
// so R*(π_b) follows, and the p-value is
//
//	p = (1 + #{b : R*(π_b) ≥ R*}) / (1 + R)
//
// The comparison is made on the exact U numerators (same denominator), so
// ties are ties. The sums are exact, so shards merge to the same p-value.
// Memory: 8·w bytes per permutation.
type PermutationTest struct {
	x, y int
	s    Sums // one per permutation
}

// NewPermutationTest returns empty sums for r permutations of space y
// against space x. It panics if r < 1.
func NewPermutationTest(x, y, r int) *PermutationTest {
	if r < 1 {
		panic("estimator: no permutations")
	}
	return &PermutationTest{x: x, y: y, s: Sums{newBank(r)}}
}

// R returns the number of permutations.
func (t *PermutationTest) R() int { return t.s.Len() }

// Spaces returns the spaces x and y of the test.
func (t *PermutationTest) Spaces() (x, y int) { return t.x, t.y }

// Add adds v[b] to S_xy(π_b) for every b, exactly. It returns an error
// wrapping ErrOverflow, and adds nothing, for a value that is not finite.
// It panics if len(v) != R().
func (t *PermutationTest) Add(v []float64) error { return t.s.Add(v) }

// Merge adds o's sums (other tiles of the same test) to t.
func (t *PermutationTest) Merge(o *PermutationTest) error {
	if o.x != t.x || o.y != t.y || o.R() != t.R() {
		return fmt.Errorf("permutation test of spaces %d, %d × %d vs %d, %d × %d: %w", o.x, o.y, o.R(), t.x, t.y, t.R(), ErrIncompatible)
	}
	return t.s.Merge(&o.s)
}

// PermutationResult is the outcome of a permutation test.
type PermutationResult struct {
	Permutations int     // R
	Exceed       int     // #{b : R*(π_b) ≥ R*}
	P            float64 // (1 + Exceed)/(1 + R)
	Mean, SD     float64 // of R*(π_b), for reporting
	// ExceedV and PV are the test of the same permutations on the
	// V-statistic n·dCov²_n (energy::dcov.test and dcor.test), another
	// test of independence: #{b : V²(π_b) ≥ V²} and (1 + ExceedV)/(1 + R).
	ExceedV int
	PV      float64
}

// Result returns the test of the complete state st (whose spaces x and y
// the sums were accumulated for), with perm(b, i) = π_b(i), the
// permutations the sums were made with. It panics if st does not fit.
func (t *PermutationTest) Result(st *Stats, perm func(b, i int) int) PermutationResult {
	st.checkSpace(t.x)
	st.checkSpace(t.y)
	res := PermutationResult{Permutations: t.R(), P: 1, PV: 1}
	if st.n < 4 {
		return res
	}
	n := int64(st.n)
	ev := st.eval()
	observed := st.uNum(t.x, t.y)
	// V²·n⁴ (see vNum) is n²·S' − 2n·Q' plus terms a permutation does
	// not change (the totals, the shifts), so the V-statistic of π_b is
	// compared exactly on n²·S'(π_b) − 2n·Q'(π_b) + fixed.
	observedV := st.vNum(t.x, t.y)
	fixed := observedV.add(st.s.value(PairIndex(st.k, t.x, t.y)).scale(n).scale(-n)).add(st.q(t.x, t.y).scale(2 * n))
	uxx, uyy := st.u(t.x, t.x), st.u(t.y, t.y)
	den := geomean(uxx, uyy)
	d := bigProd(n, n-1, n-2, n-3)
	tt := ev.t[t.x].mul(ev.t[t.y])
	rx, ry := &st.rows[t.x], &st.rows[t.y]
	var sum, sum2 float64
	for b := range t.R() {
		q := rx.dotPerm(ry, func(i int) int { return perm(b, i) })
		num := t.s.b.value(b).scale(n - 1).scale(n - 2).add(q.scale(-2 * (n - 1))).add(tt)
		if num.add(observed.scale(-1)).sign() >= 0 {
			res.Exceed++
		}
		v := t.s.b.value(b).scale(n).scale(n).add(q.scale(-2 * n)).add(fixed)
		if v.add(observedV.scale(-1)).sign() >= 0 {
			res.ExceedV++
		}
		var r float64
		if den > 0 {
			r = math.Max(-1, math.Min(1, num.quo(d)/den))
		}
		sum += r
		sum2 += r * r
	}
	m := float64(t.R())
	res.P = float64(1+res.Exceed) / (1 + m)
	res.PV = float64(1+res.ExceedV) / (1 + m)
	res.Mean = sum / m
	res.SD = math.Sqrt(math.Max(0, sum2/m-res.Mean*res.Mean))
	return res
}

// Sums is a vector of exact sums of float64 values: the sums of any
// statistic added tile by tile (PermutationTest and
// PartialPermutationTest keep one per permutation in one). The zero value is not usable: call NewSums. A Sums
// is not safe for concurrent use.
type Sums struct{ b bank }

// NewSums returns m zero sums. It panics if m < 1.
func NewSums(m int) *Sums {
	if m < 1 {
		panic("estimator: no sums")
	}
	return &Sums{newBank(m)}
}

// Len returns the number of sums.
func (s *Sums) Len() int { return s.b.rows }

// Add adds v[i] to sum i exactly, for every i. It returns an error
// wrapping ErrOverflow, and adds nothing, if a value is not finite. It
// panics if len(v) != Len().
func (s *Sums) Add(v []float64) error {
	if len(v) != s.b.rows {
		panic("estimator: sums of the wrong length")
	}
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("sum %d: %v: %w", i, x, ErrOverflow)
		}
	}
	s.b.addSlice(0, v)
	return nil
}

// Merge adds o to s. It returns an error wrapping ErrIncompatible if the
// lengths differ.
func (s *Sums) Merge(o *Sums) error {
	if o.b.rows != s.b.rows {
		return fmt.Errorf("%d sums vs %d: %w", o.b.rows, s.b.rows, ErrIncompatible)
	}
	s.b.merge(&o.b)
	return nil
}

// Float returns sum i rounded to float64.
func (s *Sums) Float(i int) float64 { return s.b.float(i) }

// Cmp compares sums i and j exactly: −1, 0 or +1.
func (s *Sums) Cmp(i, j int) int { return s.b.value(i).add(s.b.value(j).scale(-1)).sign() }

const (
	permMagic   = "DCPT"
	permVersion = 1
)

// MarshalBinary encodes t, version 1, all numbers little endian:
//
//	bytes 0..3   magic "DCPT"
//	byte  4      version (1)
//	uvarint      x, uvarint y: the spaces
//	uvarint      R, the number of permutations (at least 1)
//	bank         S_xy(π_b), R rows (see Stats.MarshalBinary)
//	uint32       CRC-32C (Castagnoli) of every byte before it
//
// Equal sums have equal bytes.
func (t *PermutationTest) MarshalBinary() ([]byte, error) {
	b := []byte(permMagic)
	b = append(b, permVersion)
	b = binary.AppendUvarint(b, uint64(t.x))
	b = binary.AppendUvarint(b, uint64(t.y))
	b = binary.AppendUvarint(b, uint64(t.R()))
	b = t.s.b.appendTo(b)
	return seal(b), nil
}

// UnmarshalBinary decodes an encoding of MarshalBinary into t. On error t
// is unchanged and the error wraps ErrCorrupt or ErrVersion.
func (t *PermutationTest) UnmarshalBinary(data []byte) error {
	sp, bk, err := openTest(data, permMagic, permVersion, "permutation test", []string{"space x", "space y"}, 0)
	if err != nil {
		return err
	}
	*t = PermutationTest{x: sp[0], y: sp[1], s: Sums{bk}}
	return nil
}

// openTest decodes the encoding of a permutation test (magic, version,
// the uvarints of the spaces named, R, then a bank of R+extra sums, the
// checksum), checking that each space is below maxSpaces, 1 ≤ R ≤ 2^32 and
// that nothing follows the sums.
func openTest(data []byte, magic string, version byte, what string, spaces []string, extra int) ([]int, bank, error) {
	d, err := open(data, magic, version, what)
	if err != nil {
		return nil, bank{}, err
	}
	v := make([]int, len(spaces))
	for i, name := range spaces {
		u, err := d.uvarint(name)
		if err != nil {
			return nil, bank{}, err
		}
		if u >= maxSpaces {
			return nil, bank{}, fmt.Errorf("%s %d: %w", name, u, ErrCorrupt)
		}
		v[i] = int(u)
	}
	r, err := d.uvarint("permutations")
	if err != nil {
		return nil, bank{}, err
	}
	if r < 1 || r > 1<<32 {
		return nil, bank{}, fmt.Errorf("%d permutations: %w", r, ErrCorrupt)
	}
	bk, err := d.bank(int(r)+extra, what+" sums")
	if err != nil {
		return nil, bank{}, err
	}
	if len(d.b) != 0 {
		return nil, bank{}, fmt.Errorf("%d bytes after the sums: %w", len(d.b), ErrCorrupt)
	}
	return v, bk, nil
}
