package estimator

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
)

// Linear holds the additive sums of unbiased HSIC with the linear kernel
// k(x, x') = x·x' for K feature spaces, computed in feature space in
// O(n·p·q) without any tile (DESIGN §7). With the kernel in place of the
// distance (k_ij = x_i·x_j for i != j, 0 on the diagonal), the U-statistic
// of §1 is unbiased HSIC (Song et al. 2012), and
//
//	S_kl = sum_{i≠j} (x_i·x_j)(y_i·y_j) = ‖XᵀY‖²_F − sum_i |x_i|²|y_i|²
//	r_i  = x_i·s_x − |x_i|²,              s_x = sum_i x_i
//	T_k  = |s_x|² − sum_i |x_i|²
//	Q_kl = s_xᵀ(XᵀY)s_y − s_x·sum_i |y_i|² x_i − s_y·sum_i |x_i|² y_i + sum_i |x_i|²|y_i|²
//
// so the state is XᵀY for every pair of spaces, the column sums, the
// vectors sum_i |y_i|² x_i and the scalars sum_i |x_i|²|y_i|². Debiased
// linear CKA (Kornblith et al. 2019, unbiased=True) is the R* formula on
// these U-statistics; it equals their feature-space formula exactly.
//
// Each space is first scaled by 2^−e_k and centred by a fixed vector c
// (NewLinear's centre), fixed before the first row. HSIC is invariant to
// a translation, so any c gives the same statistic in exact arithmetic;
// but each block of rows given to Add is summed in float64 (and then
// added exactly), and an offset μ left in the centred values enters the
// fourth-order sums, whose rounding the formula's cancellation then
// amplifies by about (1 + |μ|/spread)⁴: a centre rounded to 8 bits left
// μ ≈ c/512, and a shift of the data by 10⁷ gave CKA 0 for 0.1996. So c
// must be near the data and x·2^−e_k − c exact where the offset is large:
// block.Normalization's centre (the exact median of the leading rows,
// one of the values: x − c is exact by Sterbenz's lemma for every x
// within a factor 2 of c, which covers every value of data far from 0)
// does both, and CKA and HSIC are then exact to ~1e-13 relative for any
// offset float64 data can hold (TestLinearShiftScaleExact). The state is
// the same whatever the order and grouping of the blocks once they are
// fixed, and shards merge exactly. Memory: 8·w bytes for
// each of the sum_{k≤l} p_k·p_l entries of the XᵀY matrices (w ≈ 3).
//
// The zero value is not usable: call NewLinear. A Linear is not safe for
// concurrent use, not even by readers: CKA caches the self terms.
type Linear struct {
	dims   []int
	n      int
	centre [][]float64
	scale  []int
	c      []bank // per pair k ≤ l (PairIndex): XᵀY, p_k·p_l rows, row-major
	s      []bank // per space: column sums, p_k rows
	v      []bank // per ordered pair (k, l): sum_i |x^l_i|² x^k_i, p_k rows, index k·K+l
	w      bank   // per pair k ≤ l: sum_i |x^k_i|²|x^l_i|², one row each
	sq     bank   // per space: sum_i |x_i|², one row each

	// self caches HSIC_kk in the scaled units, by space, evaluated once
	// for the CKA of every pair of space k (a matrix asks K² pairs); Add
	// and Merge drop it.
	self map[int]float64
}

// NewLinear returns an empty state of spaces of the given dimensions,
// each scaled by 2^−scale[k] then centred by centre[k] (nil: no scaling,
// no centring), for every pair of spaces. It panics if a dimension is < 1
// or the lengths differ.
func NewLinear(dims []int, centre [][]float64, scale []int) *Linear {
	return NewLinearPairs(dims, centre, scale, nil)
}

// NewLinearPairs is NewLinear for the given pairs of spaces only (and
// each of their spaces with itself): XᵀY of p·q entries is kept only for
// those. HSIC and CKA of another pair panic. nil pairs means all.
func NewLinearPairs(dims []int, centre [][]float64, scale []int, pairs [][2]int) *Linear {
	k := len(dims)
	if k < 1 || centre != nil && len(centre) != k || scale != nil && len(scale) != k {
		panic("estimator: NewLinear lengths")
	}
	l := &Linear{dims: append([]int(nil), dims...), centre: make([][]float64, k), scale: make([]int, k),
		c: make([]bank, k*(k+1)/2), s: make([]bank, k), v: make([]bank, k*k), w: newBank(k * (k + 1) / 2), sq: newBank(k)}
	copy(l.scale, scale)
	for a, d := range dims {
		if d < 1 {
			panic("estimator: dimension < 1")
		}
		l.centre[a] = make([]float64, d)
		if centre != nil {
			if len(centre[a]) != d {
				panic("estimator: centre of the wrong dimension")
			}
			copy(l.centre[a], centre[a])
		}
		l.s[a] = newBank(d)
	}
	want := func(a, b int) bool {
		if pairs == nil {
			return true
		}
		for _, p := range pairs {
			if p[0] == a && p[1] == b || p[0] == b && p[1] == a || a == b && (p[0] == a || p[1] == a) {
				return true
			}
		}
		return false
	}
	for a := range k {
		for b := a; b < k; b++ {
			if want(a, b) {
				l.c[PairIndex(k, a, b)] = newBank(dims[a] * dims[b])
				l.v[a*k+b], l.v[b*k+a] = newBank(dims[a]), newBank(dims[b])
			}
		}
	}
	return l
}

// Bytes returns the memory of l's sums.
func (l *Linear) Bytes() int64 {
	var t int64
	for _, bs := range [][]bank{l.c, l.s, l.v, {l.w, l.sq}} {
		for i := range bs {
			t += 8 * int64(cap(bs[i].v))
		}
	}
	return t
}

// has reports whether the pair (a, b) is kept.
func (l *Linear) has(a, b int) bool { return l.c[PairIndex(len(l.dims), a, b)].rows > 0 }

// N returns the number of samples added.
func (l *Linear) N() int { return l.n }

// Add adds m samples: rows[k] holds m rows of space k, row-major
// (m·dims[k] values). It returns an error wrapping ErrOverflow if a value
// or sum is not finite, and then leaves l unchanged. It panics if the
// lengths do not fit the dimensions.
func (l *Linear) Add(rows [][]float64) error {
	k := len(l.dims)
	if len(rows) != k {
		panic("estimator: Linear.Add spaces")
	}
	m := len(rows[0]) / l.dims[0]
	x := make([][]float64, k)
	norm := make([][]float64, k)
	for a, d := range l.dims {
		if len(rows[a]) != m*d {
			panic("estimator: Linear.Add rows")
		}
		f := math.Ldexp(1, -l.scale[a])
		x[a] = make([]float64, m*d)
		norm[a] = make([]float64, m)
		for i := range m {
			var s float64
			for q := range d {
				v := rows[a][i*d+q]*f - l.centre[a][q]
				x[a][i*d+q] = v
				s += float64(v * v)
			}
			norm[a][i] = s
		}
	}
	// Every block sum in float64, checked, then added exactly.
	type part struct {
		b   *bank
		val []float64
	}
	var parts []part
	for a, d := range l.dims {
		s := make([]float64, d)
		for i := range m {
			for q := range d {
				s[q] += x[a][i*d+q]
			}
		}
		parts = append(parts, part{&l.s[a], s})
		for b, e := range l.dims {
			if !l.has(a, b) {
				continue
			}
			v := make([]float64, d)
			for i := range m {
				for q := range d {
					v[q] += float64(norm[b][i] * x[a][i*d+q])
				}
			}
			parts = append(parts, part{&l.v[a*k+b], v})
			if b < a {
				continue
			}
			c := make([]float64, d*e)
			outerAdd(c, x[a], x[b], m, d, e)
			parts = append(parts, part{&l.c[PairIndex(k, a, b)], c})
		}
	}
	w := make([]float64, k*(k+1)/2)
	sq := make([]float64, k)
	for a := range k {
		for i := range m {
			sq[a] += norm[a][i]
			for b := a; b < k; b++ {
				if l.has(a, b) {
					w[PairIndex(k, a, b)] += float64(norm[a][i] * norm[b][i]) // no FMA: the same bits on every CPU
				}
			}
		}
	}
	parts = append(parts, part{&l.w, w}, part{&l.sq, sq})
	for _, p := range parts {
		for _, v := range p.val {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("linear kernel sums of %d rows: %v: %w", m, v, ErrOverflow)
			}
		}
	}
	for _, p := range parts {
		p.b.addSlice(0, p.val)
	}
	l.n += m
	l.self = nil
	return nil
}

// Merge adds o (the sums of other samples of the same spaces, centres and
// scales) to l. It returns an error wrapping ErrIncompatible otherwise. o
// is not modified.
func (l *Linear) Merge(o *Linear) error {
	if len(l.dims) != len(o.dims) {
		return fmt.Errorf("%d spaces vs %d: %w", len(l.dims), len(o.dims), ErrIncompatible)
	}
	for a := range l.dims {
		if l.dims[a] != o.dims[a] || l.scale[a] != o.scale[a] {
			return fmt.Errorf("space %d: dim %d scale %d vs %d %d: %w", a, l.dims[a], l.scale[a], o.dims[a], o.scale[a], ErrIncompatible)
		}
		for q := range l.centre[a] {
			if l.centre[a][q] != o.centre[a][q] {
				return fmt.Errorf("space %d: other centre: %w", a, ErrIncompatible)
			}
		}
	}
	for i := range l.c {
		l.c[i].merge(&o.c[i])
	}
	for i := range l.s {
		l.s[i].merge(&o.s[i])
	}
	for i := range l.v {
		l.v[i].merge(&o.v[i])
	}
	l.w.merge(&o.w)
	l.sq.merge(&o.sq)
	l.n += o.n
	l.self = nil
	return nil
}

// vector returns the rows of b as exact big integers of the common unit
// 2^(64·b.lo).
func vector(b *bank) ([]*big.Int, int) {
	out := make([]*big.Int, b.rows)
	for i := range out {
		out[i] = bigOf(b.row(i))
	}
	return out, 64 * b.lo
}

// dotBig returns sum_i a_i·b_i.
func dotBig(a, b []*big.Int) *big.Int {
	z, t := new(big.Int), new(big.Int)
	for i := range a {
		z.Add(z, t.Mul(a[i], b[i]))
	}
	return z
}

// uNum returns the exact numerator of the U-statistic of spaces a, b over
// D = n(n−1)(n−2)(n−3), in the scaled units.
func (l *Linear) uNum(a, b int) *dyadic {
	k := len(l.dims)
	n := int64(l.n)
	if a > b {
		a, b = b, a
	}
	p := PairIndex(k, a, b)
	c, ec := vector(&l.c[p])
	sa, ea := vector(&l.s[a])
	sb, eb := vector(&l.s[b])
	va, eva := vector(&l.v[a*k+b]) // sum |x^b|² x^a
	vb, evb := vector(&l.v[b*k+a]) // sum |x^a|² x^b
	w := l.w.value(p)

	frob := &dyadic{e: 2 * ec}
	frob.m.Set(dotBig(c, c))
	s := frob.add(w.scale(-1))
	// s_aᵀ C s_b
	e := l.dims[b]
	sc := new(big.Int)
	row := make([]*big.Int, e)
	for q := range l.dims[a] {
		copy(row, c[q*e:(q+1)*e])
		sc.Add(sc, new(big.Int).Mul(sa[q], dotBig(row, sb)))
	}
	q := &dyadic{e: ea + ec + eb}
	q.m.Set(sc)
	t1 := &dyadic{e: ea + eva}
	t1.m.Set(dotBig(sa, va))
	t2 := &dyadic{e: eb + evb}
	t2.m.Set(dotBig(sb, vb))
	q = q.add(t1.scale(-1)).add(t2.scale(-1)).add(w)
	total := func(x int, sx []*big.Int, ex int) *dyadic {
		t := &dyadic{e: 2 * ex}
		t.m.Set(dotBig(sx, sx))
		return t.add(l.sq.value(x).scale(-1))
	}
	ta, tb := total(a, sa, ea), total(b, sb, eb)
	return s.scale(n - 1).scale(n - 2).add(q.scale(-2 * (n - 1))).add(ta.mul(tb))
}

// HSIC returns the unbiased HSIC of spaces a and b with the linear kernel
// (the U-statistic above, in the units of the data), rounded once. ok is
// false, and h 0, if n < 4; ok is also false if the value in the units
// of the data is beyond float64's range (the scale of the data puts it
// above about 1.8e308 or below 2.2e-308: h is then ±MaxFloat64 or the
// underflowed value). It panics if an index is out of range.
func (l *Linear) HSIC(a, b int) (h float64, ok bool) {
	l.check(a, b)
	if l.n < 4 {
		return 0, false
	}
	v := l.scaled(a, b)
	e := 2 * (l.scale[a] + l.scale[b])
	if v == 0 || e == 0 {
		return v, true
	}
	r := math.Ldexp(v, e)
	switch {
	case math.IsInf(r, 0):
		return math.Copysign(math.MaxFloat64, v), false
	case math.Abs(r) < 0x1p-1022:
		return r, false
	}
	return r, true
}

// CKA returns debiased linear CKA, HSIC_ab/sqrt(HSIC_aa·HSIC_bb) clamped
// to [−1, 1], and ok false (value 0) when n < 4 or a self-HSIC is not
// positive. It is computed in the scaled units, where it is the same.
func (l *Linear) CKA(a, b int) (float64, bool) {
	l.check(a, b)
	if l.n < 4 {
		return 0, false
	}
	hab, haa, hbb := l.scaled(a, b), l.selfScaled(a), l.selfScaled(b)
	if !(haa > 0 && hbb > 0) {
		return 0, false
	}
	return rstar(hab, haa, hbb), true
}

// scaled returns HSIC_ab in the scaled units, rounded once (n ≥ 4).
func (l *Linear) scaled(a, b int) float64 {
	n := int64(l.n)
	return l.uNum(a, b).quo(bigProd(n, n-1, n-2, n-3))
}

// selfScaled returns scaled(a, a), evaluated once per state.
func (l *Linear) selfScaled(a int) float64 {
	if v, ok := l.self[a]; ok {
		return v
	}
	if l.self == nil {
		l.self = make(map[int]float64)
	}
	v := l.scaled(a, a)
	l.self[a] = v
	return v
}

func (l *Linear) check(a, b int) {
	if a < 0 || a >= len(l.dims) || b < 0 || b >= len(l.dims) || !l.has(a, b) {
		panic("estimator: Linear pair out of range or not kept")
	}
}

const linearMagic = "DCLK"

// linearVersion is the version of the encoding: 2 since the centre is
// exact (the sums of version 1, centred by a rounded median, are not
// exact for data with an offset, and are refused).
const linearVersion = 2

// MarshalBinary encodes l, little endian: magic "DCLK", version byte 2,
// uvarint K, uvarint n, K × (uvarint dim, varint scale, dim × float64
// centre), then the banks c (PairIndex order), s, v (index k·K+l), w, sq,
// each as in Stats.MarshalBinary (those of c and v preceded by their row
// count: 0 for a pair not kept), and a CRC-32C of every byte before it.
func (l *Linear) MarshalBinary() ([]byte, error) {
	k := len(l.dims)
	b := append([]byte(linearMagic), linearVersion)
	b = binary.AppendUvarint(b, uint64(k))
	b = binary.AppendUvarint(b, uint64(l.n))
	for a, d := range l.dims {
		b = binary.AppendUvarint(b, uint64(d))
		b = binary.AppendVarint(b, int64(l.scale[a]))
		for _, v := range l.centre[a] {
			b = appendFloat(b, v)
		}
	}
	for i := range l.c {
		b = binary.AppendUvarint(b, uint64(l.c[i].rows))
		b = l.c[i].appendTo(b)
	}
	for i := range l.s {
		b = l.s[i].appendTo(b)
	}
	for i := range l.v {
		b = binary.AppendUvarint(b, uint64(l.v[i].rows))
		b = l.v[i].appendTo(b)
	}
	b = l.w.appendTo(b)
	b = l.sq.appendTo(b)
	return seal(b), nil
}

// UnmarshalBinary decodes an encoding of MarshalBinary into l. On error l
// is unchanged and the error wraps ErrCorrupt or ErrVersion.
func (l *Linear) UnmarshalBinary(data []byte) error {
	d, err := open(data, linearMagic, linearVersion, "linear")
	if err != nil {
		return err
	}
	k, n, err := d.shape(64, 1<<62)
	if err != nil {
		return err
	}
	dims := make([]int, k)
	centre := make([][]float64, k)
	scale := make([]int, k)
	for a := range dims {
		v, err := d.uvarint("dim")
		if err != nil {
			return err
		}
		if v < 1 || v > uint64(len(d.b)) {
			return fmt.Errorf("dim %d: %w", v, ErrCorrupt)
		}
		dims[a] = int(v)
		e, m := binary.Varint(d.b)
		if m <= 0 || e < -4096 || e > 4096 {
			return fmt.Errorf("scale: %w", ErrCorrupt)
		}
		d.b = d.b[m:]
		scale[a] = int(e)
		centre[a] = make([]float64, v)
		for q := range centre[a] {
			if centre[a][q], err = d.float("centre"); err != nil {
				return err
			}
		}
	}
	out := NewLinear(dims, centre, scale)
	out.n = int(n)
	sized := func(b *bank) error {
		rows, err := d.uvarint("rows")
		if err != nil {
			return err
		}
		if rows != 0 && rows != uint64(b.rows) {
			return fmt.Errorf("a bank of %d rows, want %d: %w", rows, b.rows, ErrCorrupt)
		}
		if *b, err = d.bank(int(rows), "linear sums"); err != nil {
			return err
		}
		return nil
	}
	for i := range out.c {
		if err := sized(&out.c[i]); err != nil {
			return err
		}
	}
	for i := range out.s {
		if out.s[i], err = d.bank(out.s[i].rows, "linear sums"); err != nil {
			return err
		}
	}
	for i := range out.v {
		if err := sized(&out.v[i]); err != nil {
			return err
		}
	}
	if out.w, err = d.bank(out.w.rows, "linear sums"); err != nil {
		return err
	}
	if out.sq, err = d.bank(out.sq.rows, "linear sums"); err != nil {
		return err
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%d trailing bytes: %w", len(d.b), ErrCorrupt)
	}
	*l = *out
	return nil
}
