package block

import (
	"context"
	"math"
)

const (
	// gramMinDim is the smallest dimension computed with the Gram kernel;
	// below it, direct differences are faster (see BenchmarkKernel).
	gramMinDim = 16
	// refineTol: a Gram squared distance d² < refineTol·(|x_i|²+|x_j|²) has
	// lost more than about half of its digits to cancellation and is
	// recomputed by direct differences.
	refineTol = 1e-6
)

// kernel selects the squared-distance kernel of the spaces.
type kernel int

const (
	kernelAuto   kernel = iota // Gram from gramMinDim up, else direct
	kernelDirect               // direct differences for every space
	kernelGram                 // Gram trick for every space
)

// power selects how a distance is raised to the exponent α.
type power int

const (
	powGeneral     power = iota // exp(α/2·log d²)
	powHalf                     // α = 0.5
	powOne                      // α = 1
	powThreeHalves              // α = 1.5
	powTwo                      // α = 2
)

func powerOf(alpha float64) power {
	switch alpha {
	case 0.5:
		return powHalf
	case 1:
		return powOne
	case 1.5:
		return powThreeHalves
	case 2:
		return powTwo
	}
	return powGeneral
}

// plan holds what every tile of one Compute call shares. It is read-only
// while the workers run.
type plan struct {
	spaces   []Space
	k, n     int
	tileSize int
	alpha    float64
	pow      power
	mean     [][]float64 // per space: rounded column medians (scaled units)
	gram     []bool      // per space: Gram kernel, else direct differences
	shift    []float64   // c_k
	// scaleExp: e_k, space k's rows are used multiplied by scale[k] = 2^−e_k
	// (see scaleExponent); 0 and 1 for ordinary data.
	scaleExp []int
	scale    []float64
	scaled   bool // some scale[k] != 1
	// perm, if not nil, maps the rows of every space: row i of a tile is
	// sample perm(i) (the permutation pass, on a plan of one space).
	perm func(int) int
	// centredRows, if not nil, holds the rows of a mapped Gram space scaled
	// and centred, with their squared norms (see plan.precentre), read by
	// packMapped instead of the data.
	centredRows *centredRows
	spread      []float64 // v_k: the typical square deviation of a^k_ij from c_k
	// uni: K <= 2 univariate spaces and α = 1 or 2, computed by the fused
	// kernels uni1 and uni2.
	uni bool
	// fused: some space is a Gram space; tiles are computed by fusedTile
	// with the strip kernels kern, chunk rows of I per pass.
	fused bool
	kern  kernels
	chunk int
	// prec: the inner products of the Gram spaces in float64 or float32
	// (fused32.go); set before the first tile.
	prec Precision
	// rbf: the Gaussian kernel sums computed beside the distance sums
	// (rbf.go); nil without.
	rbf *rbfConf
}

func newPlan(spaces []Space, n int, alpha float64, tileSize int, kern kernel) *plan {
	return newPlanWith(spaces, n, alpha, tileSize, kern, bestKernels())
}

// newPlanWith is newPlan with the strip kernels of the fused Gram path.
func newPlanWith(spaces []Space, n int, alpha float64, tileSize int, kern kernel, impl kernels) *plan {
	return newPlanOn(spaces, n, alpha, tileSize, kern, impl, 1)
}

// newPlanOn is newPlanWith with the scales and centres of the spaces
// (scaleExponent, columnMedians: a few passes over the leading rows,
// 0.1 s at p = q = 2,048) computed on up to workers goroutines, one
// space each: each space's values do not depend on which.
func newPlanOn(spaces []Space, n int, alpha float64, tileSize int, kern kernel, impl kernels, workers int) *plan {
	k := len(spaces)
	p := &plan{
		spaces:   spaces,
		k:        k,
		n:        n,
		tileSize: tileSize,
		alpha:    alpha,
		pow:      powerOf(alpha),
		mean:     make([][]float64, k),
		gram:     make([]bool, k),
		shift:    make([]float64, k),
		scaleExp: make([]int, k),
		scale:    make([]float64, k),
		spread:   make([]float64, k),
	}
	m := min(n, meanRows)
	centre := func(i int) error {
		s := spaces[i]
		p.scaleExp[i] = scaleExponent(s, m)
		p.scale[i] = math.Ldexp(1, -p.scaleExp[i])
		p.mean[i] = columnMedians(s, m, p.scale[i], roundingBits)
		return nil
	}
	if workers <= 1 || k == 1 {
		for i := range k {
			centre(i)
		}
	} else {
		// No error, no context: every space is done.
		forEach(context.Background(), workers, k, func(int) func(int) error { return centre })
	}
	p.uni = k <= 2 && (p.pow == powOne || p.pow == powTwo) && kern != kernelGram
	for i, s := range spaces {
		p.scaled = p.scaled || p.scaleExp[i] != 0
		p.gram[i] = kern == kernelGram || kern == kernelAuto && s.Dim >= gramMinDim
		p.uni = p.uni && s.Dim == 1
		p.fused = p.fused || p.gram[i]
	}
	p.kern = impl
	p.chunk = p.fusedChunk()
	return p
}

// roundBits returns x rounded to the given number of significant bits
// (half away from zero). Zero, infinities and NaN are returned unchanged.
func roundBits(x float64, bits int) float64 {
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	frac, exp := math.Frexp(x) // x = frac·2^exp, 0.5 <= |frac| < 1
	return math.Ldexp(math.Round(math.Ldexp(frac, bits)), exp-bits)
}

// scratch is one worker's memory, O(TileSize × sum of Dim) plus the fused
// kernel's (fusedScratch); it is only touched by the worker that owns it.
// The direct kernel's panels hold centred rows, transposed (Dim × rows).
type scratch struct {
	jack    *jackAcc       // the jackknife pass: per-row sums instead of the tile's sums
	capture []float64      // the permutation pass: space 0's shifted distance tile, ni×nj
	against []float64      // the permutation pass: a captured tile, to sum space 0's products with
	dotSum  float64        // that sum
	stage   [2][][]float64 // per space: rows I and J times the scale, for scaled spaces
	ex      [2][][]float64 // per space: scaled rows I and J of exactTile
	pi, pj  [][]float64    // per space: panels of the rows I and J
	xi      [][]float64    // per direct space: row i, gathered
	d       [][]float64    // per space: row i of the shifted distance tile
	f       *fusedScratch
	ks      *rbfSlot    // the kernel tile being summed (rbf.go), or nil
	kv      [][]float64 // per kernel space: a row or strip of kernel values
	kcol    []float64   // the column sums of a kernel strip
}

func (p *plan) newScratch() *scratch {
	t := p.tileSize
	sc := &scratch{
		pi: make([][]float64, p.k),
		pj: make([][]float64, p.k),
		xi: make([][]float64, p.k),
		d:  make([][]float64, p.k),
	}
	for k, s := range p.spaces {
		sc.pi[k] = make([]float64, t*s.Dim)
		sc.pj[k] = make([]float64, t*s.Dim)
		sc.d[k] = make([]float64, t)
		if !p.gram[k] {
			sc.xi[k] = make([]float64, s.Dim)
		}
	}
	if p.fused {
		sc.f = p.newFusedScratch()
	}
	return sc
}

// tile computes the contribution of the pairs (i, j), i in [i0, i0+ni),
// j in [j0, j0+nj), with the shifted distances a'^k_ij = a^k_ij - shift[k],
// in the layout of estimator.Tile:
//
//	s[PairIndex(K,k,l)] = 2 · sum_{i in I, j in J} a'^k_ij a'^l_ij
//	rowI[k][i-i0]       = sum_{j in J} a'^k_ij
//	rowJ[k][j-j0]       = sum_{i in I} a'^k_ij
//
// If diag (then i0 == j0, ni == nj), only the pairs i < j are computed,
// which makes s the sum over i != j, and rowI[k][i-i0] = sum_{j != i};
// rowJ is then used as scratch. Each entry of s is summed per row i, then
// over the rows.
//
// This is the kernel that assembly micro-kernels would replace.
func (p *plan) tile(sc *scratch, i0, ni, j0, nj int, diag bool, shift, s []float64, rowI, rowJ [][]float64) {
	if p.fused {
		p.fusedTile(sc, i0, ni, j0, nj, diag, shift, s, rowI, rowJ)
		return
	}
	// Without a Gram space (those take the fused kernel): direct
	// differences, from transposed panels.
	for k := range p.spaces {
		spI, ri := p.rowsOf(sc, 0, k, i0, ni)
		spJ, rj := p.rowsOf(sc, 1, k, j0, nj)
		loadCols(sc.pi[k], nil, spI, p.mean[k], ri, ni)
		if !diag {
			loadCols(sc.pj[k], nil, spJ, p.mean[k], rj, nj)
		}
	}
	clear(s)
	for k := range p.k {
		clear(rowJ[k][:nj])
	}

	if p.uni {
		p.uniRows(sc, ni, nj, diag, shift, s, rowI, rowJ)
	} else {
		p.rows(sc, ni, nj, diag, shift, s, rowI, rowJ)
	}

	for q := range s {
		s[q] *= 2
	}
	if diag {
		for k := range p.k {
			ri, rj := rowI[k][:ni], rowJ[k][:ni]
			for i := range ri {
				ri[i] += rj[i]
			}
		}
	}
}

// rows is the row loop of tile: for each row i, the shifted distance row
// of every space (distRow), then the row sums, column sums and products
// (acc1, dot), one pass each.
func (p *plan) rows(sc *scratch, ni, nj int, diag bool, shift, s []float64, rowI, rowJ [][]float64) {
	for i := range ni {
		j := 0
		if diag {
			j = i + 1
		}
		for k := range p.k {
			p.distRow(sc, k, i, ni, j, nj, diag, shift[k])
		}
		if sc.jack != nil {
			p.jackRow(sc, i, j, nj)
			continue
		}
		if sc.capture != nil {
			row := sc.capture[i*nj : (i+1)*nj]
			clear(row[:j])
			copy(row[j:], sc.d[0][j:nj])
			continue
		}
		if sc.against != nil {
			sc.dotSum += dot(sc.d[0][j:nj], sc.against[i*nj+j:(i+1)*nj])
			continue
		}
		if sc.ks != nil {
			p.rbfRow(sc, i, j, nj-j, func(k int) []float64 { return sc.d[k][j:nj] })
		}
		q := 0 // PairIndex(K, k, l)
		for k := range p.k {
			dk := sc.d[k][j:nj]
			r, ss := acc1(dk, rowJ[k][j:nj])
			rowI[k][i] = r
			s[q] += ss
			q++
			for l := k + 1; l < p.k; l++ {
				s[q] += dot(dk, sc.d[l][j:nj])
				q++
			}
		}
	}
}

// uniRows is rows for p.uni, with the fused kernels uni1 and uni2.
func (p *plan) uniRows(sc *scratch, ni, nj int, diag bool, shift, s []float64, rowI, rowJ [][]float64) {
	sq := p.pow == powTwo
	xa, ya := sc.pi[0], sc.pj[0]
	if diag {
		ya = xa
	}
	if p.k == 1 {
		for i := range ni {
			j := 0
			if diag {
				j = i + 1
			}
			r, ss := uni1(xa[i], ya[j:nj], rowJ[0][j:nj], shift[0], sq)
			rowI[0][i] = r
			s[0] += ss
			if sc.ks != nil {
				p.rbfUni(sc, i, j, nj, diag)
			}
		}
		return
	}
	xb, yb := sc.pi[1], sc.pj[1]
	if diag {
		yb = xb
	}
	for i := range ni {
		j := 0
		if diag {
			j = i + 1
		}
		r0, r1, s00, s01, s11 := uni2(xa[i], xb[i], ya[j:nj], yb[j:nj], rowJ[0][j:nj], rowJ[1][j:nj], shift[0], shift[1], sq)
		rowI[0][i], rowI[1][i] = r0, r1
		s[0] += s00
		s[1] += s01
		s[2] += s11
		if sc.ks != nil {
			p.rbfUni(sc, i, j, nj, diag)
		}
	}
}

// uni1Go is uni1 in Go: acc1 fused with the distances a_j = |x - y_j|^α - c,
// α = 2 if sq else 1, of a univariate space.
func uni1Go(x float64, y, col []float64, c float64, sq bool) (r, s float64) {
	col = col[:len(y)]
	var r1, s1 float64
	j := 0
	if sq {
		for ; j+1 < len(y); j += 2 {
			t0, t1 := x-y[j], x-y[j+1]
			a0, a1 := t0*t0-c, t1*t1-c
			r += a0
			r1 += a1
			s += float64(a0 * a0)
			s1 += float64(a1 * a1)
			col[j] += a0
			col[j+1] += a1
		}
	} else {
		for ; j+1 < len(y); j += 2 {
			a0, a1 := math.Abs(x-y[j])-c, math.Abs(x-y[j+1])-c
			r += a0
			r1 += a1
			s += float64(a0 * a0)
			s1 += float64(a1 * a1)
			col[j] += a0
			col[j+1] += a1
		}
	}
	if j < len(y) {
		t := x - y[j]
		a := math.Abs(t) - c
		if sq {
			a = float64(t*t) - c
		}
		r += a
		s += float64(a * a)
		col[j] += a
	}
	return r + r1, s + s1
}

// uni2Go is uni2 in Go: it returns the sums of a, b, a², ab and b² and
// adds a to colA and b to colB, for the distances a_j = |xa - ya_j|^α - ca
// and b_j = |xb - yb_j|^α - cb of two univariate spaces, α = 2 if sq else 1.
func uni2Go(xa, xb float64, ya, yb, colA, colB []float64, ca, cb float64, sq bool) (ra, rb, saa, sab, sbb float64) {
	n := len(ya)
	yb, colA, colB = yb[:n], colA[:n], colB[:n]
	if sq {
		for j, u := range ya {
			ta, tb := xa-u, xb-yb[j]
			a, b := ta*ta-ca, tb*tb-cb
			ra += a
			rb += b
			saa += float64(a * a)
			sab += float64(a * b)
			sbb += float64(b * b)
			colA[j] += a
			colB[j] += b
		}
		return ra, rb, saa, sab, sbb
	}
	for j, u := range ya {
		a, b := math.Abs(xa-u)-ca, math.Abs(xb-yb[j])-cb
		ra += a
		rb += b
		saa += float64(a * a)
		sab += float64(a * b)
		sbb += float64(b * b)
		colA[j] += a
		colB[j] += b
	}
	return ra, rb, saa, sab, sbb
}

// distRow writes the shifted distances a^k_ij - c, j in [j, nj), of row i
// of the current tile to sc.d[k][j:nj].
func (p *plan) distRow(sc *scratch, k, i, ni, j, nj int, diag bool, c float64) {
	d := sc.d[k][j:nj]
	dim := p.spaces[k].Dim
	b := sc.pi[k]
	if !diag {
		b = sc.pj[k]
	}
	if dim == 1 {
		p.absRow(d, sc.pi[k][i], b[j:nj], c)
		return
	}
	xi := sc.xi[k]
	for q := range xi {
		xi[q] = sc.pi[k][q*ni+i]
	}
	directRow(d, xi, b, nj, j)
	p.raise(d, c)
}

// loadCols copies rows [r0, r0+m) of s, centred by mu, into dst
// transposed, dst[q*m+i] = x_{r0+i,q} - mu_q, and if norms is not nil
// their squared norms into norms.
func loadCols(dst, norms []float64, s Space, mu []float64, r0, m int) {
	dim := s.Dim
	if dim == 1 && norms == nil {
		c := mu[0]
		for i, v := range s.Data[r0 : r0+m] {
			dst[i] = v - c
		}
		return
	}
	for i := range m {
		var sq float64
		for q, v := range s.Data[(r0+i)*dim : (r0+i+1)*dim] {
			c := v - mu[q]
			dst[q*m+i] = c
			sq += float64(c * c)
		}
		if norms != nil {
			norms[i] = sq
		}
	}
}

// loadRows copies rows [r0, r0+m) of s, centred by mu, into dst row-major
// and their squared norms into norms.
func loadRows(dst, norms []float64, s Space, mu []float64, r0, m int) {
	dim := s.Dim
	for i := range m {
		out := dst[i*dim : (i+1)*dim]
		var sq float64
		for q, v := range s.Data[(r0+i)*dim : (r0+i+1)*dim] {
			c := v - mu[q]
			out[q] = c
			sq += float64(c * c)
		}
		norms[i] = sq
	}
}

// directRowGo is directRow in Go: it sets d[j'] = sum_q (xi_q - b_q,j+j')²
// for the transposed panel b (len(xi) × stride), up to four coordinates per
// pass over d.
func directRowGo(d, xi, b []float64, stride, j int) {
	n := len(d)
	col := func(q int) []float64 { return b[q*stride+j : q*stride+j+n] }
	q := len(xi) % 4
	switch q {
	case 1:
		v, c := xi[0], col(0)
		for jj, w := range c {
			t := v - w
			d[jj] = t * t
		}
	case 2:
		v0, v1, c0, c1 := xi[0], xi[1], col(0), col(1)
		c1 = c1[:len(c0)]
		for jj, w := range c0 {
			t0, t1 := v0-w, v1-c1[jj]
			d[jj] = float64(t0*t0) + float64(t1*t1)
		}
	case 3:
		v0, v1, v2, c0, c1, c2 := xi[0], xi[1], xi[2], col(0), col(1), col(2)
		c1, c2 = c1[:len(c0)], c2[:len(c0)]
		for jj, w := range c0 {
			t0, t1, t2 := v0-w, v1-c1[jj], v2-c2[jj]
			d[jj] = float64(t0*t0) + float64(t1*t1) + float64(t2*t2)
		}
	default:
		clear(d)
	}
	for ; q < len(xi); q += 4 {
		v0, v1, v2, v3 := xi[q], xi[q+1], xi[q+2], xi[q+3]
		c0, c1, c2, c3 := col(q), col(q+1), col(q+2), col(q+3)
		c1, c2, c3 = c1[:len(c0)], c2[:len(c0)], c3[:len(c0)]
		d := d[:len(c0)]
		for jj, w := range c0 {
			t0, t1, t2, t3 := v0-w, v1-c1[jj], v2-c2[jj], v3-c3[jj]
			d[jj] += (float64(t0*t0) + float64(t1*t1)) + (float64(t2*t2) + float64(t3*t3))
		}
	}
}

// raise replaces the squared distances d by d^(α/2) - c: α = 2 as they
// are, α = 1 by a square root, α = 0.5 and 1.5 by square roots too
// (sqrt(sqrt(d)) and s·sqrt(s), s = sqrt(d), within an ulp or two of
// math.Pow and many times faster), any other α by exp(α/2·log d).
func (p *plan) raise(d []float64, c float64) {
	d = d[raiseRow(d, c, p.pow):] // the vectorised prefix (none in pure Go)
	switch p.pow {
	case powTwo:
		for j, v := range d {
			d[j] = v - c
		}
	case powOne:
		for j, v := range d {
			d[j] = math.Sqrt(v) - c
		}
	case powHalf:
		for j, v := range d {
			d[j] = math.Sqrt(math.Sqrt(v)) - c
		}
	case powThreeHalves:
		for j, v := range d {
			r := math.Sqrt(v)
			d[j] = float64(r*math.Sqrt(r)) - c
		}
	default:
		// 0 < e < 1: exp(e·log v) is what math.Pow computes for e <= 0.5
		// (for e > 0.5 it takes v·exp((e-1)·log v)), without its special
		// cases: twice as fast, with a relative error of a few ulps times
		// |e·log v|. v = 0 gives exp(-Inf) = 0.
		e := p.alpha / 2
		for j, v := range d {
			d[j] = math.Exp(e*math.Log(v)) - c
		}
	}
}

// absRowGo is absRow in Go: it sets d[j] = |x - b[j]|^α - c for a
// one-dimensional space, from |x - b[j]| rather than its square (exact for
// α = 1).
func (p *plan) absRowGo(d []float64, x float64, b []float64, c float64) {
	b = b[:len(d)]
	switch p.pow {
	case powTwo:
		for j, w := range b {
			t := x - w
			d[j] = float64(t*t) - c
		}
	case powOne:
		for j, w := range b {
			d[j] = math.Abs(x-w) - c
		}
	case powHalf:
		for j, w := range b {
			d[j] = math.Sqrt(math.Abs(x-w)) - c
		}
	case powThreeHalves:
		for j, w := range b {
			t := math.Abs(x - w)
			d[j] = float64(t*math.Sqrt(t)) - c
		}
	default:
		e := p.alpha / 2 // as in raise, from the square
		for j, w := range b {
			t := x - w
			d[j] = math.Exp(e*math.Log(t*t)) - c
		}
	}
}

// acc1 returns sum_j a[j] and sum_j a[j]² and adds a to col. Even and odd
// j are summed separately (two independent dependency chains), then added.
func acc1(a, col []float64) (r, s float64) {
	col = col[:len(a)]
	var r1, s1 float64
	j := 0
	for ; j+1 < len(a); j += 2 {
		v0, v1 := a[j], a[j+1]
		r += v0
		r1 += v1
		s += float64(v0 * v0)
		s1 += float64(v1 * v1)
		col[j] += v0
		col[j+1] += v1
	}
	if j < len(a) {
		v := a[j]
		r += v
		s += float64(v * v)
		col[j] += v
	}
	return r + r1, s + s1
}

// dot returns sum_j a[j] b[j], even and odd j summed separately.
func dot(a, b []float64) float64 {
	b = b[:len(a)]
	var s0, s1 float64
	j := 0
	for ; j+1 < len(a); j += 2 {
		s0 += float64(a[j] * b[j])
		s1 += float64(a[j+1] * b[j+1])
	}
	if j < len(a) {
		s0 += float64(a[j] * b[j])
	}
	return s0 + s1
}
