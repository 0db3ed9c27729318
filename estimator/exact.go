package estimator

import (
	"math"
	"math/big"
	"math/bits"
)

// bank holds one exact sum of float64 values per row. Row i is the
// two's-complement integer held in v[i*w : (i+1)*w] (little-endian 64-bit
// limbs, the last one signed) times 2^(64·lo):
//
//	row_i = sum_j v[i*w+j]·2^(64·(lo+j))     (the top limb taken as signed)
//
// Adding a float64 never rounds. A finite float64 is ±m·2^e with m < 2^53
// and −1074 <= e <= 971; before it is added the limbs are widened, down to
// the limb holding its lowest set bit and up to 64 bits above the highest
// bit of any value added (the headroom that lets up to 2^64 values be
// summed without overflow). Widening moves limbs and never rounds, so a
// bank is a superaccumulator over the whole float64 range (Neal 2015,
// "Fast exact summation using small and large superaccumulators"), sized
// by the values it has seen: for ordinary data 2 or 3 limbs a row.
//
// Integer addition is associative, so the rows are the same integers
// whatever the order of the additions; the encoding (appendBank) is
// canonical, so equal sums give equal bytes whatever the layout.
//
// The zero value is an empty bank of no rows.
type bank struct {
	rows int
	lo   int      // exponent of limb 0, in limbs
	w    int      // limbs per row; 0 until a non-zero value is added
	top  int      // every value added is below 2^top in magnitude
	v    []uint64 // rows × w
}

func newBank(rows int) bank { return bank{rows: rows} }

// split returns x = ±m·2^e with m odd (x != 0 and finite).
func split(x float64) (neg bool, m uint64, e int) {
	b := math.Float64bits(x)
	neg = b>>63 != 0
	exp := int(b >> 52 & 0x7ff)
	m = b & (1<<52 - 1)
	if exp == 0 {
		e = -1074
	} else {
		m |= 1 << 52
		e = exp - 1075
	}
	tz := bits.TrailingZeros64(m)
	return neg, m >> tz, e + tz
}

// floorDiv64 returns floor(x/64).
func floorDiv64(x int) int { return x >> 6 }

// add adds x to row i exactly. x must be finite.
func (b *bank) add(i int, x float64) {
	if x == 0 {
		return
	}
	neg, m, e := split(x)
	if hb := e + bits.Len64(m); b.w == 0 || hb > b.top {
		b.top = hb
	}
	b.ensure(floorDiv64(e), b.top)
	off := e - 64*b.lo
	li, sh := off>>6, uint(off&63)
	row := b.v[i*b.w+li : (i+1)*b.w]
	a0, a1 := m<<sh, m>>(64-sh)
	if sh == 0 {
		a1 = 0
	}
	if neg {
		subMag(row, a0, a1)
	} else {
		addMag(row, a0, a1)
	}
}

// addSlice adds src[i] to row off+i exactly, for every i. Values must be
// finite.
//
// The common case, values inside the layout already made for the values
// added before (row sums of one scale, tile after tile), takes addScaled,
// which checks each value's exponent against the layout and places it
// without a data-dependent branch: the signs of shifted row sums are
// random, and a branch on them mispredicts about every other value. At the
// first value outside, the layout is widened once for the rest of the
// slice (fit); a value still outside addScaled's range (one far below the
// slice's largest) is then added alone (add), and addScaled goes on.
func (b *bank) addSlice(off int, src []float64) {
	if b.w == 0 && !b.fit(src) {
		return // all zero
	}
	fitted := false
	for len(src) > 0 {
		m := b.addScaled(off, src)
		off, src = off+m, src[m:]
		switch {
		case len(src) == 0:
			return
		case !fitted:
			b.fit(src)
			fitted = true
		default:
			b.add(off, src[0])
			off, src = off+1, src[1:]
		}
	}
}

// fit widens the layout for every value of src: down to the limb of the
// lowest possible bit of each value's exponent (a limb or so wider than
// add's least layout at most) and up to the headroom above the largest.
// It reports false if every value is zero.
func (b *bank) fit(src []float64) bool {
	lo, hi, any := math.MaxInt, math.MinInt, false
	for _, x := range src {
		u := math.Float64bits(x) &^ (1 << 63)
		if u == 0 {
			continue
		}
		exp := int(u >> 52)
		e, top := exp-1075, exp-1075+53
		if exp == 0 {
			e, top = -1074, -1074+bits.Len64(u)
		}
		lo, hi, any = min(lo, e), max(hi, top), true
	}
	if !any {
		return false
	}
	if b.w == 0 || hi > b.top {
		b.top = hi
	}
	b.ensure(floorDiv64(lo), b.top)
	return true
}

// addScaled adds src[0], src[1], … exactly to rows off, off+1, … for as
// long as they are zeros or normal values that two limbs of the layout
// hold without widening: multiples of 2^base below both 2^(base+116) and
// 2^top, where base = 64·(lo+l), the limb l the lowest that leaves room
// for the largest values (so that a far smaller value added once, which
// widened the layout downwards, does not push the others out). It
// returns how many it added.
//
// The integer y = |x|·2^−base (exact: x times a power of two, normal) is
// split in floating point as
//
//	y = h·2^63 + l,  h = floor(y·2^−63) < 2^53,  0 <= l < 2^63,
//
// both parts exact (l is y's low bits; h is the truncation of y·2^−63,
// which for y >= 0 is its floor), and the two limbs l + h·2^63 are added
// at limb l, complemented if x < 0 (with the 1 of the two's complement as
// the first carry in) and sign-extended to the row's top. Limb l+1 lies
// in the layout: base+64 < top+12 < 64·(lo+w), the layout's headroom.
func (b *bank) addScaled(off int, src []float64) int {
	if b.w == 0 {
		return 0
	}
	l := max(0, -floorDiv64(64*b.lo+116-b.top)) // ceil((top−116)/64) − lo
	base := 64 * (b.lo + l)
	// The exponent fields of the values allowed: [eLo, eHi].
	eLo, eHi := base+1075, min(base+116, b.top)+1022
	if base < -1022 || eHi < eLo || eHi > 2046 {
		return 0
	}
	lowest := uint64(eLo) << 52
	span := uint64(eHi+1)<<52 - lowest
	scale := math.Float64frombits(uint64(1023-base) << 52)
	w := b.w
	v := b.v[off*w : (off+len(src))*w]
	if w-l == 3 { // the common layout: two limbs and one of headroom
		for i, x := range src {
			u := math.Float64bits(x)
			mag := u &^ (1 << 63)
			if mag-lowest >= span && mag != 0 {
				return i
			}
			a0, a1, neg := placed(mag, u, scale)
			r := v[i*w+l : i*w+l+3 : i*w+l+3]
			var c uint64
			r[0], c = bits.Add64(r[0], a0, neg&1)
			r[1], c = bits.Add64(r[1], a1, c)
			r[2], _ = bits.Add64(r[2], neg, c)
		}
		return len(src)
	}
	for i, x := range src {
		u := math.Float64bits(x)
		mag := u &^ (1 << 63)
		if mag-lowest >= span && mag != 0 {
			return i
		}
		a0, a1, neg := placed(mag, u, scale)
		r := v[i*w+l : (i+1)*w]
		var c uint64
		r[0], c = bits.Add64(r[0], a0, neg&1)
		r[1], c = bits.Add64(r[1], a1, c)
		for j := 2; j < len(r); j++ {
			r[j], c = bits.Add64(r[j], neg, c)
		}
	}
	return len(src)
}

// placed returns the two limbs of x = ±mag (u its bits) times scale, as
// addScaled describes them, complemented if x < 0, and neg: all ones if
// x < 0 (the sign extension and, its low bit, the 1 of the complement).
func placed(mag, u uint64, scale float64) (a0, a1, neg uint64) {
	y := math.Float64frombits(mag) * scale
	h := int64(y * 0x1p-63) // floor, as y >= 0
	lo := uint64(int64(y - float64(float64(h)*0x1p63)))
	hi := uint64(h)
	neg = uint64(int64(u) >> 63)
	return (lo | hi<<63) ^ neg, (hi >> 1) ^ neg, neg
}

// addMag adds a1·2^64 + a0 to the two's-complement integer r (len(r) >= 2).
func addMag(r []uint64, a0, a1 uint64) {
	var c uint64
	r[0], c = bits.Add64(r[0], a0, 0)
	r[1], c = bits.Add64(r[1], a1, c)
	for j := 2; c != 0 && j < len(r); j++ {
		r[j], c = bits.Add64(r[j], 0, c)
	}
}

// subMag subtracts a1·2^64 + a0 from r.
func subMag(r []uint64, a0, a1 uint64) {
	var c uint64
	r[0], c = bits.Sub64(r[0], a0, 0)
	r[1], c = bits.Sub64(r[1], a1, c)
	for j := 2; c != 0 && j < len(r); j++ {
		r[j], c = bits.Sub64(r[j], 0, c)
	}
}

// ensure widens the layout to hold limbs from loLimb up and values below
// 2^top with 64 bits of headroom (and at least two limbs above loLimb, for
// the two limbs a float64 can straddle).
func (b *bank) ensure(loLimb, top int) {
	hiExcl := floorDiv64(top+64) + 1
	if b.w == 0 {
		lo := loLimb
		b.lo, b.w = lo, max(hiExcl-lo, 2)
		b.v = make([]uint64, b.rows*b.w)
		return
	}
	lo, hi := min(b.lo, loLimb), max(b.lo+b.w, hiExcl, loLimb+2)
	if lo == b.lo && hi == b.lo+b.w {
		return
	}
	b.relayout(lo, hi)
}

// relayout moves every row to limbs [lo, hi), which contain the old ones.
func (b *bank) relayout(lo, hi int) {
	w := hi - lo
	v := make([]uint64, b.rows*w)
	off := b.lo - lo
	for i := range b.rows {
		src := b.v[i*b.w : (i+1)*b.w]
		dst := v[i*w : (i+1)*w]
		copy(dst[off:], src)
		if int64(src[len(src)-1]) < 0 {
			for j := off + len(src); j < w; j++ {
				dst[j] = ^uint64(0)
			}
		}
	}
	b.lo, b.w, b.v = lo, w, v
}

// addRow adds the two's-complement integer src·2^(64·off) to dst, with
// off >= 0 and off+len(src) <= len(dst).
func addRow(dst []uint64, off int, src []uint64) {
	var c uint64
	for j, x := range src {
		dst[off+j], c = bits.Add64(dst[off+j], x, c)
	}
	var ext uint64
	if len(src) > 0 && int64(src[len(src)-1]) < 0 {
		ext = ^uint64(0)
	}
	for j := off + len(src); j < len(dst); j++ {
		dst[j], c = bits.Add64(dst[j], ext, c)
	}
}

// merge adds every row of o to the same row of b. o is not modified.
func (b *bank) merge(o *bank) { b.mergeAt(o, 0) }

// mergeAt adds row i of o to row off+i of b, for every row of o (which
// must fit). o is not modified.
func (b *bank) mergeAt(o *bank, at int) {
	if o.w == 0 {
		return
	}
	if b.w == 0 || o.top > b.top {
		b.top = o.top
	}
	b.ensure(o.lo, b.top)
	if hi := o.lo + o.w; hi > b.lo+b.w {
		b.relayout(b.lo, hi)
	}
	off := o.lo - b.lo
	for i := range o.rows {
		if o.isZero(i) {
			continue
		}
		addRow(b.row(at+i), off, o.row(i))
	}
}

// reset makes b a bank of rows zero rows, keeping its memory and layout.
func (b *bank) reset(rows int) {
	b.rows = rows
	if b.w == 0 {
		return
	}
	if n := rows * b.w; n <= cap(b.v) {
		b.v = b.v[:n]
		clear(b.v)
	} else {
		b.v = make([]uint64, n)
	}
}

// grow appends m zero rows.
func (b *bank) grow(m int) {
	b.rows += m
	if b.w > 0 {
		b.v = append(b.v, make([]uint64, m*b.w)...)
	}
}

func (b *bank) clone() bank {
	c := *b
	c.v = append([]uint64(nil), b.v...)
	return c
}

// row returns the limbs of row i (nil if the bank is all zero).
func (b *bank) row(i int) []uint64 {
	if b.w == 0 {
		return nil
	}
	return b.v[i*b.w : (i+1)*b.w]
}

// isZero reports whether row i is zero.
func (b *bank) isZero(i int) bool {
	for _, x := range b.row(i) {
		if x != 0 {
			return false
		}
	}
	return true
}

// dyadic is the exact number m·2^e.
type dyadic struct {
	m big.Int
	e int
}

// bigOf returns the two's-complement limbs r as a big.Int.
func bigOf(r []uint64) *big.Int {
	z := new(big.Int)
	if len(r) == 0 {
		return z
	}
	neg := int64(r[len(r)-1]) < 0
	words := make([]big.Word, 0, len(r)*64/bits.UintSize)
	var c uint64 = 1
	for _, x := range r {
		if neg {
			x, c = bits.Add64(^x, 0, c)
		}
		if bits.UintSize == 64 {
			words = append(words, big.Word(x))
		} else {
			words = append(words, big.Word(uint32(x)), big.Word(x>>32))
		}
	}
	z.SetBits(words)
	if neg {
		z.Neg(z)
	}
	return z
}

// value returns row i as an exact dyadic number.
func (b *bank) value(i int) *dyadic {
	d := &dyadic{e: 64 * b.lo}
	d.m.Set(bigOf(b.row(i)))
	return d
}

// float returns row i rounded to the nearest float64.
func (b *bank) float(i int) float64 { return b.value(i).float() }

// total returns the exact sum of every row.
func (b *bank) total() *dyadic {
	d := &dyadic{e: 64 * b.lo}
	if b.w == 0 {
		return d
	}
	acc := make([]uint64, b.w+1) // n < 2^63 rows of w limbs
	for i := range b.rows {
		addRow(acc, 0, b.row(i))
	}
	d.m.Set(bigOf(acc))
	return d
}

// dot returns sum_i b_i·o_i exactly, for banks of the same rows.
func (b *bank) dot(o *bank) *dyadic { return b.dotPerm(o, nil) }

// dotPerm returns sum_i b_i·o_perm(i) exactly (perm nil: the identity).
func (b *bank) dotPerm(o *bank, perm func(int) int) *dyadic {
	d := &dyadic{e: 64 * (b.lo + o.lo)}
	if b.w == 0 || o.w == 0 {
		return d
	}
	wa, wb := b.w, o.w
	acc := make([]uint64, wa+wb+1)
	ma, mb := make([]uint64, wa), make([]uint64, wb)
	prod := make([]uint64, wa+wb)
	for i := range b.rows {
		j := i
		if perm != nil {
			j = perm(i)
		}
		na, nb := magnitude(ma, b.row(i)), magnitude(mb, o.row(j))
		if na < 0 || nb < 0 {
			continue // a zero row
		}
		// |row| < 2^(64w−1), so the product's top bit is clear and
		// n < 2^63 of them fit acc.
		mulMag(prod, ma, mb)
		if na != nb {
			subRow(acc, prod)
		} else {
			addRow(acc, 0, prod)
		}
	}
	d.m.Set(bigOf(acc))
	return d
}

// magnitude writes |r| into dst and returns 1 if r is negative, 0 if
// positive, −1 if zero.
func magnitude(dst, r []uint64) int {
	zero := true
	for _, x := range r {
		if x != 0 {
			zero = false
			break
		}
	}
	if zero {
		return -1
	}
	if int64(r[len(r)-1]) >= 0 {
		copy(dst, r)
		return 0
	}
	var c uint64 = 1
	for j, x := range r {
		dst[j], c = bits.Add64(^x, 0, c)
	}
	return 1
}

// mulMag sets p = a·b for magnitudes a and b (len(p) = len(a)+len(b)).
func mulMag(p, a, b []uint64) {
	clear(p)
	for i, x := range a {
		if x == 0 {
			continue
		}
		var carry uint64
		for j, y := range b {
			hi, lo := bits.Mul64(x, y)
			var c uint64
			lo, c = bits.Add64(lo, p[i+j], 0)
			hi += c
			lo, c = bits.Add64(lo, carry, 0)
			hi += c
			p[i+j] = lo
			carry = hi
		}
		p[i+len(b)] = carry
	}
}

// subRow subtracts the magnitude m from the two's-complement acc
// (len(acc) > len(m)).
func subRow(acc, m []uint64) {
	var c uint64
	for j, x := range m {
		acc[j], c = bits.Sub64(acc[j], x, c)
	}
	for j := len(m); c != 0 && j < len(acc); j++ {
		acc[j], c = bits.Sub64(acc[j], 0, c)
	}
}

// dyadicOf returns x exactly (x finite).
func dyadicOf(x float64) *dyadic {
	d := &dyadic{}
	if x == 0 {
		return d
	}
	neg, m, e := split(x)
	d.m.SetUint64(m)
	if neg {
		d.m.Neg(&d.m)
	}
	d.e = e
	return d
}

// dyadicInt returns the integer v.
func dyadicInt(v int64) *dyadic {
	d := &dyadic{}
	d.m.SetInt64(v)
	return d
}

// add returns a + b.
func (a *dyadic) add(b *dyadic) *dyadic {
	if a.e > b.e {
		a, b = b, a
	}
	z := &dyadic{e: a.e}
	z.m.Lsh(&b.m, uint(b.e-a.e))
	z.m.Add(&z.m, &a.m)
	return z
}

// mul returns a·b.
func (a *dyadic) mul(b *dyadic) *dyadic {
	z := &dyadic{e: a.e + b.e}
	z.m.Mul(&a.m, &b.m)
	return z
}

// scale returns a·k.
func (a *dyadic) scale(k int64) *dyadic {
	z := &dyadic{e: a.e}
	z.m.Mul(&a.m, big.NewInt(k))
	return z
}

// sign returns −1, 0 or +1.
func (a *dyadic) sign() int { return a.m.Sign() }

// float returns a rounded to the nearest float64 (±Inf beyond its range,
// subnormal or zero below it).
func (a *dyadic) float() float64 {
	return a.quo(big.NewInt(1))
}

// quo returns a/d rounded to the nearest float64, for d > 0: the quotient
// is computed with 64 bits more than float64 holds, then rounded once
// (the double rounding can differ from a correctly rounded quotient only
// in a tie of the 117-bit result, below float64's last bit).
func (a *dyadic) quo(d *big.Int) float64 {
	if a.m.Sign() == 0 {
		return 0
	}
	const prec = 117
	x := new(big.Float).SetPrec(prec).SetInt(&a.m)
	x.Quo(x, new(big.Float).SetPrec(prec).SetInt(d))
	x.SetMantExp(x, a.e)
	f, _ := x.Float64()
	return f
}
