package estimator_test

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"

	"github.com/dcor-stream/dcor-stream/block"
	"github.com/dcor-stream/dcor-stream/estimator"
)

// refPrec is the precision of the brute-force reference: far beyond the
// cancellation of any case below (an outlier 10^15 times the spread
// squares to 10^30).
const refPrec = 400

func bf(x float64) *big.Float { return new(big.Float).SetPrec(refPrec).SetFloat64(x) }
func bnew() *big.Float        { return new(big.Float).SetPrec(refPrec) }

// refDist returns the Euclidean distance matrix of the rows of the
// spaces (each row-major with dim values per row), in big.Float from the
// float64 inputs taken exactly.
func refDist(data []float64, dim, n int) [][]*big.Float {
	d := make([][]*big.Float, n)
	for i := range n {
		d[i] = make([]*big.Float, n)
		for j := range n {
			s := bnew()
			for q := range dim {
				t := bnew().Sub(bf(data[i*dim+q]), bf(data[j*dim+q]))
				s.Add(s, bnew().Mul(t, t))
			}
			d[i][j] = bnew().Sqrt(s)
			if s.Sign() == 0 {
				d[i][j] = bnew()
			}
		}
	}
	return d
}

// refCentred returns the U-centred (u) or double-centred (!u) matrix of
// the distances d restricted to the samples idx, by the definitions:
//
//	Ã_ij = a_ij − a_i./(m−2) − a_.j/(m−2) + a../((m−1)(m−2))   (i != j; Ã_ii = 0)
//	A_ij = a_ij − a_i./m − a_.j/m + a../m²
func refCentred(d [][]*big.Float, idx []int, u bool) [][]*big.Float {
	m := len(idx)
	row := make([]*big.Float, m)
	tot := bnew()
	for a, i := range idx {
		row[a] = bnew()
		for _, j := range idx {
			row[a].Add(row[a], d[i][j])
		}
		tot.Add(tot, row[a])
	}
	fm := float64(m)
	dr, dt := fm, fm*fm
	if u {
		dr, dt = fm-2, (fm-1)*(fm-2)
	}
	out := make([][]*big.Float, m)
	for a, i := range idx {
		out[a] = make([]*big.Float, m)
		for b, j := range idx {
			if u && a == b {
				out[a][b] = bnew()
				continue
			}
			v := bnew().Set(d[i][j])
			v.Sub(v, bnew().Quo(row[a], bf(dr)))
			v.Sub(v, bnew().Quo(row[b], bf(dr)))
			v.Add(v, bnew().Quo(tot, bf(dt)))
			out[a][b] = v
		}
	}
	return out
}

// refInner returns sum_ij A_ij B_ij / (m(m−3)) (U) or / m² (V).
func refInner(a, b [][]*big.Float, u bool) *big.Float {
	m := float64(len(a))
	s := bnew()
	for i := range a {
		for j := range a {
			s.Add(s, bnew().Mul(a[i][j], b[i][j]))
		}
	}
	if u {
		return s.Quo(s, bf(m*(m-3)))
	}
	return s.Quo(s, bf(m*m))
}

// refStats are the statistics of the samples idx: dcor (V), bcdcor (U)
// of spaces 0 and 1, and pdcor(0, 1; 2) when there are three spaces.
type refStats struct{ dcor, bcdcor, pdcor *big.Float }

func refOf(d [][][]*big.Float, idx []int) refStats {
	k := len(d)
	uc, vc := make([][][]*big.Float, k), make([][][]*big.Float, k)
	for s := range d {
		uc[s], vc[s] = refCentred(d[s], idx, true), refCentred(d[s], idx, false)
	}
	ratio := func(xy, xx, yy *big.Float) *big.Float {
		den := bnew().Mul(xx, yy)
		if den.Sign() <= 0 {
			return bnew()
		}
		return bnew().Quo(xy, bnew().Sqrt(den))
	}
	rs := func(x, y int) *big.Float {
		return ratio(refInner(uc[x], uc[y], true), refInner(uc[x], uc[x], true), refInner(uc[y], uc[y], true))
	}
	var r refStats
	if len(idx) < 4 { // U undefined: bcdcor and pdcor stay nil
		dsq := ratio(refInner(vc[0], vc[1], false), refInner(vc[0], vc[0], false), refInner(vc[1], vc[1], false))
		r.dcor = bnew()
		if dsq.Sign() > 0 {
			r.dcor.Sqrt(dsq)
		}
		return r
	}
	dsq := ratio(refInner(vc[0], vc[1], false), refInner(vc[0], vc[0], false), refInner(vc[1], vc[1], false))
	r.dcor = bnew()
	if dsq.Sign() > 0 {
		r.dcor.Sqrt(dsq)
	}
	r.bcdcor = rs(0, 1)
	if k == 3 {
		rxy, rxz, ryz := rs(0, 1), rs(0, 2), rs(1, 2)
		one := bf(1)
		dxz := bnew().Sub(one, bnew().Mul(rxz, rxz))
		dyz := bnew().Sub(one, bnew().Mul(ryz, ryz))
		num := bnew().Sub(rxy, bnew().Mul(rxz, ryz))
		r.pdcor = bnew().Quo(num, bnew().Sqrt(bnew().Mul(dxz, dyz)))
	}
	return r
}

// refJackSE returns sqrt((n−1)/n · sum_i (θ(−i) − θ̄)²) of the values.
func refJackSE(v []*big.Float) float64 {
	n := float64(len(v))
	mean := bnew()
	for _, x := range v {
		mean.Add(mean, x)
	}
	mean.Quo(mean, bf(n))
	ss := bnew()
	for _, x := range v {
		t := bnew().Sub(x, mean)
		ss.Add(ss, bnew().Mul(t, t))
	}
	ss.Mul(ss, bf((n-1)/n))
	f, _ := bnew().Sqrt(ss).Float64()
	return f
}

// TestJackknifeRefits: dcor_se, bcdcor_se and pdcor_se of the exact
// jackknife (block.Jackknife's per-row sums, estimator.Jackknife's
// leave-one-out values) equal n brute-force delete-one refits, each
// statistic computed by its definition in 400-bit arithmetic from the
// float64 inputs, to 1e-9 — on the adversarial families: one row 10^3 to
// 10^15 times the spread out, shifts to 10^12, scales 2^±996 (about
// 1e±300), integer ties, n = 5 to 12, several tile sizes. The data are
// such that the tool's float64 distances are exact (differences of
// values on a common power-of-two grid), so that the reference is the
// exact answer for the tool's inputs; bcdcor itself is checked first.
// Before the leave-one-out sums were formed exactly, an outlier of 10^9
// gave bcdcor_se 0.93 for 0.106.
func TestJackknifeRefits(t *testing.T) {
	rng := rand.New(rand.NewPCG(22, 1))
	type tc struct {
		name  string
		n     int
		dims  []int
		gen   func(n int, sp [][]float64, dims []int)
		tiles []int
	}
	// grid draws integers of [−8, 8] times 2^−3 (every difference exact).
	grid := func(n int, sp [][]float64, dims []int) {
		for k := range sp {
			for i := range sp[k] {
				sp[k][i] = float64(rng.IntN(17)-8) / 8
			}
		}
		for i := range n { // y depends on x
			sp[1][i*dims[1]] += sp[0][i*dims[0]]
		}
	}
	outlier := func(at float64, space int) func(int, [][]float64, []int) {
		return func(n int, sp [][]float64, dims []int) {
			grid(n, sp, dims)
			sp[space][7*dims[space]] = at
		}
	}
	shifted := func(by float64) func(int, [][]float64, []int) {
		return func(n int, sp [][]float64, dims []int) {
			grid(n, sp, dims)
			for k := range sp {
				for i := range sp[k] {
					sp[k][i] += by
				}
			}
		}
	}
	scale := func(e int, base func(int, [][]float64, []int)) func(int, [][]float64, []int) {
		return func(n int, sp [][]float64, dims []int) {
			base(n, sp, dims)
			for k := range sp {
				for i := range sp[k] {
					sp[k][i] = math.Ldexp(sp[k][i], e)
				}
			}
		}
	}
	ties := func(n int, sp [][]float64, dims []int) {
		for k := range sp {
			for i := range sp[k] {
				sp[k][i] = float64(rng.IntN(3))
			}
		}
		for i := range n {
			sp[1][i*dims[1]] += sp[0][i*dims[0]]
		}
	}
	var cases []tc
	for _, e := range []float64{1e3, 1e6, 1e9, 1e12, 1e15} {
		cases = append(cases,
			tc{fmt.Sprintf("outlier x %g", e), 10, []int{1, 1}, outlier(e, 0), []int{256, 4}},
			tc{fmt.Sprintf("outlier x %g, z", e), 11, []int{1, 1, 1}, outlier(e, 0), []int{256, 3}},
			tc{fmt.Sprintf("outlier z %g", e), 9, []int{1, 1, 1}, outlier(e, 2), []int{256}})
	}
	for _, by := range []float64{1e3, 1e6, 1e9, 1e12} {
		cases = append(cases, tc{fmt.Sprintf("shift %g", by), 10, []int{1, 1, 1}, shifted(by), []int{256, 4}})
	}
	for _, e := range []int{950, -996} {
		cases = append(cases,
			tc{fmt.Sprintf("scale 2^%d", e), 9, []int{1, 1, 1}, scale(e, grid), []int{256}},
			tc{fmt.Sprintf("scale 2^%d, outlier 1e12", e), 10, []int{1, 1}, scale(e, outlier(1e12, 0)), []int{256, 4}})
	}
	cases = append(cases,
		tc{"ties", 12, []int{1, 1, 1}, ties, []int{256, 5}},
		tc{"n = 5", 5, []int{1, 1, 1}, grid, []int{256}},
		tc{"n = 6, 2 dims", 6, []int{2, 1, 1}, grid, []int{256}},
		tc{"n = 8, 3 dims", 8, []int{3, 2, 1}, grid, []int{256, 3}},
	)
	checked := 0
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, k := c.n, len(c.dims)
			data := make([][]float64, k)
			for s, d := range c.dims {
				data[s] = make([]float64, n*d)
			}
			c.gen(n, data, c.dims)
			spaces := make([]block.Space, k)
			dist := make([][][]*big.Float, k)
			for s, d := range c.dims {
				spaces[s] = block.Space{Data: data[s], Dim: d}
				dist[s] = refDist(data[s], d, n)
			}
			all := make([]int, n)
			for i := range all {
				all[i] = i
			}
			whole := refOf(dist, all)
			loo := make([]refStats, n)
			for i := range n {
				idx := append(append([]int(nil), all[:i]...), all[i+1:]...)
				loo[i] = refOf(dist, idx)
			}
			pick := func(f func(refStats) *big.Float) []*big.Float {
				out := make([]*big.Float, n)
				for i, r := range loo {
					out[i] = f(r)
				}
				return out
			}
			wantDCor := refJackSE(pick(func(r refStats) *big.Float { return r.dcor }))
			wantBC := refJackSE(pick(func(r refStats) *big.Float { return r.bcdcor }))
			var wantPD float64
			if k == 3 {
				wantPD = refJackSE(pick(func(r refStats) *big.Float { return r.pdcor }))
			}
			for _, ts := range c.tiles {
				opts := block.Options{TileSize: ts, Workers: 2}
				st, err := block.Compute(t.Context(), spaces, opts)
				if err != nil {
					t.Fatal(err)
				}
				bc, _ := whole.bcdcor.Float64()
				if got := st.Pair(0, 1).BCDCor; !scalar.EqualWithinAbsOrRel(got, bc, 1e-13, 1e-11) {
					t.Fatalf("tile %d: bcdcor = %.17g, want %.17g: the state itself is off", ts, got, bc)
				}
				jk, err := block.Jackknife(t.Context(), spaces, st, opts)
				if err != nil {
					t.Fatal(err)
				}
				se := jk.Pair(0, 1)
				got := []struct {
					name      string
					got, want float64
				}{
					{"dcor_se", se.DCor, wantDCor},
					{"bcdcor_se", se.BCDCor, wantBC},
				}
				if k == 3 {
					pd, ok := jk.PartialSE(0, 1, 2)
					if !ok {
						t.Fatalf("tile %d: pdcor_se undefined at n = %d", ts, n)
					}
					got = append(got, struct {
						name      string
						got, want float64
					}{"pdcor_se", pd, wantPD})
				}
				for _, g := range got {
					if !scalar.EqualWithinAbsOrRel(g.got, g.want, 1e-15, 1e-9) {
						t.Errorf("tile %d: %s = %.17g, brute-force refits %.17g (rel %.1e)", ts, g.name, g.got, g.want, math.Abs(g.got-g.want)/g.want)
					}
				}
				checked++
			}
		})
	}
	if checked == 0 {
		t.Fatal("no case checked")
	}
}

// TestJackknifeSmallN: at n = 4 the delete-one V-statistics (3 samples)
// are defined and dcor_se equals the refits; the delete-one U-statistics
// (n − 1 = 3 < 4) are not, and are flagged SEUndefined rather than given
// as a certain 0. At n = 3 the dcor of 2 samples is always 1: a true 0.
func TestJackknifeSmallN(t *testing.T) {
	x := []float64{0.1, 0.5, -1.3, 0.2, 0.8, -0.9, 2.0, 1.1}
	y := []float64{1.2, -0.4, 1.9, 0.3}
	spaces := []block.Space{{Data: x, Dim: 2}, {Data: y, Dim: 1}, {Data: y, Dim: 1}}
	st, err := block.Compute(t.Context(), spaces, block.Options{})
	if err != nil {
		t.Fatal(err)
	}
	jk, err := block.Jackknife(t.Context(), spaces, st, block.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dist := [][][]*big.Float{refDist(x, 2, 4), refDist(y, 1, 4)}
	loo := make([]*big.Float, 4)
	for i := range 4 {
		var idx []int
		for j := range 4 {
			if j != i {
				idx = append(idx, j)
			}
		}
		loo[i] = refOf(dist, idx).dcor
	}
	want := refJackSE(loo) // 0.1418 (p15)
	se := jk.Pair(0, 1)
	if !scalar.EqualWithinAbsOrRel(se.DCor, want, 1e-15, 1e-9) || se.VFlags != 0 {
		t.Errorf("n = 4: dcor_se = %v (flags %v), brute-force refits %v", se.DCor, se.VFlags, want)
	}
	if se.UFlags&estimator.SEUndefined == 0 {
		t.Errorf("n = 4: bcdcor_se = %v with flags %v, want se_undefined", se.BCDCor, se.UFlags)
	}
	if _, ok := jk.PartialSE(0, 1, 2); ok {
		t.Error("n = 4: pdcor_se defined")
	}
	if c := jk.BCDCorCov([][2]int{{0, 1}}); c != nil {
		t.Errorf("n = 4: BCDCorCov = %v, want nil", c)
	}

	spaces = []block.Space{{Data: x[:6], Dim: 2}, {Data: y[:3], Dim: 1}}
	st, err = block.Compute(t.Context(), spaces, block.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if jk, err = block.Jackknife(t.Context(), spaces, st, block.Options{}); err != nil {
		t.Fatal(err)
	}
	if se := jk.Pair(0, 1); se.DCor != 0 || se.VFlags != 0 || se.UFlags != estimator.SEUndefined {
		t.Errorf("n = 3: %+v, want dcor_se 0 (defined) and bcdcor_se undefined", se)
	}
}

// TestZeroUCentred: all samples of x but one equal. x is not constant
// (V²_xx > 0, dcor > 0) but its U-centred distance matrix is exactly 0:
// flagged zero_dvar_x_u (not zero_var_x, "constant"), with bcdcor and
// dcov_u exactly 0 (Cauchy–Schwarz: the inner product with a zero
// matrix), where dcov_u was the tile sums' rounding (−3.6e-17, p15). The
// same holds given z.
func TestZeroUCentred(t *testing.T) {
	rng := rand.New(rand.NewPCG(22, 3))
	n := 100
	x, y, z := make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range x {
		x[i] = 1
		y[i] = rng.NormFloat64()
		z[i] = y[i] + rng.NormFloat64()
	}
	x[3] = 7
	for _, ts := range []int{256, 16} {
		st, err := block.Compute(t.Context(), []block.Space{{Data: x, Dim: 1}, {Data: y, Dim: 1}, {Data: z, Dim: 1}}, block.Options{TileSize: ts})
		if err != nil {
			t.Fatal(err)
		}
		r := st.Pair(0, 1)
		if r.Flags != estimator.ZeroDVarXU || r.DCovU != 0 || r.BCDCor != 0 || r.DVarXU != 0 || !(r.DCor > 0) || r.P != 1 {
			t.Errorf("tile %d: flags %v, dcov_u %v, bcdcor %v, dvar_x_u %v, dcor %v, p %v; want zero_dvar_x_u, 0, 0, 0, > 0, 1",
				ts, r.Flags, r.DCovU, r.BCDCor, r.DVarXU, r.DCor, r.P)
		}
		q := st.Partial(0, 1, 2)
		if q.Flags&estimator.ZeroDVarXU == 0 || q.Flags&estimator.ZeroVarX != 0 || q.PDCor != 0 || q.PDCov != 0 || q.BCDCorXZ != 0 {
			t.Errorf("tile %d: partial %+v, want zero_dvar_x_u and pdcor, pdcov, bcdcor_xz 0", ts, q)
		}
		if c := st.Pair(2, 2); c.Flags != estimator.PerfectDependence {
			t.Errorf("tile %d: z against itself: flags %v", ts, c.Flags)
		}
		k := st.Pair(0, 0) // constant? no: x against itself has V > 0, U = 0
		if k.Flags&estimator.ZeroVarX != 0 {
			t.Errorf("tile %d: x against itself flagged zero_var_x", ts)
		}
	}
	// A constant space stays zero_var_x.
	c := make([]float64, n)
	st, err := block.Compute(t.Context(), []block.Space{{Data: c, Dim: 1}, {Data: y, Dim: 1}}, block.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r := st.Pair(0, 1); r.Flags != estimator.ZeroVarX || r.DCor != 0 || r.DCovU != 0 {
		t.Errorf("constant x: %+v, want zero_var_x", r)
	}
}
