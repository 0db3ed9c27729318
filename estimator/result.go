package estimator

import (
	"math"
	"math/big"

	"gonum.org/v1/gonum/stat/distuv"
)

// Flags mark degenerate cases. A flagged statistic holds the documented
// value named by its flag, never NaN.
type Flags uint

const (
	// ZeroVarX: space x has zero distance variance (it is constant). dcor,
	// dcor_sq, bcdcor are 0, t_stat is 0 and p_value is 1. (The block
	// estimator sets it when the mean U_xx is not positive.)
	ZeroVarX Flags = 1 << iota
	// ZeroVarY: as ZeroVarX, for space y.
	ZeroVarY
	// TooFewSamples: n < 4, so the U-statistics are undefined. bcdcor,
	// dcov_u, dvar_x_u, dvar_y_u, pdcor, pdcov and t_stat are 0, t_df is 0
	// and p_value is 1.
	TooFewSamples
	// PerfectDependence: |bcdcor| = 1, so the t statistic is ±Inf and the
	// p-value is 0 (bcdcor = 1) or 1 (bcdcor = -1).
	PerfectDependence
	// ZDeterminesX: bcdcor(x, z)² = 1 within 1e-9, so x carries nothing
	// beyond z: pdcor is 0.
	ZDeterminesX
	// ZDeterminesY: as ZDeterminesX, for y.
	ZDeterminesY
	// ZeroVarZ: space z is constant: pdcor equals bcdcor(x, y) and pdcov
	// equals dcov_u(x, y).
	ZeroVarZ
	// OutOfRange: the data's scale puts a covariance (dcov, dcov_sq,
	// dvar_*, dcov_u, dvar_*_u or pdcov) beyond float64's range (above
	// about 1.8e308, or below 2.2e-308); it holds ±MaxFloat64 or the
	// underflowed value. dcor, bcdcor, pdcor and the tests are computed
	// in scaled units and are not affected.
	OutOfRange
	// SEUndefined: a jackknife standard error is undefined, so it is not
	// a number to print: the delete-one U-statistics (bcdcor, dcov_u,
	// pdcor) need n − 1 ≥ 4 samples, the delete-one V-statistics (dcor)
	// n − 1 ≥ 2, and the delete-one-block jackknife 2 blocks. The Go
	// fields hold 0.
	SEUndefined
	// ZeroDVarXU: U_xx = 0 while space x is not constant (V²_xx > 0): its
	// U-centred distance matrix is exactly 0, as when all samples but one
	// are equal. bcdcor, dcov_u (and pdcov, pdcor) are 0, t_stat is 0 and
	// p_value is 1; dcor, the V-statistic, is defined and may be positive.
	ZeroDVarXU
	// ZeroDVarYU: as ZeroDVarXU, for space y.
	ZeroDVarYU
)

// String returns the names of the set flags, comma separated, or "" if none.
func (f Flags) String() string {
	names := f.Names()
	s := ""
	for i, n := range names {
		if i > 0 {
			s += ","
		}
		s += n
	}
	return s
}

// Names returns the snake_case names of the set flags, in bit order.
func (f Flags) Names() []string {
	all := []string{"zero_var_x", "zero_var_y", "too_few_samples", "perfect_dependence",
		"z_determines_x", "z_determines_y", "zero_var_z", "out_of_range", "se_undefined",
		"zero_dvar_x_u", "zero_dvar_y_u"}
	var out []string
	for i, n := range all {
		if f&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// Result holds the statistics of one pair of spaces (x, y), named as in
// R's energy package. V-statistics (Székely, Rizzo & Bakirov 2007):
//
//	V²_xy = S_xy/n² − 2·Q_xy/n³ + T_x·T_y/n⁴
//	DCorSq = V²_xy / sqrt(V²_xx·V²_yy),  DCor = sqrt(DCorSq)
//
// U-statistics (Székely & Rizzo 2014):
//
//	U_xy = S_xy/(n(n−3)) − 2·Q_xy/(n(n−2)(n−3)) + T_x·T_y/(n(n−1)(n−2)(n−3))
//	BCDCor = R*_xy = U_xy / sqrt(U_xx·U_yy)
//
// and the t-test of Székely & Rizzo (2013) for independence in high
// dimension:
//
//	M = n(n−3)/2,  T = sqrt(M−1)·R*/sqrt(1−R*²),  P = Pr(t_{M−1} > T)
//
// Degenerate cases are marked in Flags (see the Flags constants for the
// value each one takes); no field is ever NaN.
type Result struct {
	N int

	DCor    float64 // V-statistic dCor_n, in [0, 1]
	DCorSq  float64 // dCor²_n
	DCov    float64 // sqrt(V²_xy), energy::dcov
	DCovSq  float64 // V²_xy
	DVarXSq float64 // V²_xx
	DVarYSq float64 // V²_yy

	BCDCor float64 // R*_xy, bias-corrected dCor² in [−1, 1], energy::bcdcor
	DCovU  float64 // U_xy, energy::dcovU
	DVarXU float64 // U_xx
	DVarYU float64 // U_yy

	T  float64 // t statistic; ±Inf when |R*| = 1 (PerfectDependence)
	DF float64 // degrees of freedom M − 1 = n(n−3)/2 − 1
	P  float64 // upper-tail p-value Pr(t_DF > T)

	Flags Flags
}

// PartialResult holds the partial distance correlation of x and y given z
// (Székely & Rizzo 2014; energy::pdcor, energy::pdcov):
//
//	PDCor = (R*_xy − R*_xz·R*_yz) / sqrt((1 − R*²_xz)(1 − R*²_yz)),  clamped to [−1, 1]
//	PDCov = U_xy − U_xz·U_yz/U_zz
//
// and the semi-partial statistic of the seed paper's code,
//
//	SemiPartial = (R*_xz − R*_xy·R*_yz) / sqrt(1 − R*²_xy)
//
// (which equals pdCor(x, z; y)·sqrt(1 − R*²_zy)). Degenerate cases are
// marked in Flags.
type PartialResult struct {
	N int

	PDCor       float64
	PDCov       float64
	SemiPartial float64
	BCDCorXY    float64
	BCDCorXZ    float64
	BCDCorYZ    float64

	Flags Flags
}

// nearOne is how close R*² may come to 1 before a space counts as a
// function of another in the partial statistics. R* is dimensionless, so
// the cut-off does not depend on the scale of the data.
const nearOne = 1e-9

// evaluation caches what every result of a state needs: the exact totals
// T'_k and the exact products Q'_kl, computed once per state and pair.
type evaluation struct {
	t []*dyadic
	q map[int]*dyadic
}

func (s *Stats) eval() *evaluation {
	if s.ev == nil {
		ev := &evaluation{t: make([]*dyadic, s.k), q: make(map[int]*dyadic)}
		for k := range s.rows {
			ev.t[k] = s.rows[k].total()
		}
		s.ev = ev
	}
	return s.ev
}

// q returns Q'_kl = sum_i r'^k_i r'^l_i exactly.
func (s *Stats) q(k, l int) *dyadic {
	ev := s.eval()
	p := PairIndex(s.k, k, l)
	if v, ok := ev.q[p]; ok {
		return v
	}
	v := s.rows[k].dot(&s.rows[l])
	ev.q[p] = v
	return v
}

// uNum returns the exact numerator of U_kl over D = n(n−1)(n−2)(n−3):
//
//	U_kl·D = (n−1)(n−2)·S'_kl − 2(n−1)·Q'_kl + T'_k·T'_l
//
// (U-centring is invariant to the shift c, so the shifted sums serve as
// they are.)
func (s *Stats) uNum(k, l int) *dyadic {
	n := int64(s.n)
	ev := s.eval()
	a := s.s.value(PairIndex(s.k, k, l)).scale(n - 1).scale(n - 2)
	b := s.q(k, l).scale(-2 * (n - 1))
	return a.add(b).add(ev.t[k].mul(ev.t[l]))
}

// vNum returns the exact numerator of V²_kl over n⁴, evaluated on the
// shifted distances with the diagonal at −c (double-centring is invariant
// to a constant added to every entry):
//
//	V²_kl·n⁴ = n²·S'_kl − 2n·Q'_kl + T'_k·T'_l + n·(c_l·T'_k + c_k·T'_l) + (n³ − n²)·c_k·c_l
func (s *Stats) vNum(k, l int) *dyadic {
	n := int64(s.n)
	ev := s.eval()
	ck, cl := dyadicOf(s.shift[k]), dyadicOf(s.shift[l])
	v := s.s.value(PairIndex(s.k, k, l)).scale(n).scale(n)
	v = v.add(s.q(k, l).scale(-2 * n))
	v = v.add(ev.t[k].mul(ev.t[l]))
	v = v.add(cl.mul(ev.t[k]).add(ck.mul(ev.t[l])).scale(n))
	v = v.add(ck.mul(cl).scale(n).scale(n).scale(n - 1))
	return v
}

// bigProd returns the product of the factors as a big.Int.
func bigProd(f ...int64) *big.Int {
	z := big.NewInt(1)
	for _, v := range f {
		z.Mul(z, big.NewInt(v))
	}
	return z
}

// V2 returns the V-statistic V²_n(k, l) of Székely, Rizzo & Bakirov (2007),
//
//	V²_kl = S_kl/n² − 2·Q_kl/n³ + T_k·T_l/n⁴
//
// evaluated exactly from the exact sums and rounded once, in the scaled
// units of the state (see Scale). V²_kk is never negative; for k != l a
// negative value (only the rounding of tile sums can make one) is
// clamped at 0. It returns 0 for n = 0.
func (s *Stats) V2(k, l int) float64 {
	s.checkSpace(k)
	s.checkSpace(l)
	if s.n == 0 {
		return 0
	}
	return max(s.v2(k, l), 0)
}

func (s *Stats) v2(k, l int) float64 {
	n := int64(s.n)
	return s.vNum(k, l).quo(bigProd(n, n, n, n))
}

// U returns the unbiased U-statistic of Székely & Rizzo (2014),
//
//	U_kl = S_kl/(n(n−3)) − 2·Q_kl/(n(n−2)(n−3)) + T_k·T_l/(n(n−1)(n−2)(n−3))
//
// the inner product of the U-centred distance matrices over n(n−3),
// evaluated exactly from the exact sums and rounded once, in the scaled
// units of the state. ok is false, and the value 0, when n < 4.
func (s *Stats) U(k, l int) (u float64, ok bool) {
	s.checkSpace(k)
	s.checkSpace(l)
	if s.n < 4 {
		return 0, false
	}
	return s.u(k, l), true
}

func (s *Stats) u(k, l int) float64 {
	n := int64(s.n)
	v := s.uNum(k, l).quo(bigProd(n, n-1, n-2, n-3))
	if k == l {
		// (Ã·Ã) is a sum of squares: only the rounding of tile sums can
		// make it negative.
		v = max(v, 0)
	}
	return v
}

// unscale returns v, a covariance of spaces k and l in the scaled units,
// in the units of the data: v·2^(α(e_k+e_l)·p), with p = 1 for a squared
// covariance and 1/2 for a covariance. ok is false if that is beyond
// float64 (then the result is ±MaxFloat64 or 0).
func (s *Stats) unscale(v float64, k, l int, p float64) (float64, bool) {
	e := s.exponent * float64(s.scale[k]+s.scale[l]) * p
	if e == 0 || v == 0 {
		return v, true
	}
	var r float64
	if e == math.Trunc(e) && math.Abs(e) < 1<<20 {
		r = math.Ldexp(v, int(e))
	} else {
		r = v * math.Pow(2, e)
	}
	switch {
	case math.IsInf(r, 0):
		return math.Copysign(math.MaxFloat64, v), false
	case r == 0 || math.Abs(r) < 0x1p-1022:
		return r, false
	}
	return r, true
}

// Pair returns the statistics of spaces x and y (indices into the spaces
// the state was built with). It panics if x or y is out of range.
func (s *Stats) Pair(x, y int) Result {
	s.checkSpace(x)
	s.checkSpace(y)
	r := Result{N: s.n, P: 1}
	if s.n == 0 {
		r.Flags |= ZeroVarX | ZeroVarY | TooFewSamples
		return r
	}
	vxy, vxx, vyy := max(s.v2(x, y), 0), max(s.v2Of(x, x), 0), max(s.v2Of(y, y), 0)
	if vxx == 0 {
		r.Flags |= ZeroVarX
	}
	if vyy == 0 {
		r.Flags |= ZeroVarY
	}
	if den := geomean(vxx, vyy); den > 0 {
		r.DCorSq = math.Min(vxy/den, 1)
		r.DCor = math.Sqrt(r.DCorSq)
	}
	ok := true
	set := func(dst *float64, v float64, k, l int, p float64) {
		var in bool
		*dst, in = s.unscale(v, k, l, p)
		ok = ok && in
	}
	set(&r.DCovSq, vxy, x, y, 1)
	set(&r.DCov, math.Sqrt(vxy), x, y, 0.5)
	set(&r.DVarXSq, vxx, x, x, 1)
	set(&r.DVarYSq, vyy, y, y, 1)

	if s.n < 4 {
		r.Flags |= TooFewSamples
		if !ok {
			r.Flags |= OutOfRange
		}
		return r
	}
	uxx, uyy := s.uOf(x, x), s.uOf(y, y)
	uxy := s.uCross(x, y, uxx, uyy, s.u)
	r.BCDCor = rstar(uxy, uxx, uyy)
	if uxx == 0 && vxx > 0 {
		r.Flags |= ZeroDVarXU
	}
	if uyy == 0 && vyy > 0 {
		r.Flags |= ZeroDVarYU
	}
	set(&r.DCovU, uxy, x, y, 1)
	set(&r.DVarXU, uxx, x, x, 1)
	set(&r.DVarYU, uyy, y, y, 1)
	if !ok {
		r.Flags |= OutOfRange
	}

	n := float64(s.n)
	m := float64(n * (n - 3)) // an integer below 2^53: exact
	r.DF = (m - 2) / 2
	if uxx == 0 || uyy == 0 {
		return r // T = 0, P = 1
	}
	r.T, r.P = tTest(r.BCDCor, r.DF)
	if math.Abs(r.BCDCor) == 1 {
		r.Flags |= PerfectDependence
	}
	return r
}

// uCross returns U_kl (k != l) given U_kk and U_ll: exactly 0 if either
// is 0, as Cauchy–Schwarz (|U_kl| ≤ sqrt(U_kk·U_ll)) makes it (the inner
// product with a U-centred matrix that is 0), whatever the rounding of
// the tile sums left in its numerator. u evaluates U_kl: s.u, or s.uOf
// for the terms many results share (U_kz of the given space z).
func (s *Stats) uCross(k, l int, ukk, ull float64, u func(k, l int) float64) float64 {
	if ukk == 0 || ull == 0 {
		return 0
	}
	return u(k, l)
}

// rstar returns U_xy/sqrt(U_xx·U_yy) clamped to [−1, 1], or 0 if either
// variance is 0.
func rstar(uxy, uxx, uyy float64) float64 {
	den := geomean(uxx, uyy)
	if !(den > 0) {
		return 0
	}
	return math.Max(-1, math.Min(1, uxy/den))
}

// geomean returns sqrt(a·b) for a, b >= 0. While the product is a normal
// number it takes one square root, which is exact when a == b (so that
// R*(x, x) is exactly 1); otherwise it avoids the underflow or overflow of
// the product.
func geomean(a, b float64) float64 {
	if p := a * b; p >= 0x1p-1022 && p <= math.MaxFloat64 {
		return math.Sqrt(p)
	}
	return math.Sqrt(a) * math.Sqrt(b)
}

// tTest returns the statistic T = sqrt(df)·R/sqrt(1−R²) and its upper-tail
// p-value Pr(t_df > T), computed as the lower tail at −T so that it does not
// underflow to 0 through 1 − cdf.
func tTest(r, df float64) (t, p float64) {
	switch {
	case df < 1:
		return 0, 1
	case r >= 1:
		return math.Inf(1), 0
	case r <= -1:
		return math.Inf(-1), 1
	}
	t = math.Sqrt(df) * r / math.Sqrt((1-r)*(1+r))
	p = distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.CDF(-t)
	return t, p
}

// Partial returns the partial distance correlation and covariance of x and
// y given z. It panics if an index is out of range.
func (s *Stats) Partial(x, y, z int) PartialResult {
	s.checkSpace(x)
	s.checkSpace(y)
	s.checkSpace(z)
	r := PartialResult{N: s.n}
	if s.n < 4 {
		r.Flags |= TooFewSamples
		return r
	}
	uxx, uyy, uzz := s.uOf(x, x), s.uOf(y, y), s.uOf(z, z)
	uxy, uxz, uyz := s.uCross(x, y, uxx, uyy, s.u), s.uCross(x, z, uxx, uzz, s.uOf), s.uCross(y, z, uyy, uzz, s.uOf)
	r.BCDCorXY = rstar(uxy, uxx, uyy)
	r.BCDCorXZ = rstar(uxz, uxx, uzz)
	r.BCDCorYZ = rstar(uyz, uyy, uzz)
	if uxx == 0 {
		r.Flags |= zeroU(s.v2(x, x), ZeroVarX, ZeroDVarXU)
	}
	if uyy == 0 {
		r.Flags |= zeroU(s.v2(y, y), ZeroVarY, ZeroDVarYU)
	}

	// pdCov: the projection onto a constant z is zero.
	pdcov := uxy
	if uzz > 0 {
		pdcov = uxy - float64(uxz*uyz)/uzz
	} else {
		r.Flags |= ZeroVarZ
	}
	var ok bool
	if r.PDCov, ok = s.unscale(pdcov, x, y, 1); !ok {
		r.Flags |= OutOfRange
	}

	if 1-float64(r.BCDCorXZ*r.BCDCorXZ) <= nearOne {
		r.Flags |= ZDeterminesX
	}
	if 1-float64(r.BCDCorYZ*r.BCDCorYZ) <= nearOne {
		r.Flags |= ZDeterminesY
	}
	r.PDCor = pdcor(r.BCDCorXY, r.BCDCorXZ, r.BCDCorYZ)
	if dxy := 1 - float64(r.BCDCorXY*r.BCDCorXY); dxy > nearOne {
		r.SemiPartial = (r.BCDCorXZ - float64(r.BCDCorXY*r.BCDCorYZ)) / math.Sqrt(dxy)
	}
	return r
}

// zeroU returns the flag of a space whose U_kk is 0: constant if V²_kk
// is 0 too, else only its U-centred matrix is 0.
func zeroU(vkk float64, constant, uZero Flags) Flags {
	if vkk > 0 {
		return uZero
	}
	return constant
}

// pdcor returns (R*_xy − R*_xz·R*_yz) / sqrt((1 − R*²_xz)(1 − R*²_yz))
// clamped to [−1, 1], or 0 if 1 − R*²_xz or 1 − R*²_yz is at most
// nearOne. Every product is rounded before it is added (float64(·)), so
// that no CPU fuses it into an FMA and the bits are the same on all.
func pdcor(rxy, rxz, ryz float64) float64 {
	dxz, dyz := 1-float64(rxz*rxz), 1-float64(ryz*ryz)
	if dxz <= nearOne || dyz <= nearOne {
		return 0
	}
	pd := (rxy - float64(rxz*ryz)) / math.Sqrt(float64(dxz*dyz))
	return math.Max(-1, math.Min(1, pd))
}

func (s *Stats) checkSpace(k int) {
	if k < 0 || k >= s.k {
		panic("estimator: space index out of range")
	}
}
