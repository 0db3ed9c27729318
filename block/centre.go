package block

import (
	"math"
	"slices"
)

// Each space is brought to a working scale and centre before any distance
// is computed, from its leading rows only (so that every schedule, shard
// and pass fixes the same ones):
//
//   - a scale 2^−e_k (scaleExponent): 1 for ordinary data; for data whose
//     centred values lie beyond 2^±120, the power of two that brings them
//     near 1, so that squares, distances and their products stay inside
//     float64's range. Multiplying by a power of two is exact, so dCor is
//     the same for x and x·2^j; estimator.Stats.Scale records e_k and the
//     covariances are scaled back.
//   - a centre: the column medians of up to 1,024 leading rows, rounded
//     to 8 significant bits (a far outlier among them does not move them,
//     unlike a mean).
//   - a shift c_k: the median of the distances of consecutive leading rows,
//     rounded to 8 significant bits, subtracted from every distance before
//     it is summed (see package estimator), and v_k, the typical square of
//     a U-centred distance, the yardstick of exactTile's test (setShifts).

// scaleBand: centred values of magnitude in [2^−scaleBand, 2^scaleBand]
// are used as they are. Within it, with n <= 2^63 rows and outliers up to
// 2^100 times the typical distance, the fourth powers of distances (the
// products of S for α = 2) and their sums stay within float64's range.
const scaleBand = 120

// scaleExponent returns e such that the first m rows of s, times 2^−e and
// centred, have magnitudes near 1 (0 if they are already within
// 2^±scaleBand, or all zero). Only magnitudes matter here, so it centres
// by the column means of the rows brought below 1 (no overflow).
func scaleExponent(s Space, m int) int {
	rows := s.Data[:m*s.Dim]
	big := maxAbs(rows)
	if big == 0 {
		return 0
	}
	_, e1 := math.Frexp(big)
	e1 = clampScale(e1)
	s1 := math.Ldexp(1, -e1)
	// Row by row (no i%Dim, a division per value): each column's sum
	// still adds its rows in order.
	d := s.Dim
	mu := make([]float64, d)
	for i := 0; i < len(rows); i += d {
		for q, v := range rows[i : i+d] {
			mu[q] += v * s1
		}
	}
	for q := range mu {
		mu[q] /= float64(m)
	}
	var r float64
	for i := 0; i < len(rows); i += d {
		r = max(r, maxAbsCentred(rows[i:i+d], s1, mu))
	}
	if r == 0 {
		// A constant space: any scale leaves its distances at 0.
		if big <= math.Ldexp(1, scaleBand) && big >= math.Ldexp(1, -scaleBand) {
			return 0
		}
		return e1
	}
	spread := math.Ldexp(r, e1) // may overflow to +Inf, then rescale
	if spread <= math.Ldexp(1, scaleBand) && spread >= math.Ldexp(1, -scaleBand) && big <= math.Ldexp(1, 900) {
		return 0
	}
	_, er := math.Frexp(r)
	return clampScale(e1 + er)
}

// maxAbs returns the largest |v[i]|. The magnitudes are compared as
// their bits (in the order of the values for non-negative floats), in
// four independent maxima: a float max is a compare and branch per value,
// and one running maximum a chain of them.
func maxAbs(v []float64) float64 {
	var m0, m1, m2, m3 uint64
	i := 0
	for ; i+4 <= len(v); i += 4 {
		m0 = max(m0, math.Float64bits(v[i])&^(1<<63))
		m1 = max(m1, math.Float64bits(v[i+1])&^(1<<63))
		m2 = max(m2, math.Float64bits(v[i+2])&^(1<<63))
		m3 = max(m3, math.Float64bits(v[i+3])&^(1<<63))
	}
	for ; i < len(v); i++ {
		m0 = max(m0, math.Float64bits(v[i])&^(1<<63))
	}
	return math.Float64frombits(max(m0, m1, m2, m3))
}

// maxAbsCentred returns the largest |row[q]·s − mu[q]|, as maxAbs does.
func maxAbsCentred(row []float64, s float64, mu []float64) float64 {
	mu = mu[:len(row)]
	var m0, m1 uint64
	q := 0
	for ; q+2 <= len(row); q += 2 {
		m0 = max(m0, math.Float64bits(float64(row[q]*s)-mu[q])&^(1<<63))
		m1 = max(m1, math.Float64bits(float64(row[q+1]*s)-mu[q+1])&^(1<<63))
	}
	for ; q < len(row); q++ {
		m0 = max(m0, math.Float64bits(float64(row[q]*s)-mu[q])&^(1<<63))
	}
	return math.Float64frombits(max(m0, m1))
}

// clampScale keeps a scale exponent within ±1000, so that the factor 2^−e
// is a normal float64: subnormal data (below 2^−1022) is then scaled up by
// 2^1000, which brings it well inside the band.
func clampScale(e int) int { return max(-1000, min(1000, e)) }

// medianRows is the number of leading rows whose column medians centre a
// space: the centre only needs to be near the data (it keeps the Gram
// form |x|²+|y|²−2x·y from cancelling), and a selection over more rows
// costs more for wide spaces than it gains.
const medianRows = 1024

// columnMedians returns the median of each column of the first
// min(m, medianRows) rows of s times scale (the lower middle value for an
// even count), rounded to bits significant bits (0: not rounded, one of
// the values itself); zeros if m is 0.
func columnMedians(s Space, m int, scale float64, bits int) []float64 {
	m = min(m, medianRows)
	mu := make([]float64, s.Dim)
	if m == 0 {
		return mu
	}
	// The columns are gathered a cache line (8 values) of each row at a
	// time, in row order as before: the rows are read once, not once a
	// column.
	const group = 8
	cols := make([]float64, min(group, s.Dim)*m)
	for q0 := 0; q0 < s.Dim; q0 += group {
		g := min(group, s.Dim-q0)
		for i := range m {
			for c, v := range s.Data[i*s.Dim+q0 : i*s.Dim+q0+g] {
				cols[c*m+i] = v * scale
			}
		}
		for c := range g {
			mu[q0+c] = selectKth(cols[c*m:(c+1)*m], (m-1)/2)
			if bits > 0 {
				mu[q0+c] = roundBits(mu[q0+c], bits)
			}
		}
	}
	return mu
}

// selectKth returns the k-th smallest value of v (0-based), reordering v:
// Hoare's selection with a median-of-three pivot, deterministic.
func selectKth(v []float64, k int) float64 {
	lo, hi := 0, len(v)-1
	for lo < hi {
		if hi-lo < 16 {
			slices.Sort(v[lo : hi+1])
			return v[k]
		}
		mid := lo + (hi-lo)/2
		a, b, c := v[lo], v[mid], v[hi]
		pivot := max(min(a, b), min(max(a, b), c))
		i, j := lo, hi
		for i <= j {
			for v[i] < pivot {
				i++
			}
			for v[j] > pivot {
				j--
			}
			if i <= j {
				v[i], v[j] = v[j], v[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return v[k]
		}
	}
	return v[k]
}

// shiftRows is the least number of leading rows whose distances set the
// shifts c_k and the yardsticks v_k (more for a larger tile). Taken from
// the tile, as they were, a tile of 2 rows gave one distance, which a far
// row made c_k and, through v_k = c_k², the yardstick of needsExact: every
// distance then lost its digits below 2^−53·c_k and no tile was
// recomputed (bcdcor 0 for 0.69).
const shiftRows = DefaultTileSize

// setShifts sets c_k and v_k from the distances of the leading rows,
// m = min(n, max(TileSize, shiftRows)) of them, d_i = a_{i,i+1} for
// i < m−1 and the double differences
//
//	δ_i = a_{i,i+2} − a_{i,i+3} − a_{i+1,i+2} + a_{i+1,i+3},   i < m−3:
//
// c_k is the median of the d_i rounded to roundingBits significant bits;
// v_k the smaller of the squares of the median of |d_i − c_k| and of half
// the median of |δ_i| (a zero one ignored), or if both are 0 (most
// distances equal, as for labels) the square of the least non-zero
// |d_i − c_k|, or 1. With fewer than two rows c_k = 0 and v_k = 1.
//
// v_k stands for the size of the U-centred distances, against which the
// rounding of a fast tile is weighed (needsExact), and must not
// overstate it. The deviations of the d_i alone do when a few far rows
// hold many of the leading distances (n = 4 to 8, say): they are then of
// the size of the far distances, which U-centring takes out as the far
// rows' row effects, leaving the result at the scale of the others. The
// δ_i are free of row and column effects, as U-centring is, so a far row
// moves them by no more than the other rows' spread, and their median is
// that of the bulk. Where both are fair, on ordinary data, they agree to
// a small factor, well inside λ (exactLimit), and no tile changes path.
func (p *plan) setShifts() {
	m := min(p.n, max(p.tileSize, shiftRows))
	for k := range p.k {
		p.shift[k], p.spread[k] = 0, 1
		if m < 2 {
			continue
		}
		sp := p.spaces[k]
		a := func(i, j int) float64 { return p.raise1(p.dist2(k, sp, i, sp, j)) }
		d := make([]float64, m-1)
		for i := range d {
			d[i] = a(i, i+1)
		}
		var dd []float64
		if m >= 4 {
			dd = make([]float64, m-3)
			next := a(0, 2) // a_{i,i+2} for the next i
			for i := range dd {
				e := next
				next = a(i+1, i+3)
				dd[i] = math.Abs(e - a(i, i+3) - d[i+1] + next)
			}
		}
		c := roundBits(selectKth(d, (len(d)-1)/2), roundingBits)
		least := math.Inf(1) // the least non-zero |d_i − c|
		for i, x := range d {
			d[i] = math.Abs(x - c)
			if d[i] > 0 {
				least = min(least, d[i])
			}
		}
		dev := selectKth(d, (len(d)-1)/2)
		v := dev * dev
		if len(dd) > 0 {
			h := selectKth(dd, (len(dd)-1)/2) / 2
			if h2 := h * h; h2 > 0 && (h2 < v || v == 0) {
				v = h2
			}
		}
		for _, alt := range []float64{least * least, 1} {
			if v > 0 && !math.IsInf(v, 0) {
				break
			}
			v = alt
		}
		p.shift[k], p.spread[k] = c, v
	}
}

// dist2 returns the squared distance between row i of a and row j of b,
// both rows of space k, scaled and centred, by direct differences.
func (p *plan) dist2(k int, a Space, i int, b Space, j int) float64 {
	dim, sc, mu := a.Dim, p.scale[k], p.mean[k]
	x, y := a.Data[i*dim:(i+1)*dim], b.Data[j*dim:(j+1)*dim]
	var d2 float64
	for q := range x {
		t := (x[q]*sc - mu[q]) - (y[q]*sc - mu[q])
		d2 += float64(t * t)
	}
	return d2
}

// raise1 returns d2^(α/2), the distance to the exponent α from its
// square, by the formulas of raise.
func (p *plan) raise1(d2 float64) float64 {
	switch p.pow {
	case powTwo:
		return d2
	case powOne:
		return math.Sqrt(d2)
	case powHalf:
		return math.Sqrt(math.Sqrt(d2))
	case powThreeHalves:
		r := math.Sqrt(d2)
		return r * math.Sqrt(r)
	}
	return math.Exp(p.alpha / 2 * math.Log(d2))
}

// rowsOf returns rows [r0, r0+m) of space k as a Space and the index of
// the first of them in it: the space itself, or for a scaled space a copy
// of the rows times its scale in the worker's stage buffer side (0 for the
// rows I, 1 for J).
func (p *plan) rowsOf(sc *scratch, side, k, r0, m int) (Space, int) {
	sp := p.spaces[k]
	if p.scale[k] == 1 && p.perm == nil {
		return sp, r0
	}
	if sc.stage[side] == nil {
		sc.stage[side] = make([][]float64, p.k)
	}
	buf := sc.stage[side][k]
	if cap(buf) < m*sp.Dim {
		buf = make([]float64, p.tileSize*sp.Dim)
		sc.stage[side][k] = buf
	}
	buf = buf[:m*sp.Dim]
	f, d := p.scale[k], sp.Dim
	if p.perm != nil {
		for t := range m {
			g := p.perm(r0 + t)
			for q, v := range sp.Data[g*d : (g+1)*d] {
				buf[t*d+q] = v * f
			}
		}
		return Space{Data: buf, Dim: d}, 0
	}
	for i, v := range sp.Data[r0*d : (r0+m)*d] {
		buf[i] = v * f
	}
	return Space{Data: buf, Dim: d}, 0
}

// setPrecision sets the precision of the Gram products: Float32 only for
// a plan without scaled spaces (whose values the float32 panels could not
// hold); such a plan computes in Float64.
func (p *plan) setPrecision(prec Precision) {
	p.prec = prec
	if p.scaled {
		p.prec = Float64
	}
}

// Normalization returns, for each space, the scale exponent e_k that
// Compute and Prepare use and a centre for statistics computed outside
// the tiles on the same footing (estimator.Linear; rows are used as
// x·2^−e_k − centre): the column medians of the leading rows in scaled
// units, not rounded (unlike the tiles' centres): each is one of the
// scaled values itself, so that x·2^−e_k − centre is exact for every
// value within a factor 2 of it (Sterbenz), whatever the data's offset,
// and otherwise rounded once relative to the centred value. No offset of
// the data is left in the centred values beyond the distance of the
// leading rows' median from the bulk of the data.
func Normalization(spaces []Space) (centre [][]float64, scaleExp []int) {
	centre, scaleExp = make([][]float64, len(spaces)), make([]int, len(spaces))
	for k, s := range spaces {
		m := min(s.Rows(), meanRows)
		scaleExp[k] = scaleExponent(s, m)
		centre[k] = columnMedians(s, m, math.Ldexp(1, -scaleExp[k]), 0)
	}
	return centre, scaleExp
}
