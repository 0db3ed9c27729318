package estimator

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Flags mark degenerate cases. A flagged statistic holds the documented
// value named by its flag, never NaN.
type Flags uint

const (
	// ZeroVarX: space x has zero distance variance (it is constant). dcor,
	// dcor_sq, bcdcor are 0, t_stat is 0 and p_value is 1.
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
		"z_determines_x", "z_determines_y", "zero_var_z"}
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

// totals returns T'_k, the sum of the shifted row sums, for every space:
// summed exactly as integers, then rounded once.
func (s *Stats) totals() []float64 {
	t := make([]float64, s.k)
	for k := range s.k {
		var acc int128
		for _, r := range s.rows[k] {
			acc = acc.add(int128{hi: r >> 63, lo: uint64(r)})
		}
		t[k] = acc.float(s.rowQ[k])
	}
	return t
}

// q returns sum_i (r_k,i − dk)(r_l,i − dl), compensated, summed in sample
// order.
func (s *Stats) q(k, l int, dk, dl float64) float64 {
	var acc sum
	rk, rl := s.rows[k], s.rows[l]
	qk, ql := s.rowQ[k], s.rowQ[l]
	for i := range rk {
		acc.add((float64(rk[i])*qk - dk) * (float64(rl[i])*ql - dl))
	}
	return acc.value()
}

// sum returns S'_kl.
func (s *Stats) sum(k, l int) float64 {
	p := PairIndex(s.k, k, l)
	return s.s[p].float(s.sQ[p])
}

// V2 returns the V-statistic V²_n(k, l) of Székely, Rizzo & Bakirov (2007),
//
//	V²_kl = S_kl/n² − 2·Q_kl/n³ + T_k·T_l/n⁴
//
// evaluated on the shifted distances with diagonal −c (double-centring is
// invariant to that shift). V²_kk is never negative; for k != l the value
// may be of either sign only by rounding and is clamped at 0. It returns 0
// for n = 0.
func (s *Stats) V2(k, l int) float64 {
	if s.n == 0 {
		return 0
	}
	t := s.totals()
	return s.v2(k, l, t)
}

func (s *Stats) v2(k, l int, t []float64) float64 {
	n := float64(s.n)
	ck, cl := s.shift[k], s.shift[l]
	// With the diagonal at −c: S'' = S' + n·c_k·c_l, r'' = r' − c, T'' = T' − n·c.
	var s2 sum
	s2.add(s.sum(k, l))
	s2.add(n * ck * cl)
	q := s.q(k, l, ck, cl)
	tk, tl := t[k]-n*ck, t[l]-n*cl
	v := s2.value()/(n*n) - 2*q/(n*n*n) + (tk/(n*n))*(tl/(n*n))
	return math.Max(v, 0)
}

// U returns the unbiased U-statistic of Székely & Rizzo (2014),
//
//	U_kl = S_kl/(n(n−3)) − 2·Q_kl/(n(n−2)(n−3)) + T_k·T_l/(n(n−1)(n−2)(n−3))
//
// the inner product of the U-centred distance matrices over n(n−3). It is
// invariant to the shift c, so the shifted sums are used as they are. ok is
// false, and the value 0, when n < 4.
func (s *Stats) U(k, l int) (u float64, ok bool) {
	if s.n < 4 {
		return 0, false
	}
	return s.u(k, l, s.totals()), true
}

func (s *Stats) u(k, l int, t []float64) float64 {
	n := float64(s.n)
	sk := s.sum(k, l)
	q := s.q(k, l, 0, 0)
	v := sk/(n*(n-3)) - 2*q/(n*(n-2)*(n-3)) + (t[k]/(n*(n-1)))*(t[l]/((n-2)*(n-3)))
	if k == l {
		// (Ã·Ã) is a sum of squares: only rounding makes it negative.
		v = math.Max(v, 0)
	}
	return v
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
	t := s.totals()

	r.DCovSq = s.v2(x, y, t)
	r.DVarXSq = s.v2(x, x, t)
	r.DVarYSq = s.v2(y, y, t)
	r.DCov = math.Sqrt(r.DCovSq)
	if r.DVarXSq == 0 {
		r.Flags |= ZeroVarX
	}
	if r.DVarYSq == 0 {
		r.Flags |= ZeroVarY
	}
	if den := geomean(r.DVarXSq, r.DVarYSq); den > 0 {
		r.DCorSq = math.Min(r.DCovSq/den, 1)
		r.DCor = math.Sqrt(r.DCorSq)
	}

	if s.n < 4 {
		r.Flags |= TooFewSamples
		return r
	}
	r.DCovU = s.u(x, y, t)
	r.DVarXU = s.u(x, x, t)
	r.DVarYU = s.u(y, y, t)
	r.BCDCor = rstar(r.DCovU, r.DVarXU, r.DVarYU)
	if r.DVarXU == 0 {
		r.Flags |= ZeroVarX
	}
	if r.DVarYU == 0 {
		r.Flags |= ZeroVarY
	}

	n := float64(s.n)
	r.DF = n*(n-3)/2 - 1
	if r.Flags&(ZeroVarX|ZeroVarY) != 0 {
		return r // T = 0, P = 1
	}
	r.T, r.P = tTest(r.BCDCor, r.DF)
	if math.Abs(r.BCDCor) == 1 {
		r.Flags |= PerfectDependence
	}
	return r
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
	t := s.totals()
	uxx, uyy, uzz := s.u(x, x, t), s.u(y, y, t), s.u(z, z, t)
	uxy, uxz, uyz := s.u(x, y, t), s.u(x, z, t), s.u(y, z, t)
	r.BCDCorXY = rstar(uxy, uxx, uyy)
	r.BCDCorXZ = rstar(uxz, uxx, uzz)
	r.BCDCorYZ = rstar(uyz, uyy, uzz)
	if uxx == 0 {
		r.Flags |= ZeroVarX
	}
	if uyy == 0 {
		r.Flags |= ZeroVarY
	}

	// pdCov: the projection onto a constant z is zero.
	r.PDCov = uxy
	if uzz > 0 {
		r.PDCov = uxy - uxz*uyz/uzz
	} else {
		r.Flags |= ZeroVarZ
	}

	dxz, dyz := 1-r.BCDCorXZ*r.BCDCorXZ, 1-r.BCDCorYZ*r.BCDCorYZ
	if dxz <= nearOne {
		r.Flags |= ZDeterminesX
	}
	if dyz <= nearOne {
		r.Flags |= ZDeterminesY
	}
	if dxz > nearOne && dyz > nearOne {
		pd := (r.BCDCorXY - r.BCDCorXZ*r.BCDCorYZ) / math.Sqrt(dxz*dyz)
		r.PDCor = math.Max(-1, math.Min(1, pd))
	}
	if dxy := 1 - r.BCDCorXY*r.BCDCorXY; dxy > nearOne {
		r.SemiPartial = (r.BCDCorXZ - r.BCDCorXY*r.BCDCorYZ) / math.Sqrt(dxy)
	}
	return r
}

func (s *Stats) checkSpace(k int) {
	if k < 0 || k >= s.k {
		panic("estimator: space index out of range")
	}
}
