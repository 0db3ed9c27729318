package estimator

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
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
// leave-one-out sums are formed exactly from the exact sums (the state's
// and these), and each leave-one-out U and V is rounded once from its
// exact numerator, as the whole-sample ones are: a far row, whose s_i is
// about half of S, cancels exactly, and θ(−i) − θ̄, of the size θ/n,
// keeps about 16 − log10(n) digits.
//
// Memory: 8·w bytes per sample for each s^kl (k ≤ l) and each w^kl, and
// while an SE is computed 8 bytes per sample and statistic.
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
//
// As a Tile, a JackTile whose float64 sums would round too much (a far
// row's) can carry exact parts: after ResetExact, the values given to
// AddExactSI, AddExactSJ, AddExactWI and AddExactWJ are summed without
// rounding and added to the same sums as SI, SJ, WI and WJ (for a
// diagonal tile, SI and WI only).
//
// The zero value has no exact parts. A JackTile is not safe for
// concurrent use.
type JackTile struct {
	I0, J0   int
	Diagonal bool
	SI, SJ   [][]float64
	WI, WJ   [][]float64

	exact *jackExact // nil or off: no exact parts
}

// jackExact holds the exact parts of a jackknife tile, kept from tile to
// tile so that their memory is reused.
type jackExact struct {
	on     bool
	si, sj []bank // per pair k ≤ l
	wi, wj []bank // per ordered pair
}

// ResetExact gives t empty exact parts for k spaces, ni rows I and nj
// rows J (nj is ignored for a diagonal tile). It panics if k < 1.
func (t *JackTile) ResetExact(k, ni, nj int) {
	if k < 1 {
		panic("estimator: k < 1")
	}
	ex := t.exact
	if ex == nil || len(ex.wi) != k*k {
		p := k * (k + 1) / 2
		ex = &jackExact{si: make([]bank, p), sj: make([]bank, p), wi: make([]bank, k*k), wj: make([]bank, k*k)}
		t.exact = ex
	}
	ex.on = true
	for q := range ex.si {
		ex.si[q].reset(ni)
		ex.sj[q].reset(nj)
	}
	for q := range ex.wi {
		ex.wi[q].reset(ni)
		ex.wj[q].reset(nj)
	}
}

// NoExact drops t's exact parts, if any.
func (t *JackTile) NoExact() {
	if t.exact != nil {
		t.exact.on = false
	}
}

// AddExactSI adds x exactly to row i (counted from I0) of the product sum
// p (PairIndex order). It panics if ResetExact was not called; x must be
// finite (AddTile checks the float64 parts only).
func (t *JackTile) AddExactSI(p, i int, x float64) { t.exact.si[p].add(i, x) }

// AddExactSJ adds x exactly to row j (counted from J0) of the product sum p.
func (t *JackTile) AddExactSJ(p, j int, x float64) { t.exact.sj[p].add(j, x) }

// AddExactWI adds x exactly to row i of the weighted sum q = k·K + l.
func (t *JackTile) AddExactWI(q, i int, x float64) { t.exact.wi[q].add(i, x) }

// AddExactWJ adds x exactly to row j of the weighted sum q.
func (t *JackTile) AddExactWJ(q, j int, x float64) { t.exact.wj[q].add(j, x) }

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
	if ex := t.exact; ex != nil && ex.on {
		if len(ex.si) != len(j.s) || len(ex.wi) != len(j.w) {
			panic("estimator: jackknife tile does not match the state's spaces")
		}
		for p := range j.s {
			checkRows(j.n, t.I0, ex.si[p].rows)
			j.s[p].mergeAt(&ex.si[p], t.I0)
			if !t.Diagonal {
				checkRows(j.n, t.J0, ex.sj[p].rows)
				j.s[p].mergeAt(&ex.sj[p], t.J0)
			}
		}
		for p := range j.w {
			checkRows(j.n, t.I0, ex.wi[p].rows)
			j.w[p].mergeAt(&ex.wi[p], t.I0)
			if !t.Diagonal {
				checkRows(j.n, t.J0, ex.wj[p].rows)
				j.w[p].mergeAt(&ex.wj[p], t.J0)
			}
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

// pairSums are the exact sums of one pair (k, l) of spaces of the state.
type pairSums struct {
	k, l   int
	s, q   *dyadic // S'_kl, Q'_kl
	tk, tl *dyadic // T'_k, T'_l
	ck, cl *dyadic // c_k, c_l
}

func (j *Jackknife) sums(k, l int) pairSums {
	st := j.st
	ev := st.eval()
	return pairSums{k: k, l: l, s: st.s.value(PairIndex(st.k, k, l)), q: st.q(k, l),
		tk: ev.t[k], tl: ev.t[l], ck: dyadicOf(st.shift[k]), cl: dyadicOf(st.shift[l])}
}

// loo returns U_kl(−i) and V²_kl(−i) (scaled units) of sample i: the
// leave-one-out sums
//
//	S(−i) = S − 2s_i,  Q(−i) = Q − r^k_i r^l_i − w^kl_i − w^lk_i + s_i,  T(−i) = T − 2r_i
//
// formed exactly from the exact sums and per-row sums, and each statistic
// rounded once from its exact numerator (as Stats.U and Stats.V2 are), so
// that a row far out, whose s_i is about half of S, cancels exactly. u is
// 0 if n − 1 < 4 and v is 0 if n − 1 < 1.
func (j *Jackknife) loo(ps *pairSums, i int) (u, v float64) {
	st := j.st
	k := st.k
	si := j.s[PairIndex(k, ps.k, ps.l)].value(i)
	wkl := j.w[ps.k*k+ps.l].value(i)
	wlk := j.w[ps.l*k+ps.k].value(i)
	rk, rl := st.rows[ps.k].value(i), st.rows[ps.l].value(i)
	s := ps.s.add(si.scale(-2))
	q := ps.q.add(rk.mul(rl).add(wkl).add(wlk).scale(-1)).add(si)
	tk, tl := ps.tk.add(rk.scale(-2)), ps.tl.add(rl.scale(-2))
	tt := tk.mul(tl)
	m := int64(j.n - 1)
	if m >= 4 {
		// U·m(m−1)(m−2)(m−3) = (m−1)(m−2)S − 2(m−1)Q + T_k T_l
		nu := s.scale(m - 1).scale(m - 2).add(q.scale(-2 * (m - 1))).add(tt)
		u = nu.quo(bigProd(m, m-1, m-2, m-3))
		if ps.k == ps.l {
			u = max(u, 0)
		}
	}
	if m >= 1 {
		// V·m⁴ = m²S − 2mQ + T_kT_l + m(c_l T_k + c_k T_l) + (m³ − m²)c_k c_l
		nv := s.scale(m).scale(m).add(q.scale(-2 * m)).add(tt)
		nv = nv.add(ps.cl.mul(tk).add(ps.ck.mul(tl)).scale(m))
		nv = nv.add(ps.ck.mul(ps.cl).scale(m).scale(m).scale(m - 1))
		v = nv.quo(bigProd(m, m, m, m))
	}
	return u, v
}

// JackknifeSE holds delete-one jackknife standard errors of a pair's
// statistics. The leave-one-out V-statistics (DCor, DCorSq) are defined
// for n ≥ 3 (n − 1 ≥ 2 samples), the U-statistics (BCDCor, DCovU) for
// n ≥ 5 (n − 1 ≥ 4); an undefined SE holds 0 and is flagged SEUndefined
// in VFlags or UFlags.
type JackknifeSE struct {
	DCor, DCorSq, BCDCor, DCovU float64
	VFlags, UFlags              Flags // SEUndefined or 0
}

// loos are the leave-one-out U_kl(−i) and V²_kl(−i) of the pairs of
// spaces a statistic reads, i fixed.
type loos struct {
	at   map[[2]int]int
	u, v []float64
}

func (l *loos) U(x, y int) float64 { return l.u[l.at[ordered(x, y)]] }
func (l *loos) V(x, y int) float64 { return l.v[l.at[ordered(x, y)]] }

// stat is one statistic of the leave-one-out values.
type stat func(l *loos) float64

// series returns the jackknife covariance of the statistics,
//
//	cov_ab = (n−1)/n · sum_i (θ_a(−i) − θ̄_a)(θ_b(−i) − θ̄_b)
//
// each θ_a(−i) evaluated in float64 from the leave-one-out U and V of the
// pairs given (see loo), θ̄_a their exact mean rounded once, and the sum
// of the products of the rounded deviations exact, rounded once: the
// result does not depend on the order of the rows or on the CPU.
func (j *Jackknife) series(pairs [][2]int, stats []stat) [][]float64 {
	n := j.st.n
	sums := make([]pairSums, len(pairs))
	l := &loos{at: map[[2]int]int{}, u: make([]float64, len(pairs)), v: make([]float64, len(pairs))}
	for p, kl := range pairs {
		sums[p] = j.sums(kl[0], kl[1])
		l.at[ordered(kl[0], kl[1])] = p
	}
	vals := make([][]float64, len(stats)) // [statistic][row]
	for a := range vals {
		vals[a] = make([]float64, n)
	}
	for i := range n {
		for p := range pairs {
			l.u[p], l.v[p] = j.loo(&sums[p], i)
		}
		for a, f := range stats {
			vals[a][i] = f(l)
		}
	}
	return jackCov(vals)
}

// jackCov returns (m−1)/m · sum_i (θ_a(i) − θ̄_a)(θ_b(i) − θ̄_b) of the m
// values vals[a] of each statistic a: the mean summed exactly and rounded
// once, each deviation rounded once, their products summed exactly (as
// p + math.FMA's remainder) and the sum scaled and rounded once.
func jackCov(vals [][]float64) [][]float64 {
	cov := make([][]float64, len(vals))
	for a := range cov {
		cov[a] = make([]float64, len(vals))
	}
	if len(vals) == 0 || len(vals[0]) < 2 {
		return cov
	}
	m := int64(len(vals[0]))
	mean := make([]float64, len(vals))
	for a, v := range vals {
		b := newBank(1)
		for _, x := range v {
			b.add(0, x)
		}
		mean[a] = b.value(0).quo(big.NewInt(m))
	}
	dev := make([]float64, len(vals))
	acc := newBank(len(vals) * len(vals))
	for i := range m {
		for a := range vals {
			dev[a] = vals[a][i] - mean[a]
		}
		for a := range vals {
			for b := a; b < len(vals); b++ {
				p := dev[a] * dev[b]
				acc.add(a*len(vals)+b, p)
				acc.add(a*len(vals)+b, math.FMA(dev[a], dev[b], -p))
			}
		}
	}
	for a := range vals {
		for b := a; b < len(vals); b++ {
			c := acc.value(a*len(vals) + b).scale(m - 1).quo(big.NewInt(m))
			cov[a][b], cov[b][a] = c, c
		}
	}
	return cov
}

func ordered(a, b int) [2]int {
	if a > b {
		a, b = b, a
	}
	return [2]int{a, b}
}

func rstarOf(l *loos, x, y int) float64 {
	return rstar(l.U(x, y), max(l.U(x, x), 0), max(l.U(y, y), 0))
}

func dcorSqOf(l *loos, x, y int) float64 {
	vxx, vyy := max(l.V(x, x), 0), max(l.V(y, y), 0)
	den := geomean(vxx, vyy)
	if !(den > 0) {
		return 0
	}
	return math.Min(max(l.V(x, y), 0)/den, 1)
}

// Pair returns the jackknife standard errors of dcor, dcor², bcdcor and
// dcov_u (in the units of the data) of spaces x and y (see JackknifeSE
// for the n at which each is defined).
func (j *Jackknife) Pair(x, y int) JackknifeSE {
	j.bound()
	j.st.checkSpace(x)
	j.st.checkSpace(y)
	var se JackknifeSE
	n := j.st.n
	if n < 3 {
		se.VFlags = SEUndefined
	}
	if n < 5 {
		se.UFlags = SEUndefined
	}
	if n < 3 {
		return se
	}
	pairs := [][2]int{ordered(x, y), {x, x}, {y, y}}
	stats := []stat{
		func(l *loos) float64 { return math.Sqrt(dcorSqOf(l, x, y)) },
		func(l *loos) float64 { return dcorSqOf(l, x, y) },
	}
	if n >= 5 {
		stats = append(stats,
			func(l *loos) float64 { return rstarOf(l, x, y) },
			func(l *loos) float64 { return l.U(x, y) })
	}
	cov := j.series(pairs, stats)
	se.DCor, se.DCorSq = math.Sqrt(cov[0][0]), math.Sqrt(cov[1][1])
	if n >= 5 {
		f, _ := j.st.unscale(1, x, y, 1)
		se.BCDCor, se.DCovU = math.Sqrt(cov[2][2]), f*math.Sqrt(cov[3][3])
	}
	return se
}

// pdcorOf is pdCor(x, y; z) from the leave-one-out R* (PartialResult's
// formula), 0 where z determines x or y.
func pdcorOf(l *loos, x, y, z int) float64 {
	rxy, rxz, ryz := rstarOf(l, x, y), rstarOf(l, x, z), rstarOf(l, y, z)
	return pdcor(rxy, rxz, ryz)
}

// PartialSE returns the jackknife standard error of pdcor(x, y; z); ok is
// false, and the SE 0, if n < 5 (the leave-one-out U-statistics are
// undefined).
func (j *Jackknife) PartialSE(x, y, z int) (se float64, ok bool) {
	j.bound()
	for _, k := range []int{x, y, z} {
		j.st.checkSpace(k)
	}
	if j.st.n < 5 {
		return 0, false
	}
	pairs := [][2]int{ordered(x, y), ordered(x, z), ordered(y, z), {x, x}, {y, y}, {z, z}}
	cov := j.series(pairs, []stat{func(l *loos) float64 { return pdcorOf(l, x, y, z) }})
	return math.Sqrt(cov[0][0]), true
}

// BCDCorCov returns the jackknife covariance of the bcdcor of the given
// pairs of spaces (entries of a matrix, say, in any order): cov[a][b] for
// entries a and b, whose diagonal is the squared standard errors. The SE
// of a difference of two entries, as between two layers' closeness to
// the same space, is sqrt(cov[a][a] + cov[b][b] − 2·cov[a][b]). It
// returns nil if n < 5: the leave-one-out U-statistics are undefined.
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
		stats[e] = func(l *loos) float64 { return rstarOf(l, x, y) }
	}
	if j.st.n < 5 {
		return nil
	}
	return j.series(pairs, stats)
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
