package block

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/dcor-stream/dcor-stream/estimator"
)

// exact holds the statistics of spaces x, y (and z) computed by exact
// arithmetic on float64 distances (see exactReference), and the condition
// number of each: kappa = eps·sum_{i<j} |∂θ/∂a_ij|·|a_ij| over every
// space's distances, the change of θ to first order when every distance
// moves by one rounding (2^−53 relative). No float64 computation on these
// distances can be expected to do better than a small multiple of it.
type exact struct {
	dcorSq, bcdcorXY, pdcor  float64
	kDcorSq, kBcdcor, kPdcor float64
}

const refPrec = 1024

func bf(x float64) *big.Float { return new(big.Float).SetPrec(refPrec).SetFloat64(x) }

// exactReference computes dCor²(x, y), R*(x, y) and pdCor(x, y; z) exactly
// (1024-bit arithmetic, exact for these sums) from the distances
// |x_i − x_j|^α computed in float64 by direct differences of the raw rows,
// pair by pair: it never holds a distance matrix.
func exactReference(sp []Space, alpha float64) exact {
	k, n := len(sp), sp[0].Rows()
	pairs := k * (k + 1) / 2
	s := make([]*big.Float, pairs)
	for p := range s {
		s[p] = bf(0)
	}
	r := make([][]*big.Float, k)
	for c := range r {
		r[c] = make([]*big.Float, n)
		for i := range r[c] {
			r[c][i] = bf(0)
		}
	}
	a := make([]float64, k)
	tmp := bf(0)
	for i := range n {
		for j := i + 1; j < n; j++ {
			for c := range k {
				a[c] = dist(sp[c], i, j, alpha)
				r[c][i].Add(r[c][i], bf(a[c]))
				r[c][j].Add(r[c][j], bf(a[c]))
			}
			for c := range k {
				for d := c; d < k; d++ {
					tmp.Mul(bf(a[c]), bf(a[d]))
					tmp.Mul(tmp, bf(2))
					p := estimator.PairIndex(k, c, d)
					s[p].Add(s[p], tmp)
				}
			}
		}
	}
	t := make([]*big.Float, k)
	for c := range k {
		t[c] = bf(0)
		for _, v := range r[c] {
			t[c].Add(t[c], v)
		}
	}
	q := func(c, d int) *big.Float {
		z := bf(0)
		for i := range n {
			z.Add(z, new(big.Float).SetPrec(refPrec).Mul(r[c][i], r[d][i]))
		}
		return z
	}
	nf := float64(n)
	u := make([]*big.Float, pairs)
	v := make([]*big.Float, pairs)
	for c := range k {
		for d := c; d < k; d++ {
			p := estimator.PairIndex(k, c, d)
			qq := q(c, d)
			tt := new(big.Float).SetPrec(refPrec).Mul(t[c], t[d])
			// U·n(n−1)(n−2)(n−3) = (n−1)(n−2)S − 2(n−1)Q + T_c·T_d
			uu := new(big.Float).SetPrec(refPrec).Mul(s[p], bf((nf-1)*(nf-2)))
			uu.Sub(uu, new(big.Float).SetPrec(refPrec).Mul(qq, bf(2*(nf-1))))
			uu.Add(uu, tt)
			u[p] = uu
			// V·n⁴ = n²S − 2nQ + T_c·T_d
			vv := new(big.Float).SetPrec(refPrec).Mul(s[p], bf(nf*nf))
			vv.Sub(vv, new(big.Float).SetPrec(refPrec).Mul(qq, bf(2*nf)))
			vv.Add(vv, tt)
			v[p] = vv
		}
	}
	ratio := func(m []*big.Float, x, y int) float64 {
		den := new(big.Float).SetPrec(refPrec).Mul(m[estimator.PairIndex(k, x, x)], m[estimator.PairIndex(k, y, y)])
		if den.Sign() <= 0 {
			return 0
		}
		den.Sqrt(den)
		f, _ := new(big.Float).SetPrec(refPrec).Quo(m[estimator.PairIndex(k, x, y)], den).Float64()
		return f
	}
	var e exact
	e.dcorSq = ratio(v, 0, 1)
	e.bcdcorXY = ratio(u, 0, 1)
	if k == 3 {
		rxy, rxz, ryz := e.bcdcorXY, ratio(u, 0, 2), ratio(u, 1, 2)
		e.pdcor = (rxy - rxz*ryz) / math.Sqrt((1-rxz*rxz)*(1-ryz*ryz))
		kxy, kxz, kyz := kappa(sp, alpha, 0, 1, true), kappa(sp, alpha, 0, 2, true), kappa(sp, alpha, 1, 2, true)
		den := math.Sqrt((1 - rxz*rxz) * (1 - ryz*ryz))
		e.kPdcor = kxy/den + (math.Abs(ryz)+math.Abs(e.pdcor*rxz)/math.Max(1-rxz*rxz, 1e-300)*den)/den*kxz +
			(math.Abs(rxz)+math.Abs(e.pdcor*ryz)/math.Max(1-ryz*ryz, 1e-300)*den)/den*kyz
	}
	e.kBcdcor = kappa(sp, alpha, 0, 1, true)
	e.kDcorSq = kappa(sp, alpha, 0, 1, false)
	return e
}

// kappa returns the condition number of R*(x, y) (u) or dCor²(x, y) (not
// u) with respect to the distances of x and y, in float64, from the
// derivatives ∂R*/∂a_ij = 2/(n(n−3))·(b̃_ij/sqrt(U_xx U_yy) − R*·ã_ij/U_xx)
// (ã the U-centred distances; for dCor² the double-centred ones over n²),
// recentring each distance from row sums on the fly.
func kappa(sp []Space, alpha float64, x, y int, u bool) float64 {
	n := sp[0].Rows()
	nf := float64(n)
	rowSums := func(s Space) ([]float64, float64) {
		r := make([]float64, n)
		var t float64
		for i := range n {
			for j := range n {
				if i != j {
					r[i] += dist(s, i, j, alpha)
				}
			}
			t += r[i]
		}
		return r, t
	}
	rx, tx := rowSums(sp[x])
	ry, ty := rowSums(sp[y])
	centre := func(a float64, r []float64, t float64, i, j int) float64 {
		if u {
			return a - r[i]/(nf-2) - r[j]/(nf-2) + t/((nf-1)*(nf-2))
		}
		return a - r[i]/nf - r[j]/nf + t/(nf*nf)
	}
	var sxx, syy, sxy float64
	for i := range n {
		for j := range n {
			if i == j {
				if !u {
					ax, by := centre(0, rx, tx, i, i), centre(0, ry, ty, i, i)
					sxx, syy, sxy = sxx+ax*ax, syy+by*by, sxy+ax*by
				}
				continue
			}
			ax, by := centre(dist(sp[x], i, j, alpha), rx, tx, i, j), centre(dist(sp[y], i, j, alpha), ry, ty, i, j)
			sxx, syy, sxy = sxx+ax*ax, syy+by*by, sxy+ax*by
		}
	}
	if sxx <= 0 || syy <= 0 {
		return 0
	}
	rho := sxy / math.Sqrt(sxx*syy)
	var k float64
	for i := range n {
		for j := i + 1; j < n; j++ {
			a, b := dist(sp[x], i, j, alpha), dist(sp[y], i, j, alpha)
			ac, bc := centre(a, rx, tx, i, j), centre(b, ry, ty, i, j)
			ga := 2 * (bc/math.Sqrt(sxx*syy) - rho*ac/sxx)
			gb := 2 * (ac/math.Sqrt(sxx*syy) - rho*bc/syy)
			k += math.Abs(ga*a) + math.Abs(gb*b)
		}
	}
	return 0x1p-53 * k
}

// outlierSpaces returns x ~ N(0, I), y = x + noise, z ~ N(0, I) of n rows
// and dim columns, with row 0 of x moved out to m times the typical
// distance.
func outlierSpaces(rng *rand.Rand, n, dim int, m float64) []Space {
	x, y, z := make([]float64, n*dim), make([]float64, n*dim), make([]float64, n*dim)
	for i := range x {
		x[i] = rng.NormFloat64()
		y[i] = x[i] + 0.5*rng.NormFloat64()
		z[i] = 0.3*x[i] + rng.NormFloat64()
	}
	for q := range dim {
		x[q] = m * (1 + float64(q)) / math.Sqrt(float64(dim))
	}
	return []Space{{x, dim}, {y, dim}, {z, dim}}
}

// TestOutliersExact: one row of x moved out to 10^3 … 10^15 times the
// typical distance. Against exact arithmetic on the float64 distances,
// bcdcor, dcor² and pdcor are within 1e-9 relative, or within 8 times the
// condition number of the float64 distances where that is larger (from
// about 10^9 up, where moving the outlier's distances by one rounding
// already moves the result by more than 1e-9), and no degenerate flag is
// raised. Version 3 gave bcdcor 0 and zero_var_x at 10^9.
func TestOutliersExact(t *testing.T) {
	const relTol, condTol = 1e-9, 8
	rng := rand.New(rand.NewPCG(17, 5))
	for _, dim := range []int{1, 3, 20} {
		for _, e := range []int{3, 6, 9, 12, 15} {
			n := 150
			sp := outlierSpaces(rng, n, dim, math.Pow(10, float64(e)))
			name := fmt.Sprintf("dim=%d/outlier=1e%d", dim, e)
			t.Run(name, func(t *testing.T) {
				want := exactReference(sp, 1)
				st, err := Compute(t.Context(), sp, Options{TileSize: 64, Workers: 2})
				if err != nil {
					t.Fatal(err)
				}
				r, pr := st.Pair(0, 1), st.Partial(0, 1, 2)
				if r.Flags != 0 || pr.Flags != 0 {
					t.Errorf("flags %v / %v, want none", r.Flags, pr.Flags)
				}
				for _, c := range []struct {
					name            string
					got, want, cond float64
				}{
					{"dcor_sq", r.DCorSq, want.dcorSq, want.kDcorSq},
					{"bcdcor", r.BCDCor, want.bcdcorXY, want.kBcdcor},
					{"pdcor", pr.PDCor, want.pdcor, want.kPdcor},
				} {
					err := math.Abs(c.got - c.want)
					if err > relTol*math.Abs(c.want) && err > condTol*c.cond {
						t.Errorf("%s = %.17g, exact %.17g: error %.3g, beyond 1e-9 relative and %d × condition %.3g", c.name, c.got, c.want, err, condTol, c.cond)
					}
					t.Logf("%s: error %.3g (relative %.3g), condition %.3g", c.name, err, err/math.Abs(c.want), c.cond)
				}
			})
		}
	}
}

// TestScaleRange: x·10^k for k from −300 to 300, and values so small that
// many are subnormal, give the unscaled dcor, bcdcor, pdcor and p-value to
// 1e-12, with covariances scaled by 10^(2k) (or OutOfRange where that is
// beyond float64), and never NaN or a panic. Version 3 gave dcor 0 at
// 10^150, NaN at 10^151 and panicked beyond.
func TestScaleRange(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	const n, dim = 120, 4
	base := outlierSpaces(rng, n, dim, 3)
	ref, err := Compute(t.Context(), base, Options{TileSize: 32})
	if err != nil {
		t.Fatal(err)
	}
	want, wantP := ref.Pair(0, 1), ref.Partial(0, 1, 2)
	scales := []float64{1e-310, 0x1p-1030}
	for k := -300; k <= 300; k += 25 {
		scales = append(scales, math.Pow(10, float64(k)))
	}
	for _, f := range scales {
		t.Run(fmt.Sprintf("x·%g", f), func(t *testing.T) {
			sp := append([]Space(nil), base...)
			x := make([]float64, len(base[0].Data))
			for i, v := range base[0].Data {
				x[i] = v * f
			}
			sp[0] = Space{x, dim}
			st, err := Compute(t.Context(), sp, Options{TileSize: 32})
			if err != nil {
				t.Fatal(err)
			}
			got, gotP := st.Pair(0, 1), st.Partial(0, 1, 2)
			// Subnormal inputs keep fewer than 53 bits (about 44 at
			// 2^−1030), still far below the tolerance.
			const tol = 1e-12
			for _, c := range []struct {
				name      string
				got, want float64
			}{
				{"dcor", got.DCor, want.DCor}, {"bcdcor", got.BCDCor, want.BCDCor},
				{"p_value", got.P, want.P}, {"pdcor", gotP.PDCor, wantP.PDCor},
			} {
				if math.IsNaN(c.got) || math.Abs(c.got-c.want) > tol*math.Abs(c.want) {
					t.Errorf("%s = %.17g, unscaled %.17g", c.name, c.got, c.want)
				}
			}
			if got.Flags&^estimator.OutOfRange != 0 {
				t.Errorf("flags %v", got.Flags)
			}
			wantCov := want.DCovSq * f
			if got.Flags&estimator.OutOfRange == 0 && !(math.Abs(got.DCovSq-wantCov) <= 1e-9*math.Abs(wantCov)) {
				t.Errorf("dcov_sq = %g, want %g", got.DCovSq, wantCov)
			}
		})
	}
}

// FuzzExtremeValues: any finite values, from subnormal to ±MaxFloat64, in
// spaces of a few rows and columns: Compute either returns a state whose
// results hold no NaN (and no Inf but the t statistic of a perfect
// dependence), or an error; it never panics.
func FuzzExtremeValues(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8}, uint8(5), uint8(1), uint8(1))
	f.Add(make([]byte, 64), uint8(8), uint8(2), uint8(3))
	seed := make([]byte, 0, 16*8)
	for _, v := range []float64{math.MaxFloat64, -math.MaxFloat64, 1e308, -1e308, 5e-324, 1e-300, 1, 0, 1e150, 1e-150, 2.5e307, 3, 4, -5, 6, 7} {
		seed = append(seed, byte(math.Float64bits(v)), byte(math.Float64bits(v)>>8), byte(math.Float64bits(v)>>16), byte(math.Float64bits(v)>>24),
			byte(math.Float64bits(v)>>32), byte(math.Float64bits(v)>>40), byte(math.Float64bits(v)>>48), byte(math.Float64bits(v)>>56))
	}
	f.Add(seed, uint8(8), uint8(1), uint8(1))
	f.Add(seed, uint8(4), uint8(2), uint8(2))
	f.Fuzz(func(t *testing.T, raw []byte, rows, dx, dy uint8) {
		n, px, py := int(rows%12), 1+int(dx%4), 1+int(dy%4)
		need := n * (px + py)
		if need == 0 || len(raw) < 8 {
			return
		}
		vals := make([]float64, need)
		for i := range vals {
			var b uint64
			for j := range 8 {
				b |= uint64(raw[(8*i+j)%len(raw)]) << (8 * j)
			}
			v := math.Float64frombits(b ^ uint64(i)*0x9e3779b97f4a7c15)
			if math.IsNaN(v) || math.IsInf(v, 0) {
				v = float64(i)
			}
			vals[i] = v
		}
		sp := []Space{{vals[:n*px], px}, {vals[n*px:], py}, {vals[:n*px], px}}
		for _, alpha := range []float64{1, 0.5, 2} {
			st, err := Compute(t.Context(), sp, Options{Exponent: alpha, TileSize: 4, Workers: 2})
			if err != nil {
				continue
			}
			r, pr := st.Pair(0, 1), st.Partial(0, 1, 2)
			for name, v := range map[string]float64{"dcor": r.DCor, "dcor_sq": r.DCorSq, "dcov": r.DCov, "dcov_sq": r.DCovSq,
				"dvar_x_sq": r.DVarXSq, "dvar_y_sq": r.DVarYSq, "bcdcor": r.BCDCor, "dcov_u": r.DCovU, "dvar_x_u": r.DVarXU,
				"dvar_y_u": r.DVarYU, "p": r.P, "df": r.DF, "pdcor": pr.PDCor, "pdcov": pr.PDCov, "semi": pr.SemiPartial} {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("α=%v: %s = %v (n=%d)", alpha, name, v, n)
				}
			}
			if math.IsNaN(r.T) || math.IsInf(r.T, 0) && r.Flags&estimator.PerfectDependence == 0 {
				t.Fatalf("α=%v: t = %v without perfect_dependence", alpha, r.T)
			}
			if !(r.DCor >= 0 && r.DCor <= 1 && r.BCDCor >= -1 && r.BCDCor <= 1 && r.P >= 0 && r.P <= 1) {
				t.Fatalf("α=%v: out of range: %+v", alpha, r)
			}
		}
	})
}
