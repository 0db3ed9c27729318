package block

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/dcor-stream/dcor-stream/estimator"
)

// The Gaussian (RBF) kernel sums of debiased CKA, computed in the tiles of
// dCor (DESIGN §7). With the kernel value k_ij = exp(−|x_i − x_j|²/(2σ²))
// in place of the distance a_ij (and 0 on the diagonal, the U-centring
// convention: the U-statistic never reads the diagonal), the U-statistic
// of §1 is unbiased HSIC (Song et al. 2012) and bcdcor is debiased CKA.
// So the kernel matrices are summed as the spaces of a second
// estimator.Stats, the kernel state: its row sums r_i = sum_{j≠i} k'_ij
// and products S_kl = sum_{i≠j} k'^k_ij k'^l_ij, of the shifted kernel
// values k' = k − c'_k.
//
// Each tile's kernel sums are computed by a Go epilogue over the distance
// strips the tile's kernels produce (the fused Gram kernel's strips, the
// direct kernel's rows, the univariate panels): the squared distance is
// recovered from the shifted distance a' = d^α − c_k (α = 0.5, 1 or 2),
// the kernel value by detExp, whose bits are the same on every CPU, and
// the tile's float64 sums are formed in a fixed order and added exactly,
// as the distance sums are. So the kernel state has the same bits for any
// worker count, shard split, resume point and kernel implementation. A
// tile that exactTile recomputes keeps the kernel sums of its fast pass:
// kernel values lie in [0, 1], and their float64 sums need no rescue.
//
// Per space: the bandwidth σ is in the units of the data; with the
// space's scale 2^−e_k the kernel is exp(−γ_k d²) on the scaled distances
// d, γ_k = 2^(2e_k)/(2σ²), exactly. The shift c'_k is the kernel value at
// the distance shift c_k, rounded to 8 bits: about the typical kernel
// value, so that the U-centring cancels less in the sums; any fixed value
// gives the same statistics.
//
// A σ far beyond the data's distances (γ_k c_k² < 2^−10: the kernel is
// above 0.999 at the typical distance) makes k_ij = 1 − γd² + …, whose
// information lies in digits that exp rounds away: 1 − 10⁻¹⁶ holds no
// digit of γd² = 10⁻¹⁶ (σ = 10⁸ times the data's scale once gave cka_rbf
// 0.1615 for 0.1683). U-centring cancels a constant, so such a space
// sums k − 1 = expm1(−γd²) instead, exact to an ulp however small γd²
// is, in the unit 2^j_k ≈ γ_k c_k² (so that typical values are near 1
// and their products far from underflow): the kernel state holds
// (k − 1)·2^−j_k − c'_k with c'_k = expm1(−γ_k c_k²)·2^−j_k rounded to 8
// bits, and its scale records j_k, so that HSIC is scaled back (CKA is
// a ratio and is not) — rbfConf.unit and scale. The other spaces keep
// exp (and the kernel sets' assembly).
//
// A σ far below the data's distances makes every off-diagonal value of
// the kernel underflow, or their products: below e^−708 float64 holds no
// value at all, and float64 sums cannot know the statistics (σ = 10⁻³
// times the scale once gave cka_rbf 0 for 0.0014). KernelUnknown tells
// such a kernel state from the sums.

// RBF asks a Plan for the Gaussian kernel sums of some of its spaces.
type RBF struct {
	// Spaces are the plan's spaces whose kernel sums are kept, in the
	// order of the kernel state's spaces.
	Spaces []int
	// Sigma is the bandwidth σ > 0 of each, in the units of the data.
	Sigma []float64
}

// ErrRBF is returned for an RBF a plan cannot compute.
var ErrRBF = errors.New("RBF kernel sums")

// RBFApplies reports whether the kernel sums can be computed with the
// options: the exponent α must be 0.5, 1 or 2 (the squared distance is
// recovered from d^α without a power function) and the precision
// float64.
func RBFApplies(opts Options) error {
	alpha, _, err := opts.resolved()
	if err != nil {
		return err
	}
	if alpha != 0.5 && alpha != 1 && alpha != 2 {
		return fmt.Errorf("exponent %v: the Gaussian kernel is computed for exponents 0.5, 1 and 2: %w", alpha, ErrRBF)
	}
	if opts.Precision != Float64 {
		return fmt.Errorf("precision %v: the Gaussian kernel is computed in float64 only: %w", opts.Precision, ErrRBF)
	}
	return nil
}

// rbfConf is an RBF resolved on a plan.
type rbfConf struct {
	spaces []int
	gamma  []float64 // per kernel space: 2^(2e)/(2σ²)
	shift  []float64 // per kernel space: c'
	// Per kernel space: unit 0 sums k − c' (exp); unit 2^−j sums
	// (k − 1)·2^−j − c' (expm1), and scale is j.
	unit  []float64
	scale []int
	st    *estimator.Stats
}

// expm1Below is the value of γ_k c_k² below which a kernel space sums
// expm1 (the kernel at the typical distance is above 1 − 2^−10).
const expm1Below = 0x1p-10

// rbf resolves r on pl: γ and the shifts, or an error.
func (pl *Plan) rbf(r RBF) (*rbfConf, error) {
	p := pl.eng.p
	if err := RBFApplies(Options{Exponent: p.alpha, Precision: p.prec}); err != nil {
		return nil, err
	}
	if len(r.Spaces) == 0 || len(r.Sigma) != len(r.Spaces) {
		return nil, fmt.Errorf("%d spaces, %d bandwidths: %w", len(r.Spaces), len(r.Sigma), ErrRBF)
	}
	m := len(r.Spaces)
	c := &rbfConf{spaces: slices.Clone(r.Spaces), gamma: make([]float64, m), shift: make([]float64, m),
		unit: make([]float64, m), scale: make([]int, m)}
	for i, k := range r.Spaces {
		if k < 0 || k >= p.k {
			return nil, fmt.Errorf("space %d of %d: %w", k, p.k, ErrRBF)
		}
		s := r.Sigma[i]
		g := math.Ldexp(1/(2*s*s), 2*p.scaleExp[k])
		if !(s > 0) || math.IsInf(g, 0) || !(g >= 0x1p-1022) {
			return nil, fmt.Errorf("space %d: bandwidth σ = %v out of range: %w", k, s, ErrRBF)
		}
		c.gamma[i] = g
		t := float64(g * p.squared(p.shift[k])) // γ c²
		if t == 0 || t >= expm1Below {
			c.shift[i] = roundBits(detExp(-t), roundingBits)
			continue
		}
		_, j := math.Frexp(t)
		if j < -1000 {
			return nil, fmt.Errorf("space %d: bandwidth σ = %v is beyond 10^150 times the data's distances (the kernel is 1 to float64's precision): %w", k, s, ErrRBF)
		}
		c.unit[i], c.scale[i] = math.Ldexp(1, -j), j
		c.shift[i] = roundBits(float64(detExpm1(-t)*c.unit[i]), roundingBits)
	}
	return c, nil
}

// squared returns d² from d^α (α = 0.5, 1 or 2), d^α ≥ 0.
func (p *plan) squared(v float64) float64 {
	switch p.pow {
	case powHalf:
		v = float64(v * v)
		return float64(v * v)
	case powTwo:
		return v
	}
	return float64(v * v)
}

// NewRBFStats returns the empty kernel state of r: one space per kernel,
// of the plan's n samples (so after NewStats).
func (pl *Plan) NewRBFStats(r RBF) (*estimator.Stats, error) {
	if pl.n < 0 {
		panic("block: NewRBFStats before NewStats")
	}
	c, err := pl.rbf(r)
	if err != nil {
		return nil, err
	}
	return estimator.New(len(c.spaces), pl.n, 1, c.shift, c.scale), nil
}

// SetRBF makes every later tile of the plan (AddTiles, the panels) add
// the kernel sums of r to st, a kernel state of NewRBFStats(r) (or its
// checkpoint), after adding its distance sums to the plan's state. A tile
// is then in both or neither. nil st stops it.
func (pl *Plan) SetRBF(r RBF, st *estimator.Stats) error {
	if st == nil {
		pl.eng.p.rbf = nil
		return nil
	}
	c, err := pl.rbf(r)
	if err != nil {
		return err
	}
	if st.K() != len(c.spaces) || st.N() != pl.n {
		return fmt.Errorf("a kernel state of %d spaces and %d samples, want %d and %d: %w", st.K(), st.N(), len(c.spaces), pl.n, ErrRBF)
	}
	for i, v := range c.shift {
		if st.Shift(i) != v || st.Scale(i) != c.scale[i] {
			return fmt.Errorf("kernel %d: the state's shift %v and scale 2^%d, the plan's %v and 2^%d: %w", i, st.Shift(i), st.Scale(i), v, c.scale[i], ErrRBF)
		}
	}
	c.st = st
	pl.eng.p.rbf = c
	// The workers' scratch is made for the plan's configuration.
	for _, sc := range pl.eng.scratches {
		sc.kv = nil
	}
	return nil
}

// MedianDistance returns the median heuristic's bandwidth of s: the lower
// median of the Euclidean distances of every pair of its first
// min(n, rows) rows (0 with fewer than 2 rows). The distances are
// computed on the rows times the power of two of the space's scale, by
// direct differences in a fixed order, so the result is the same on
// every machine and schedule that has those rows.
func MedianDistance(s Space, rows int) float64 {
	m := min(rows, s.Rows())
	if m < 2 {
		return 0
	}
	e := scaleExponent(s, min(m, meanRows))
	f := math.Ldexp(1, -e)
	dim := s.Dim
	x := make([]float64, m*dim)
	for i, v := range s.Data[:m*dim] {
		x[i] = v * f
	}
	d2 := make([]float64, 0, m*(m-1)/2)
	for i := range m {
		xi := x[i*dim : (i+1)*dim]
		for j := i + 1; j < m; j++ {
			var t float64
			for q, v := range x[j*dim : (j+1)*dim] {
				u := xi[q] - v
				t += float64(u * u)
			}
			d2 = append(d2, t)
		}
	}
	med := selectKth(d2, (len(d2)-1)/2)
	return math.Ldexp(math.Sqrt(med), e)
}

// rbfSlot is a slot's kernel tile.
type rbfSlot struct {
	tile  estimator.Tile
	rowI  [][]float64
	rowJ  [][]float64
	viewJ [][]float64
}

func (p *plan) newRBFSlot() *rbfSlot {
	k := len(p.rbf.spaces)
	ks := &rbfSlot{rowI: make([][]float64, k), rowJ: make([][]float64, k), viewJ: make([][]float64, k)}
	for i := range k {
		ks.rowI[i] = make([]float64, p.tileSize)
		ks.rowJ[i] = make([]float64, p.tileSize)
	}
	ks.tile.S = make([]float64, k*(k+1)/2)
	ks.tile.RowI = make([][]float64, k)
	return ks
}

// set points the kernel tile at ref, in the samples' numbering.
func (ks *rbfSlot) set(ref tileRef) {
	tl := &ks.tile
	tl.I0, tl.J0, tl.Diagonal = ref.gi, ref.gj, ref.diag
	tl.RowJ = nil
	if !ref.diag {
		tl.RowJ = ks.viewJ
	}
	for s := range ks.rowI {
		tl.RowI[s] = ks.rowI[s][:ref.ni]
		ks.viewJ[s] = ks.rowJ[s][:ref.nj]
	}
}

// rbfBegin readies sc to sum the kernel tile ks of ni×nj rows.
func (p *plan) rbfBegin(sc *scratch, ks *rbfSlot, ni, nj int) {
	if sc.kv == nil {
		sc.kv = make([][]float64, len(p.rbf.spaces))
		for i := range sc.kv {
			sc.kv[i] = make([]float64, max(nr*max(1, p.chunk), p.tileSize))
		}
		sc.kcol = make([]float64, nr)
	}
	sc.ks = ks
	clear(ks.tile.S)
	for i := range ks.rowI {
		clear(ks.rowI[i][:ni])
		clear(ks.rowJ[i][:nj])
	}
}

// rbfEnd completes the kernel tile, as tile completes the distance tile:
// the products doubled, and on the diagonal the row sums of both sides.
func (p *plan) rbfEnd(sc *scratch, ni int, diag bool) {
	ks := sc.ks
	sc.ks = nil
	for q := range ks.tile.S {
		ks.tile.S[q] *= 2
	}
	if diag {
		for i := range ks.rowI {
			ri, rj := ks.rowI[i][:ni], ks.rowJ[i][:ni]
			for r := range ri {
				ri[r] += rj[r]
			}
		}
	}
}

// rbfRow adds the kernel values of row i (of the tile) against the
// columns [j, j+m): dist(k) returns the m shifted distances a' of plan
// space k against them.
func (p *plan) rbfRow(sc *scratch, i, j, m int, dist func(k int) []float64) {
	c := p.rbf
	ks := sc.ks
	for a, k := range c.spaces {
		kv := sc.kv[a][:m]
		p.kernValues(a, k, dist(k)[:m], kv)
		var r float64
		rj := ks.rowJ[a][j : j+m]
		for t, w := range kv {
			r += w
			rj[t] += w
		}
		ks.rowI[a][i] += r
	}
	q := 0
	for a := range c.spaces {
		ka := sc.kv[a][:m]
		for b := a; b < len(c.spaces); b++ {
			kb := sc.kv[b][:m]
			var s float64
			for t, v := range ka {
				s += float64(v * kb[t])
			}
			ks.tile.S[q] += s
			q++
		}
	}
}

// rbfStrip adds the kernel values of the fused kernel's strip: rows
// [r0, r0+rr) of the chunk against the columns [c0, c0+ncols) of J, the
// pairs i < j only on the diagonal. The kernel strip has the layout of
// the distance strip (zero where no pair is), so the strip kernels
// accStrip and dotStrip sum it, as they sum the distances.
func (p *plan) rbfStrip(sc *scratch, r0, rr, c0, ncols int, diag bool) {
	c := p.rbf
	ks := sc.ks
	fs := sc.f
	n := rr * nr
	q := 0
	for a, k := range c.spaces {
		kb := sc.kv[a][:n]
		p.kernValues(a, k, fs.d[k][:n], kb)
		if diag || ncols < nr {
			for r := range rr {
				from := 0
				if diag {
					from = min(ncols, max(0, r0+r+1-c0))
				}
				row := kb[r*nr : (r+1)*nr]
				clear(row[:from])
				clear(row[ncols:])
			}
		}
		col := sc.kcol[:nr]
		clear(col)
		ks.tile.S[q] += p.kern.accStrip(rr, kb, ks.rowI[a][r0:r0+rr], col)
		rj := ks.rowJ[a][c0 : c0+ncols]
		for t, v := range col[:ncols] {
			rj[t] += v
		}
		q += len(c.spaces) - a
	}
	q = 0
	for a := range c.spaces {
		q++
		for b := a + 1; b < len(c.spaces); b++ {
			ks.tile.S[q] += p.kern.dotStrip(n, sc.kv[a][:n], sc.kv[b][:n])
			q++
		}
	}
}

// rbfUni adds the kernel values of row i of a univariate tile, from the
// centred panels: the distance |x_i − y_j| shifted, as the fused
// univariate kernels compute it.
func (p *plan) rbfUni(sc *scratch, i, j, nj int, diag bool) {
	for k := range p.k {
		xa, ya := sc.pi[k], sc.pj[k]
		if diag {
			ya = xa
		}
		d := sc.d[k][j:nj]
		p.absRow(d, xa[i], ya[j:nj], p.shift[k])
	}
	p.rbfRow(sc, i, j, nj-j, func(k int) []float64 { return sc.d[k][j:nj] })
}

// The constants of exp (Go's math/exp.go, from FreeBSD's e_exp.c).
const (
	expLn2Hi = 6.93147180369123816490e-01
	expLn2Lo = 1.90821492927058770002e-10
	expLog2e = 1.44269504088896338700e+00
	expP1    = 1.66666666666666657415e-01
	expP2    = -2.77777777770155933842e-03
	expP3    = 6.61375632143793436117e-05
	expP4    = -1.65339022054652515390e-06
	expP5    = 4.13813679705723846039e-08
	// expMin: below it e^x is subnormal; detExp returns 0.
	expMin = -708
)

// detExp returns e^x for x ≤ 0 (0 below −708, where e^x is subnormal),
// within 1 ulp of e^x: the algorithm of Go's pure-Go math.Exp (FreeBSD's
// e_exp.c), with every product rounded on its own (float64(·), no fused
// multiply-add) and the scaling by 2^k a multiplication, so that its bits
// are the same on every architecture, which math.Exp's assembly on amd64
// does not promise. It panics for x > 0.
func detExp(x float64) float64 {
	switch {
	case x != x:
		return x
	case x > 0:
		panic("block: detExp of a positive number")
	}
	v := [1]float64{x}
	expShifted(v[:], 0)
	return v[0]
}

// kernValues sets v to the shifted kernel values of kernel space a (plan
// space k) of the shifted distances d: by the kernel set's kernStrip (its
// assembly) for the multiple of 4 and kernStripGo for the rest, or for a
// space that sums expm1 by kernStripM1.
func (p *plan) kernValues(a, k int, d, v []float64) {
	c := p.rbf
	if u := c.unit[a]; u != 0 {
		kernStripM1(d, v, c.gamma[a], p.shift[k], c.shift[a], u, p.kernMode())
		return
	}
	m := len(d) &^ 3
	p.kern.kernStrip(d[:m], v[:m], c.gamma[a], p.shift[k], c.shift[a], p.kernMode())
	kernStripGo(d[m:], v[m:], c.gamma[a], p.shift[k], c.shift[a], p.kernMode())
}

// kernArg sets v to −g·d² of the shifted distances d (a' = d^α − ck, α
// of the mode: kernMode).
func kernArg(d, v []float64, g, ck float64, mode int) {
	v = v[:len(d)]
	switch mode {
	case 2:
		for t, x := range d {
			u := max(0, x+ck)
			u = float64(u * u)
			v[t] = -float64(g * float64(u*u))
		}
	case 0:
		for t, x := range d {
			v[t] = -float64(g * max(0, x+ck))
		}
	default:
		for t, x := range d {
			u := max(0, x+ck)
			v[t] = -float64(g * float64(u*u))
		}
	}
}

// kernStripM1 sets v to the shifted kernel values
// expm1(−g·d²)·unit − cs of the shifted distances d, as kernStripGo
// sets exp(−g·d²) − cs.
func kernStripM1(d, v []float64, g, ck, cs, unit float64, mode int) {
	kernArg(d, v, g, ck, mode)
	for i, x := range v[:len(d)] {
		v[i] = float64(detExpm1(x)*unit) - cs
	}
}

// kernStripGo sets v to the shifted kernel values exp(−g·d²) − cs of
// the shifted distances d (a' = d^α − ck, α of the mode: kernMode): the
// Go twin of kernStripAsm.
func kernStripGo(d, v []float64, g, ck, cs float64, mode int) {
	kernArg(d, v, g, ck, mode)
	expShifted(v[:len(d)], cs)
}

// kernMode is the mode of kernStrip of the plan's exponent: 0 for α = 2,
// 1 for α = 1, 2 for α = ½.
func (p *plan) kernMode() int {
	switch p.pow {
	case powTwo:
		return 0
	case powHalf:
		return 2
	}
	return 1
}

// expShifted sets each x of v (x ≤ 0, not NaN) to detExp(x) − cs: the
// loop of the kernel epilogue, detExp inlined.
func expShifted(v []float64, cs float64) {
	for i, x := range v {
		if x < expMin {
			v[i] = 0 - cs
			continue
		}
		k := int(float64(expLog2e*x) - 0.5)
		fk := float64(k)
		hi := x - float64(fk*expLn2Hi)
		lo := float64(fk * expLn2Lo)
		r := hi - lo
		t := float64(r * r)
		c := r - float64(t*(expP1+float64(t*(expP2+float64(t*(expP3+float64(t*(expP4+float64(t*expP5)))))))))
		y := 1 - ((lo - float64(r*c)/(2-c)) - hi)
		v[i] = float64(y*math.Float64frombits(uint64(1023+k)<<52)) - cs
	}
}

// The constants of expm1 (Go's math/expm1.go, from FreeBSD's s_expm1.c).
const (
	expm1Ln2X56    = 3.88162421113569373274e+01 // 56·ln 2
	expm1Ln2HalfX3 = 1.03972077083991796413e+00 // 1.5·ln 2
	expm1Ln2Half   = 3.46573590279972654709e-01 // 0.5·ln 2
	expm1Tiny      = 1.0 / (1 << 54)
	expm1Q1        = -3.33333333333331316428e-02
	expm1Q2        = 1.58730158725481460165e-03
	expm1Q3        = -7.93650757867487942473e-05
	expm1Q4        = 4.00821782732936239552e-06
	expm1Q5        = -2.01099218183624371326e-07
)

// detExpm1 returns e^x − 1 for x ≤ 0 within 1 ulp: the algorithm of Go's
// pure-Go math.Expm1 (FreeBSD's s_expm1.c) for x ≤ 0, with every product
// rounded on its own (float64(·), no fused multiply-add), so that its
// bits are the same on every architecture. It returns x for NaN and −1
// below −56·ln 2; it panics for x > 0.
func detExpm1(x float64) float64 {
	switch {
	case x != x:
		return x
	case x > 0:
		panic("block: detExpm1 of a positive number")
	case x <= -expm1Ln2X56:
		return -1
	case x > -expm1Tiny:
		return x
	}
	var c float64
	var k int
	if x < -expm1Ln2Half {
		var hi, lo float64
		if x > -expm1Ln2HalfX3 {
			hi, lo, k = x+expLn2Hi, -expLn2Lo, -1
		} else {
			k = int(float64(expLog2e*x) - 0.5)
			t := float64(k)
			hi = x - float64(t*expLn2Hi) // t·Ln2Hi is exact here
			lo = float64(t * expLn2Lo)
		}
		x = hi - lo
		c = (hi - x) - lo
	}
	hfx := float64(0.5 * x)
	hxs := float64(x * hfx)
	r1 := 1 + float64(hxs*(expm1Q1+float64(hxs*(expm1Q2+float64(hxs*(expm1Q3+float64(hxs*(expm1Q4+float64(hxs*expm1Q5)))))))))
	t := 3 - float64(r1*hfx)
	e := float64(hxs * ((r1 - t) / (6.0 - float64(x*t))))
	if k == 0 {
		return x - (float64(x*e) - hxs)
	}
	e = float64(x*(e-c)) - c
	e -= hxs
	if k == -1 {
		return float64(0.5*(x-e)) - 0.5
	}
	// k ≤ −2: e^x − 1 = 2^k·(1 − (e − x)) − 1
	y := 1 - (e - x)
	y = float64(y * math.Float64frombits(uint64(1023+k)<<52))
	return y - 1
}

// KernelUnknown reports whether the kernel state st of RBF r (its space
// i) holds a kernel whose values float64 could not hold: every kernel
// value of the space below about 2^−450 (its shifted product sum S'_ii
// below 2^−900 with a shift below 2^−450), where off-diagonal values
// underflow to 0 (below e^−708) or their products do. Otherwise the
// parts float64 lost are below 2^−1000 of S'_ii for any n ≤ 2^31, and
// the statistics keep 1e-10 of their value.
func KernelUnknown(st *estimator.Stats, i int) bool {
	return st.Scale(i) == 0 && math.Abs(st.Shift(i)) < 0x1p-450 && st.S(i, i) < 0x1p-900
}
