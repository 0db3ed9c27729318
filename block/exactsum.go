package block

import "math"

// exactSum is an exact sum of float64 values and of products of two:
// Neal's small superaccumulator (Neal 2015, "Fast exact summation using
// small and large superaccumulators"). Chunk c holds an integer multiple of
// 2^(32c−1075); a value m·2^(e−1075) (e its biased exponent, 1 for a
// subnormal, m its signed 53-bit significand) is split, with no rounding,
// into its parts below and above bit 32 of m·2^(e mod 32), added to chunks
// e/32 and e/32+1. A chunk takes 2^10 additions (each below 2^52 in
// magnitude) before the carries are propagated, so no addition rounds or
// overflows, whatever the order.
//
// A product a·b is added as h = a·b rounded and its error l = a·b − h,
// exact by one fused multiply-add (math.FMA, correctly rounded on every
// CPU) unless the product is below 2^−969, where l may underflow: such a
// product, and a value that is not finite, make the sum invalid (ok).
//
// The zero value is an empty sum.
type exactSum struct {
	c     [67]int64
	added int  // additions since the last carry
	bad   bool // a value not finite, or a product too small to split
}

// carryEvery is the additions a chunk takes between carries: each adds
// less than 2^53 in magnitude, and a carried chunk is below 2^31.
const carryEvery = 1 << 9

func (s *exactSum) reset() { *s = exactSum{} }

// add adds x.
func (s *exactSum) add(x float64) {
	s.put(x)
	if s.added++; s.added >= carryEvery {
		s.carry()
	}
}

// put adds x, leaving the count of additions to the caller.
func (s *exactSum) put(x float64) {
	u := math.Float64bits(x)
	e := int(u >> 52 & 0x7ff)
	if uint(e-1) >= 0x7fe { // zero, subnormal, not finite
		s.odd(x)
		return
	}
	m := int64(u&(1<<52-1) | 1<<52)
	sg := int64(u) >> 63
	m = (m ^ sg) - sg
	s.place(m, e)
}

// place adds m·2^(e−1075), 1 ≤ e ≤ 2046, |m| < 2^53.
func (s *exactSum) place(m int64, e int) {
	lo := uint(e & 31)
	ix := e >> 5 & 63
	s.c[ix] += (m << lo) & (1<<32 - 1)
	s.c[ix+1] += m >> (32 - lo)
}

// odd adds a zero, subnormal or non-finite x.
func (s *exactSum) odd(x float64) {
	u := math.Float64bits(x)
	switch e := u >> 52 & 0x7ff; {
	case e == 0x7ff:
		s.bad = true
	case u&(1<<52-1) != 0: // subnormal: exponent 1, no implicit bit
		m := int64(u & (1<<52 - 1))
		if int64(u) < 0 {
			m = -m
		}
		s.place(m, 1)
	}
}

// dot adds sum_k a_k·b_k, exactly: each product as h and its error, which
// is a float64 unless |h| < 2^−969 (biased exponent 54), where the sum is
// made invalid.
func (s *exactSum) dot(a, b []float64) {
	b = b[:len(a)]
	const block = carryEvery / 2 // two additions a product
	for k0 := 0; k0 < len(a); k0 += block {
		if s.added != 0 {
			s.carry()
		}
		for k := k0; k < min(len(a), k0+block); k++ {
			s.prod(a[k], b[k])
		}
		s.added = carryEvery // full: carry before the next addition
	}
}

// prod adds x·y (see dot).
func (s *exactSum) prod(x, y float64) {
	h := x * y
	u := math.Float64bits(h)
	if e := int(u >> 52 & 0x7ff); uint(e-54) < 0x7ff-54 {
		m := int64(u&(1<<52-1) | 1<<52)
		sg := int64(u) >> 63
		s.place((m^sg)-sg, e)
	} else {
		// Below 2^−969 or beyond the range, unless a factor is 0.
		s.bad = s.bad || (x != 0 && y != 0)
		return
	}
	s.put(math.FMA(x, y, -h))
}

// sum adds every value of v.
func (s *exactSum) sum(v []float64) {
	for k0 := 0; k0 < len(v); k0 += carryEvery {
		if s.added != 0 {
			s.carry()
		}
		for _, x := range v[k0:min(len(v), k0+carryEvery)] {
			s.put(x)
		}
		s.added = carryEvery
	}
}

// carry propagates the carries: chunks 0 to 65 in [−2^31, 2^31) (so
// that the chunks above a negative sum are 0, not all ones), the last
// signed.
func (s *exactSum) carry() {
	for c := range len(s.c) - 1 {
		q := (s.c[c] + 1<<31) >> 32
		s.c[c] -= q << 32
		s.c[c+1] += q
	}
	s.added = 0
}

// appendTo appends to dst float64 values whose exact sum is the sum
// times 2^k (k ≥ 0, exact unless it overflows) and reports whether the sum
// is valid and every value finite: one value per non-zero chunk, each a
// 32-bit signed integer (or the top chunk) times a power of two, so
// exactly a float64 (the lowest chunk's values are even, so 2^−1075 times
// them is a multiple of 2^−1074).
func (s *exactSum) appendTo(dst []float64, k int) ([]float64, bool) {
	s.carry()
	ok := !s.bad
	for c, v := range s.c {
		if v != 0 {
			f := math.Ldexp(float64(v), 32*c-1075+k)
			ok = ok && !math.IsInf(f, 0)
			dst = append(dst, f)
		}
	}
	return dst, ok
}
