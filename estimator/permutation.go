package estimator

import (
	"encoding/binary"
	"fmt"
	"math"
)

// PermutationTest holds the exact sums of a permutation test of
// independence of spaces x and y (energy::dcov.test; DESIGN §5): for R
// permutations π_b of the samples of y and for the identity, with a' and
// b' the shifted distances of x and y (the shifts of the plan),
//
//	S'(π)   = sum_{i≠j} a'_ij b'_π(i)π(j)
//	r'^x_i  = sum_{j≠i} a'_ij,   r'^y_i = sum_{j≠i} b'_ij
//	Q'(π)   = sum_i r'^x_i r'^y_π(i)
//
// added tile by tile (block.PermPass), each tile's products summed
// exactly, not rounded: the sums are the exact sums over every pair of the
// distances as computed. Under a permutation T'_x, T'_y, U_xx and U_yy do
// not change, so the U numerator (n−1)(n−2)·S' − 2(n−1)·Q' + T'_x·T'_y of
// π_b exceeds the observed one (π = identity) exactly when
//
//	Δ_U(π_b) = (n−2)·(S'(π_b) − S'(id)) − 2·(Q'(π_b) − Q'(id)) ≥ 0
//
// and the V numerator n²·S' − 2n·Q' + (terms π leaves alone) when
// Δ_V = n·(S'(π_b) − S'(id)) − 2·(Q'(π_b) − Q'(id)) ≥ 0, and
//
//	p = (1 + #{b : Δ_U(π_b) ≥ 0}) / (1 + R)
//
// Both are decided on exact numbers, so ties are ties: a space whose
// U-centred matrix is exactly 0 (every row but one equal) ties every
// permutation, p = 1. The sums are exact, so shards and resumed runs
// merge to the same p-value. Memory: about 24 bytes per permutation and
// 48 per sample (both grow with the spread of the values).
type PermutationTest struct {
	x, y   int
	s      Sums // 0: S'(id); b+1: S'(π_b)
	rx, ry bank // n rows: r'^x, r'^y
}

// NewPermutationTest returns empty sums for r permutations of the n
// samples of space y against space x. It panics if r < 1 or n < 1.
func NewPermutationTest(x, y, r, n int) *PermutationTest {
	if r < 1 || n < 1 {
		panic("estimator: no permutations, or no samples")
	}
	return &PermutationTest{x: x, y: y, s: Sums{newBank(r + 1)}, rx: newBank(n), ry: newBank(n)}
}

// R returns the number of permutations.
func (t *PermutationTest) R() int { return t.s.Len() - 1 }

// N returns the number of samples.
func (t *PermutationTest) N() int { return t.rx.rows }

// Spaces returns the spaces x and y of the test.
func (t *PermutationTest) Spaces() (x, y int) { return t.x, t.y }

// AddSum adds every value of v to S'(π_b), exactly; b = −1 is the
// identity (the observed statistic). It returns an error wrapping
// ErrOverflow, and adds nothing, if a value is not finite. It panics if b
// is out of range.
func (t *PermutationTest) AddSum(b int, v []float64) error {
	if b < -1 || b >= t.R() {
		panic("estimator: permutation index out of range")
	}
	return addAll(&t.s.b, b+1, v)
}

// AddRow adds every value of v to the row sum r'_i of space x (k = 0) or
// y (k = 1), exactly. It returns an error wrapping ErrOverflow, and adds
// nothing, if a value is not finite. It panics if k or i is out of range.
func (t *PermutationTest) AddRow(k, i int, v []float64) error {
	if (k != 0 && k != 1) || i < 0 || i >= t.N() {
		panic("estimator: row sum index out of range")
	}
	b := &t.rx
	if k == 1 {
		b = &t.ry
	}
	return addAll(b, i, v)
}

// addAll adds every value of v to row i of b, or nothing if one is not
// finite.
func addAll(b *bank, i int, v []float64) error {
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("sum %d: %v: %w", i, x, ErrOverflow)
		}
	}
	for _, x := range v {
		b.add(i, x)
	}
	return nil
}

// Merge adds o's sums (other tiles of the same test) to t.
func (t *PermutationTest) Merge(o *PermutationTest) error {
	if o.x != t.x || o.y != t.y || o.R() != t.R() || o.N() != t.N() {
		return fmt.Errorf("permutation test of spaces %d, %d × %d of %d samples vs %d, %d × %d of %d: %w", o.x, o.y, o.R(), o.N(), t.x, t.y, t.R(), t.N(), ErrIncompatible)
	}
	t.s.b.merge(&o.s.b)
	t.rx.merge(&o.rx)
	t.ry.merge(&o.ry)
	return nil
}

// PermutationResult is the outcome of a permutation test.
type PermutationResult struct {
	Permutations int     // R
	Exceed       int     // #{b : R*(π_b) ≥ R*}, decided exactly (Δ_U ≥ 0)
	P            float64 // (1 + Exceed)/(1 + R)
	Mean, SD     float64 // of R*(π_b), for reporting
	// ExceedV and PV are the test of the same permutations on the
	// V-statistic n·dCov²_n (energy::dcov.test and dcor.test), another
	// test of independence: #{b : V²(π_b) ≥ V²} and (1 + ExceedV)/(1 + R).
	ExceedV int
	PV      float64
}

// Result returns the test of the complete state st (whose spaces x and y
// the sums were accumulated for, over every tile), with perm(b, dst)
// setting dst[i] = π_b(i), the permutations the sums were made with. It
// panics if st does not fit.
func (t *PermutationTest) Result(st *Stats, perm func(b int, dst []int)) PermutationResult {
	st.checkSpace(t.x)
	st.checkSpace(t.y)
	if st.n != t.N() {
		panic("estimator: a permutation test of other samples")
	}
	res := PermutationResult{Permutations: t.R(), P: 1, PV: 1}
	if st.n < 4 {
		return res
	}
	n := int64(st.n)
	s0, q0 := t.s.b.value(0), t.rx.dot(&t.ry)
	// R*(π_b) for the mean and SD: the state's observed U numerator
	// moved by (n−1)·Δ_U.
	observed := st.uNum(t.x, t.y)
	den := geomean(st.u(t.x, t.x), st.u(t.y, t.y))
	d := bigProd(n, n-1, n-2, n-3)
	pi := make([]int, st.n)
	at := func(i int) int { return pi[i] }
	var sum, sum2 float64
	for b := range t.R() {
		perm(b, pi)
		ds := t.s.b.value(b + 1).add(s0.scale(-1))
		dq := t.rx.dotPerm(&t.ry, at).add(q0.scale(-1)).scale(-2)
		du := ds.scale(n - 2).add(dq)
		if du.sign() >= 0 {
			res.Exceed++
		}
		if ds.scale(n).add(dq).sign() >= 0 {
			res.ExceedV++
		}
		var r float64
		if den > 0 {
			r = math.Max(-1, math.Min(1, observed.add(du.scale(n-1)).quo(d)/den))
		}
		sum += r
		sum2 += float64(r * r)
	}
	m := float64(t.R())
	res.P = float64(1+res.Exceed) / (1 + m)
	res.PV = float64(1+res.ExceedV) / (1 + m)
	res.Mean = sum / m
	res.SD = math.Sqrt(math.Max(0, sum2/m-float64(res.Mean*res.Mean)))
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
	permMagic = "DCPT"
	// permVersion 2: the sums of the identity and the exact row sums of
	// the pass are held, and the permutations are those of
	// block.PermutationScheme 2 (Fisher–Yates); version 1 held sums of
	// the Feistel permutations of scheme 1, which are not uniform.
	permVersion = 2
)

// MarshalBinary encodes t, version 2, all numbers little endian:
//
//	bytes 0..3   magic "DCPT"
//	byte  4      version (2)
//	uvarint      x, uvarint y: the spaces
//	uvarint      R, the number of permutations (at least 1)
//	uvarint      n, the number of samples (at least 1)
//	bank         S'(id), then S'(π_b): R+1 rows (see Stats.MarshalBinary)
//	bank         r'^x, n rows
//	bank         r'^y, n rows
//	uint32       CRC-32C (Castagnoli) of every byte before it
//
// Equal sums have equal bytes.
func (t *PermutationTest) MarshalBinary() ([]byte, error) {
	b := []byte(permMagic)
	b = append(b, permVersion)
	for _, v := range []int{t.x, t.y, t.R(), t.N()} {
		b = binary.AppendUvarint(b, uint64(v))
	}
	b = t.s.b.appendTo(b)
	b = t.rx.appendTo(b)
	b = t.ry.appendTo(b)
	return seal(b), nil
}

// UnmarshalBinary decodes an encoding of MarshalBinary into t. On error t
// is unchanged and the error wraps ErrCorrupt or ErrVersion (a version 1
// encoding: sums of other permutations).
func (t *PermutationTest) UnmarshalBinary(data []byte) error {
	if len(data) > len(permMagic) && string(data[:len(permMagic)]) == permMagic && data[len(permMagic)] == 1 {
		return fmt.Errorf("permutation test version 1, the sums of the Feistel permutations of an earlier dcor-stream, which were not uniform: recompute the permutation pass with this version: %w", ErrVersion)
	}
	d, err := open(data, permMagic, permVersion, "permutation test")
	if err != nil {
		return err
	}
	var v [4]uint64
	for i, name := range []string{"space x", "space y", "permutations", "samples"} {
		if v[i], err = d.uvarint(name); err != nil {
			return err
		}
	}
	switch {
	case v[0] >= maxSpaces || v[1] >= maxSpaces:
		return fmt.Errorf("spaces %d, %d: %w", v[0], v[1], ErrCorrupt)
	case v[2] < 1 || v[2] > 1<<32:
		return fmt.Errorf("%d permutations: %w", v[2], ErrCorrupt)
	case v[3] < 1 || v[3] > 1<<40:
		return fmt.Errorf("%d samples: %w", v[3], ErrCorrupt)
	}
	s, err := d.bank(int(v[2])+1, "permutation test sums")
	if err != nil {
		return err
	}
	rx, err := d.bank(int(v[3]), "permutation test row sums of x")
	if err != nil {
		return err
	}
	ry, err := d.bank(int(v[3]), "permutation test row sums of y")
	if err != nil {
		return err
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%d bytes after the sums: %w", len(d.b), ErrCorrupt)
	}
	*t = PermutationTest{x: int(v[0]), y: int(v[1]), s: Sums{s}, rx: rx, ry: ry}
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
