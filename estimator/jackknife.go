package estimator

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Jackknife holds the per-row sums of the exact delete-one jackknife of a
// complete state (DESIGN §5). Removing sample i changes the sums by known
// amounts,
//
//	T_k(−i)  = T_k − 2·r^k_i
//	S_kl(−i) = S_kl − 2·s^kl_i,          s^kl_i = sum_j a^k_ij a^l_ij
//	Q_kl(−i) = Q_kl − r^k_i r^l_i − w^kl_i − w^lk_i + s^kl_i,
//	                                     w^kl_i = sum_m a^k_im r^l_m
//
// (all of the shifted distances a' and row sums r' of the state, for which
// the same algebra holds), so every statistic θ has its n leave-one-out
// values θ(−i) without n refits, and
//
//	SE(θ)    = sqrt((n−1)/n · sum_i (θ(−i) − θ̄)²)
//	cov(θ,φ) = (n−1)/n · sum_i (θ(−i) − θ̄)(φ(−i) − φ̄)
//
// (Efron & Stein 1981). s and w come from one more pass over the tiles
// (block.Jackknife) and are added exactly, as the state's sums are. The
// leave-one-out U and V numerators are evaluated in double-double from the
// exact sums rounded to 106 bits, so θ(−i) − θ̄, of the size θ/n, keeps
// about 16 − log10(n) digits.
//
// Memory: 8·w bytes per sample for each s^kl (k ≤ l) and each w^kl.
// A Jackknife is not safe for concurrent use.
type Jackknife struct {
	st   *Stats // nil for a decoded Jackknife until SetStats
	k, n int
	s    []bank // per pair k ≤ l (PairIndex): s^kl_i
	w    []bank // per ordered pair, index k·K + l: w^kl_i
}

// NewJackknife returns empty per-row sums for the complete state st,
// which it keeps and reads (st must not change while the Jackknife is in
// use).
func NewJackknife(st *Stats) *Jackknife {
	k := st.k
	j := &Jackknife{st: st, k: k, n: st.n, s: make([]bank, k*(k+1)/2), w: make([]bank, k*k)}
	for i := range j.s {
		j.s[i] = newBank(st.n)
	}
	for i := range j.w {
		j.w[i] = newBank(st.n)
	}
	return j
}

// JackTile is the contribution of the pairs of a tile (see Tile) to the
// per-row sums: SI[PairIndex(K,k,l)][i−I0] = sum_{j in J} a'^k_ij a'^l_ij,
// SJ likewise for the rows J, WI[k·K+l][i−I0] = sum_{j in J} a'^k_ij r'^l_j
// and WJ[k·K+l][j−J0] = sum_{i in I} a'^k_ij r'^l_i. A diagonal tile (J = I)
// holds the sums over j != i in SI and WI, and SJ, WJ are nil.
type JackTile struct {
	I0, J0   int
	Diagonal bool
	SI, SJ   [][]float64
	WI, WJ   [][]float64
}

// AddTile adds t exactly. It returns an error wrapping ErrOverflow for a
// value that is not finite. It panics if t does not fit.
func (j *Jackknife) AddTile(t *JackTile) error {
	k := j.k
	if len(t.SI) != len(j.s) || len(t.WI) != len(j.w) || !t.Diagonal && (len(t.SJ) != len(j.s) || len(t.WJ) != len(j.w)) {
		panic("estimator: jackknife tile does not match the state's spaces")
	}
	for _, side := range [][][]float64{t.SI, t.SJ, t.WI, t.WJ} {
		for _, r := range side {
			for _, v := range r {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return fmt.Errorf("jackknife tile at rows %d, %d: %v: %w", t.I0, t.J0, v, ErrOverflow)
				}
			}
		}
	}
	for p := range j.s {
		checkRows(j.n, t.I0, len(t.SI[p]))
		j.s[p].addSlice(t.I0, t.SI[p])
		if !t.Diagonal {
			checkRows(j.n, t.J0, len(t.SJ[p]))
			j.s[p].addSlice(t.J0, t.SJ[p])
		}
	}
	for p := range k * k {
		checkRows(j.n, t.I0, len(t.WI[p]))
		j.w[p].addSlice(t.I0, t.WI[p])
		if !t.Diagonal {
			checkRows(j.n, t.J0, len(t.WJ[p]))
			j.w[p].addSlice(t.J0, t.WJ[p])
		}
	}
	return nil
}

// Merge adds o, the per-row sums of other tiles of the same state, to j.
// o is not modified.
func (j *Jackknife) Merge(o *Jackknife) error {
	if o.k != j.k || o.n != j.n {
		return fmt.Errorf("jackknife of %d spaces, %d samples vs %d, %d: %w", o.k, o.n, j.k, j.n, ErrIncompatible)
	}
	for i := range j.s {
		j.s[i].merge(&o.s[i])
	}
	for i := range j.w {
		j.w[i].merge(&o.w[i])
	}
	return nil
}

// ddOf returns d rounded to a double-double.
func ddOf(d *dyadic) dd {
	hi := d.float()
	lo := d.add(dyadicOf(hi).scale(-1)).float()
	return dd{hi, lo}
}

// pairTerms are the double-double sums of one pair (k, l) of spaces.
type pairTerms struct {
	k, l   int
	s, q   dd
	tk, tl dd
	ck, cl float64
}

func (j *Jackknife) terms(k, l int) pairTerms {
	st := j.st
	ev := st.eval()
	return pairTerms{k: k, l: l, s: ddOf(st.s.value(PairIndex(st.k, k, l))), q: ddOf(st.q(k, l)),
		tk: ddOf(ev.t[k]), tl: ddOf(ev.t[l]), ck: st.shift[k], cl: st.shift[l]}
}

// looRow holds the per-row inputs of sample i for one pair.
type looRow struct{ s, wkl, wlk, rk, rl float64 }

func (j *Jackknife) row(pt *pairTerms, i int) looRow {
	st := j.st
	k := st.k
	return looRow{
		s:   j.s[PairIndex(k, pt.k, pt.l)].float(i),
		wkl: j.w[pt.k*k+pt.l].float(i),
		wlk: j.w[pt.l*k+pt.k].float(i),
		rk:  st.rows[pt.k].float(i),
		rl:  st.rows[pt.l].float(i),
	}
}

// loo returns U_kl(−i) and V²_kl(−i) (scaled units) from the pair's terms
// and sample i's row.
func (pt *pairTerms) loo(r looRow, n int) (u, v float64) {
	m := float64(n - 1)
	s := pt.s.add(dd{-2 * r.s, 0})
	rkrl := prod(r.rk, r.rl)
	q := pt.q.add(rkrl.neg()).addF(-r.wkl).addF(-r.wlk).addF(r.s)
	tk := pt.tk.addF(-2 * r.rk)
	tl := pt.tl.addF(-2 * r.rl)
	tt := tk.mul(tl)
	// U·m(m−1)(m−2)(m−3) = (m−1)(m−2)S − 2(m−1)Q + T_k T_l
	nu := s.mulF((m - 1) * (m - 2)).add(q.mulF(-2 * (m - 1))).add(tt)
	du := prod(m, m-1).mulF(m - 2).mulF(m - 3)
	u = nu.div(du)
	// V·m⁴ = m²S − 2mQ + T_kT_l + m(c_l T_k + c_k T_l) + (m³ − m²)c_k c_l
	nv := s.mulF(m * m).add(q.mulF(-2 * m)).add(tt).add(tk.mulF(pt.cl).add(tl.mulF(pt.ck)).mulF(m)).add(prod(pt.ck, pt.cl).mulF(m * m).mulF(m - 1))
	v = nv.div(prod(m*m, m*m))
	return u, v
}

// JackknifeSE holds delete-one jackknife standard errors of a pair's
// statistics (0 when n < 5, where the leave-one-out U-statistics are
// undefined).
type JackknifeSE struct {
	DCor, DCorSq, BCDCor, DCovU float64
}

// stat is one statistic of the leave-one-out values.
type stat func(u, v map[[2]int]float64) float64

// series returns, for each statistic, the n leave-one-out values are not
// kept: it returns their means and the matrix of their cross products
// (n−1)/n·sum_i (θ_a(−i) − θ̄_a)(θ_b(−i) − θ̄_b), in two passes over i.
func (j *Jackknife) series(pairs [][2]int, stats []stat) (mean []float64, cov [][]float64) {
	n := j.st.n
	terms := make([]pairTerms, len(pairs))
	for p, kl := range pairs {
		terms[p] = j.terms(kl[0], kl[1])
	}
	u, v := map[[2]int]float64{}, map[[2]int]float64{}
	eval := func(i int, out []float64) {
		for p := range pairs {
			uu, vv := terms[p].loo(j.row(&terms[p], i), n)
			u[pairs[p]], v[pairs[p]] = uu, vv
		}
		for a, f := range stats {
			out[a] = f(u, v)
		}
	}
	mean = make([]float64, len(stats))
	vals := make([]float64, len(stats))
	for i := range n {
		eval(i, vals)
		for a, x := range vals {
			mean[a] += x
		}
	}
	for a := range mean {
		mean[a] /= float64(n)
	}
	cov = make([][]float64, len(stats))
	for a := range cov {
		cov[a] = make([]float64, len(stats))
	}
	for i := range n {
		eval(i, vals)
		for a := range vals {
			da := vals[a] - mean[a]
			for b := a; b < len(vals); b++ {
				cov[a][b] += da * (vals[b] - mean[b])
			}
		}
	}
	f := float64(n-1) / float64(n)
	for a := range cov {
		for b := a; b < len(cov); b++ {
			cov[a][b] *= f
			cov[b][a] = cov[a][b]
		}
	}
	return mean, cov
}

func ordered(a, b int) [2]int {
	if a > b {
		a, b = b, a
	}
	return [2]int{a, b}
}

func rstarOf(u map[[2]int]float64, x, y int) float64 {
	return rstar(u[ordered(x, y)], max(u[ordered(x, x)], 0), max(u[ordered(y, y)], 0))
}

func dcorSqOf(v map[[2]int]float64, x, y int) float64 {
	vxx, vyy := max(v[ordered(x, x)], 0), max(v[ordered(y, y)], 0)
	den := geomean(vxx, vyy)
	if !(den > 0) {
		return 0
	}
	return math.Min(max(v[ordered(x, y)], 0)/den, 1)
}

// Pair returns the jackknife standard errors of dcor, dcor², bcdcor and
// dcov_u (in the units of the data) of spaces x and y.
func (j *Jackknife) Pair(x, y int) JackknifeSE {
	j.bound()
	j.st.checkSpace(x)
	j.st.checkSpace(y)
	if j.st.n < 5 {
		return JackknifeSE{}
	}
	pairs := [][2]int{ordered(x, y), {x, x}, {y, y}}
	f, _ := j.st.unscale(1, x, y, 1)
	_, cov := j.series(pairs, []stat{
		func(u, v map[[2]int]float64) float64 { return math.Sqrt(dcorSqOf(v, x, y)) },
		func(u, v map[[2]int]float64) float64 { return dcorSqOf(v, x, y) },
		func(u, v map[[2]int]float64) float64 { return rstarOf(u, x, y) },
		func(u, v map[[2]int]float64) float64 { return u[ordered(x, y)] },
	})
	return JackknifeSE{DCor: math.Sqrt(cov[0][0]), DCorSq: math.Sqrt(cov[1][1]), BCDCor: math.Sqrt(cov[2][2]), DCovU: f * math.Sqrt(cov[3][3])}
}

// PartialSE returns the jackknife standard error of pdcor(x, y; z).
func (j *Jackknife) PartialSE(x, y, z int) float64 {
	j.bound()
	for _, k := range []int{x, y, z} {
		j.st.checkSpace(k)
	}
	if j.st.n < 5 {
		return 0
	}
	pairs := [][2]int{ordered(x, y), ordered(x, z), ordered(y, z), {x, x}, {y, y}, {z, z}}
	_, cov := j.series(pairs, []stat{func(u, v map[[2]int]float64) float64 {
		rxy, rxz, ryz := rstarOf(u, x, y), rstarOf(u, x, z), rstarOf(u, y, z)
		dxz, dyz := 1-rxz*rxz, 1-ryz*ryz
		if dxz <= nearOne || dyz <= nearOne {
			return 0
		}
		return math.Max(-1, math.Min(1, (rxy-rxz*ryz)/math.Sqrt(dxz*dyz)))
	}})
	return math.Sqrt(cov[0][0])
}

// BCDCorCov returns the jackknife covariance of the bcdcor of the given
// pairs of spaces (entries of a matrix, say, in any order): cov[a][b] for
// entries a and b, whose diagonal is the squared standard errors. The SE
// of a difference of two entries, as between two layers' closeness to
// the same space, is sqrt(cov[a][a] + cov[b][b] − 2·cov[a][b]).
func (j *Jackknife) BCDCorCov(entries [][2]int) [][]float64 {
	j.bound()
	seen := map[[2]int]bool{}
	var pairs [][2]int
	add := func(p [2]int) {
		if !seen[p] {
			seen[p] = true
			pairs = append(pairs, p)
		}
	}
	stats := make([]stat, len(entries))
	for e, xy := range entries {
		x, y := xy[0], xy[1]
		j.st.checkSpace(x)
		j.st.checkSpace(y)
		add(ordered(x, y))
		add([2]int{x, x})
		add([2]int{y, y})
		stats[e] = func(u, v map[[2]int]float64) float64 { return rstarOf(u, x, y) }
	}
	if j.st.n < 5 {
		cov := make([][]float64, len(entries))
		for a := range cov {
			cov[a] = make([]float64, len(entries))
		}
		return cov
	}
	_, cov := j.series(pairs, stats)
	return cov
}

// bound panics if j is bound to no state.
func (j *Jackknife) bound() {
	if j.st == nil {
		panic("estimator: jackknife of no state (see SetStats)")
	}
}

// SetStats binds a decoded Jackknife to st, the complete state whose
// per-row sums it holds (its Pair, PartialSE and BCDCorCov read st). It
// returns an error wrapping ErrIncompatible if st has another number of
// spaces or samples.
func (j *Jackknife) SetStats(st *Stats) error {
	if st.k != j.k || st.n != j.n {
		return fmt.Errorf("jackknife of %d spaces and %d samples, state of %d and %d: %w", j.k, j.n, st.k, st.n, ErrIncompatible)
	}
	j.st = st
	return nil
}

// Bytes returns the memory of j's per-row sums now: 8·w bytes per sample
// and sum, w the 64-bit limbs a row of that sum takes (about 3 for
// distances of one scale).
func (j *Jackknife) Bytes() int64 {
	var b int64
	for _, bk := range append(append([]bank(nil), j.s...), j.w...) {
		b += 8 * int64(bk.w) * int64(bk.rows)
	}
	return b
}

// JackknifeBytes estimates the memory of the per-row sums of a Jackknife
// of k spaces and n samples, k(k+1)/2 + k² sums of n rows, at 4 limbs a
// row (the headroom Bytes reaches for distances spanning 2^64 scales).
func JackknifeBytes(k, n int) int64 {
	return 32 * int64(k*(k+1)/2+k*k) * int64(n)
}

const (
	jackMagic   = "DCJK"
	jackVersion = 1
)

// MarshalBinary encodes j's per-row sums, version 1, all numbers little
// endian:
//
//	bytes 0..3   magic "DCJK"
//	byte  4      version (1)
//	uvarint      k, the number of spaces (1..4096)
//	uvarint      n, the number of samples
//	bank         s^kl, k(k+1)/2 banks of n rows in PairIndex order
//	bank         w^kl, k² banks of n rows, index k·K + l
//	uint32       CRC-32C (Castagnoli) of every byte before it
//
// with the banks of Stats.MarshalBinary in their least form, so equal
// sums have equal bytes. The state it belongs to is not encoded.
func (j *Jackknife) MarshalBinary() ([]byte, error) {
	b := []byte(jackMagic)
	b = append(b, jackVersion)
	b = binary.AppendUvarint(b, uint64(j.k))
	b = binary.AppendUvarint(b, uint64(j.n))
	for i := range j.s {
		b = j.s[i].appendTo(b)
	}
	for i := range j.w {
		b = j.w[i].appendTo(b)
	}
	return seal(b), nil
}

// UnmarshalBinary decodes an encoding of MarshalBinary into j, which is
// then bound to no state (see SetStats). On error j is unchanged and the
// error wraps ErrCorrupt or ErrVersion.
func (j *Jackknife) UnmarshalBinary(data []byte) error {
	d, err := open(data, jackMagic, jackVersion, "jackknife")
	if err != nil {
		return err
	}
	k, n, err := d.shape(maxSpaces, 1<<48)
	if err != nil {
		return err
	}
	out := Jackknife{k: k, n: n, s: make([]bank, k*(k+1)/2), w: make([]bank, k*k)}
	for i := range out.s {
		if out.s[i], err = d.bank(int(n), "jackknife product sums"); err != nil {
			return err
		}
	}
	for i := range out.w {
		if out.w[i], err = d.bank(int(n), "jackknife weighted sums"); err != nil {
			return err
		}
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%d bytes after the last bank: %w", len(d.b), ErrCorrupt)
	}
	*j = out
	return nil
}
