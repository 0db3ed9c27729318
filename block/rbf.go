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
	st     *estimator.Stats
}

// rbf resolves r on pl: γ and the shifts, or an error.
func (pl *Plan) rbf(r RBF) (*rbfConf, error) {
	p := pl.eng.p
	if err := RBFApplies(Options{Exponent: p.alpha, Precision: p.prec}); err != nil {
		return nil, err
	}
	if len(r.Spaces) == 0 || len(r.Sigma) != len(r.Spaces) {
		return nil, fmt.Errorf("%d spaces, %d bandwidths: %w", len(r.Spaces), len(r.Sigma), ErrRBF)
	}
	c := &rbfConf{spaces: slices.Clone(r.Spaces), gamma: make([]float64, len(r.Spaces)), shift: make([]float64, len(r.Spaces))}
	for i, k := range r.Spaces {
		if k < 0 || k >= p.k {
			return nil, fmt.Errorf("space %d of %d: %w", k, p.k, ErrRBF)
		}
		s := r.Sigma[i]
		g := math.Ldexp(1/(2*s*s), 2*p.scaleExp[k])
		if !(s > 0) || math.IsInf(g, 0) || !(g > 0) {
			return nil, fmt.Errorf("space %d: bandwidth σ = %v out of range: %w", k, s, ErrRBF)
		}
		c.gamma[i] = g
		c.shift[i] = roundBits(detExp(-float64(g*p.squared(p.shift[k]))), roundingBits)
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
	return estimator.New(len(c.spaces), pl.n, 1, c.shift, nil), nil
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
		if st.Shift(i) != v || st.Scale(i) != 0 {
			return fmt.Errorf("kernel %d: the state's shift %v, the plan's %v: %w", i, st.Shift(i), v, ErrRBF)
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
			sc.kv[i] = make([]float64, max(nr, p.tileSize))
		}
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
		g, ck, cs := c.gamma[a], p.shift[k], c.shift[a]
		var r float64
		rj := ks.rowJ[a][j : j+m]
		for t, v := range dist(k)[:m] {
			d2 := p.squared(max(0, v+ck))
			w := detExp(-float64(g*d2)) - cs
			kv[t] = w
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
// pairs i < j only on the diagonal.
func (p *plan) rbfStrip(sc *scratch, r0, rr, c0, ncols int, diag bool) {
	fs := sc.f
	for r := range rr {
		i := r0 + r
		from := 0
		if diag {
			from = max(0, i+1-c0)
		}
		if from >= ncols {
			continue
		}
		p.rbfRow(sc, i, c0+from, ncols-from, func(k int) []float64 {
			return fs.d[k][r*nr+from : r*nr+ncols]
		})
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

// detExp returns e^x for x ≤ 0 (0 below −708, where e^x is subnormal),
// within 1 ulp of e^x: the algorithm of Go's pure-Go math.Exp (FreeBSD's
// e_exp.c), with every product rounded on its own (float64(·), no fused
// multiply-add) and the scaling by 2^k a multiplication, so that its bits
// are the same on every architecture, which math.Exp's assembly on amd64
// does not promise.
func detExp(x float64) float64 {
	const (
		ln2Hi = 6.93147180369123816490e-01
		ln2Lo = 1.90821492927058770002e-10
		log2e = 1.44269504088896338700e+00
		p1    = 1.66666666666666657415e-01
		p2    = -2.77777777770155933842e-03
		p3    = 6.61375632143793436117e-05
		p4    = -1.65339022054652515390e-06
		p5    = 4.13813679705723846039e-08
	)
	switch {
	case x != x:
		return x
	case x > 0:
		panic("block: detExp of a positive number")
	case x < -708:
		return 0
	case x == 0:
		return 1
	}
	k := int(float64(log2e*x) - 0.5)
	fk := float64(k)
	hi := x - float64(fk*ln2Hi)
	lo := float64(fk * ln2Lo)
	r := hi - lo
	t := float64(r * r)
	c := r - float64(t*(p1+float64(t*(p2+float64(t*(p3+float64(t*(p4+float64(t*p5)))))))))
	y := 1 - ((lo - float64(r*c)/(2-c)) - hi)
	return float64(y * math.Float64frombits(uint64(1023+k)<<52))
}
