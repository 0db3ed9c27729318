package block

import (
	"bytes"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"

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

// checkExact compares the dcor², bcdcor and pdcor of st with want: each
// within 1e-9 relative, or within 8 times its condition number where that
// is larger (from about 10^9 up, where moving the outlier's distances by
// one rounding already moves the result by more than 1e-9), and no flag
// but those in allowed. With partial false, pdcor is left out (at n = 4,
// where U-centred matrices have two degrees of freedom, R*_yz is ±1).
func checkExact(t *testing.T, st *estimator.Stats, want exact, allowed estimator.Flags, partial bool) {
	t.Helper()
	const relTol, condTol = 1e-9, 8
	r, pr := st.Pair(0, 1), st.Partial(0, 1, 2)
	if !partial {
		pr.Flags = 0
	}
	if r.Flags&^allowed != 0 || pr.Flags&^allowed != 0 {
		t.Errorf("flags %v / %v, want none", r.Flags, pr.Flags)
	}
	cases := []struct {
		name            string
		got, want, cond float64
	}{
		{"dcor_sq", r.DCorSq, want.dcorSq, want.kDcorSq},
		{"bcdcor", r.BCDCor, want.bcdcorXY, want.kBcdcor},
		{"pdcor", pr.PDCor, want.pdcor, want.kPdcor},
	}
	if !partial {
		cases = cases[:2]
	}
	for _, c := range cases {
		err := math.Abs(c.got - c.want)
		if !(err <= relTol*math.Abs(c.want) || err <= condTol*c.cond) {
			t.Errorf("%s = %.17g, exact %.17g: error %.3g, beyond 1e-9 relative and %d × condition %.3g", c.name, c.got, c.want, err, condTol, c.cond)
		}
	}
}

// scaledSpaces returns the spaces with every value times 2^e (exact), so
// that the exact reference of the unscaled spaces is theirs too.
func scaledSpaces(sp []Space, e int) []Space {
	out := make([]Space, len(sp))
	for k, s := range sp {
		d := make([]float64, len(s.Data))
		for i, v := range s.Data {
			d[i] = math.Ldexp(v, e)
		}
		out[k] = Space{d, s.Dim}
	}
	return out
}

// TestOutliersExact: one row of x moved out to 10^3 … 10^15 times the
// typical distance, for tiles of every size from 1 row to the default and
// samples of a few rows to several tiles, gives dcor², bcdcor and pdcor
// as checkExact requires, against exact arithmetic on the float64
// distances, and raises no degenerate flag. Version 3 gave bcdcor 0 and
// zero_var_x at 10^9. Until the shifts were taken from at least 256 rows
// whatever the tile, tiles of 2 rows gave bcdcor 0 for 0.69 (n = 9, 10^12,
// the shift c_x and its yardstick v_x set by the outlier's one distance);
// until v_x was taken from double differences too, n = 4 with the
// outlier at row 1 gave −0.07 for −0.50 at tiles of 1 and 2 rows (two of
// the three leading distances the outlier's).
func TestOutliersExact(t *testing.T) {
	tiles := []int{1, 2, 3, 7, 64, 0}
	for _, dim := range []int{1, 3, 20} {
		for _, n := range []int{4, 9, 20, 150} {
			for _, e := range []int{3, 6, 9, 12, 15} {
				if n == 4 && e > 12 || testing.Short() && n == 150 && dim != 3 {
					// n = 4 at 10^15: the outlier's distances round to
					// 0.1, the others' spread; κ's float64 sums lose it.
					continue
				}
				rng := rand.New(rand.NewPCG(17, 5))
				sp := outlierSpaces(rng, n, dim, math.Pow(10, float64(e)))
				if n == 4 { // the outlier at row 1
					x := sp[0].Data
					for q := range dim {
						x[q], x[dim+q] = x[dim+q], x[q]
					}
				}
				want := exactReference(sp, 1)
				for _, tile := range tiles {
					t.Run(fmt.Sprintf("dim=%d/n=%d/outlier=1e%d/tile=%d", dim, n, e, tile), func(t *testing.T) {
						st, err := Compute(t.Context(), sp, Options{TileSize: tile, Workers: 2})
						if err != nil {
							t.Fatal(err)
						}
						checkExact(t, st, want, 0, n > 4)
					})
				}
			}
		}
	}
}

// TestOutliersShiftedScaled: the family of TestOutliersExact translated by
// 10^9 or 10^12, or scaled by 2^±1000, at tiles of 2 rows and the
// default.
func TestOutliersShiftedScaled(t *testing.T) {
	for _, dim := range []int{1, 3, 20} {
		for _, e := range []int{9, 12} {
			for _, shift := range []float64{0, 1e9, 1e12} {
				rng := rand.New(rand.NewPCG(17, 5))
				sp := outlierSpaces(rng, 20, dim, math.Pow(10, float64(e)))
				for k := range sp {
					for i := range sp[k].Data {
						sp[k].Data[i] += shift
					}
				}
				want := exactReference(sp, 1)
				for _, f := range []int{0, -1000, 900} {
					for _, tile := range []int{2, 0} {
						t.Run(fmt.Sprintf("dim=%d/outlier=1e%d/shift=%g/scale=2^%d/tile=%d", dim, e, shift, f, tile), func(t *testing.T) {
							st, err := Compute(t.Context(), scaledSpaces(sp, f), Options{TileSize: tile, Workers: 2})
							if err != nil {
								t.Fatal(err)
							}
							checkExact(t, st, want, estimator.OutOfRange, true)
						})
					}
				}
			}
		}
	}
}

// TestClusteredOutliersExact: a share of 10% to 60% of the rows moved far
// out (each to its own place, or all to one), scattered or leading, at the
// default tile and at 7 rows: checkExact's bounds hold.
func TestClusteredOutliersExact(t *testing.T) {
	if testing.Short() {
		t.Skip("exact references of 600 rows")
	}
	for _, c := range []struct {
		dim     int
		frac, m float64
		leading bool // the far rows first, else scattered
		tight   bool // all at one place, else each at its own
	}{
		{3, 0.1, 1e12, false, false}, {3, 0.3, 1e9, true, false}, {20, 0.3, 1e12, true, false},
		{1, 0.6, 1e12, true, true}, {20, 0.6, 1e9, false, true}, {3, 0.45, 1e12, true, true},
	} {
		rng := rand.New(rand.NewPCG(3, 9))
		const n = 600
		sp := outlierSpaces(rng, n, c.dim, 1)
		x := sp[0].Data
		for r := range int(c.frac * n) {
			i := r
			if !c.leading {
				i = rng.IntN(n)
			}
			for q := range c.dim {
				if c.tight {
					x[i*c.dim+q] += c.m
				} else {
					x[i*c.dim+q] = c.m * rng.NormFloat64()
				}
			}
		}
		want := exactReference(sp, 1)
		for _, tile := range []int{7, 0} {
			t.Run(fmt.Sprintf("dim=%d/frac=%g/m=%g/leading=%v/tight=%v/tile=%d", c.dim, c.frac, c.m, c.leading, c.tight, tile), func(t *testing.T) {
				st, err := Compute(t.Context(), sp, Options{TileSize: tile, Workers: 2})
				if err != nil {
					t.Fatal(err)
				}
				checkExact(t, st, want, 0, true)
			})
		}
	}
}

// TestSmallTilesWorkers: with an outlier, tiles of 1, 2 and 3 rows give
// the same state bytes on 1 and 3 workers.
func TestSmallTilesWorkers(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 5))
	sp := outlierSpaces(rng, 40, 3, 1e12)
	for _, tile := range []int{1, 2, 3} {
		var enc [2][]byte
		for w, workers := range []int{1, 3} {
			st, err := Compute(t.Context(), sp, Options{TileSize: tile, Workers: workers})
			if err != nil {
				t.Fatal(err)
			}
			if enc[w], err = st.MarshalBinary(); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(enc[0], enc[1]) {
			t.Errorf("tile %d: the states of 1 and 3 workers differ", tile)
		}
	}
}

// TestExactTileFarShift: exactTile is exact on the float64 distances
// whatever the shift. With c_k set far above the distances (10^12 times
// them) and every tile recomputed (v_k tiny), the results match the exact
// reference to 1e-12 on well-conditioned data. exactTile used to round
// a − c_k, which kept the distances only to 2^−53·c_k (10^−4 of them).
func TestExactTileFarShift(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, dim := range []int{1, 3, 20} {
		const n = 30
		sp := outlierSpaces(rng, n, dim, 1)
		want := exactReference(sp, 1)
		for _, far := range []float64{0, 1e12} {
			t.Run(fmt.Sprintf("dim=%d/shift=%g", dim, far), func(t *testing.T) {
				p := newPlan(sp, n, 1, 8, kernelAuto)
				p.setShifts()
				for k := range p.k {
					p.shift[k] += roundBits(far*math.Sqrt(p.spread[k]), roundingBits)
					p.spread[k] = 0x1p-100
				}
				st := estimator.New(p.k, n, 1, p.shift, p.scaleExp)
				grid := (n + p.tileSize - 1) / p.tileSize
				if err := p.run(t.Context(), st, []*scratch{p.newScratch()}, grid, &schedule{rng: Range{0, grid * (grid + 1) / 2}}); err != nil {
					t.Fatal(err)
				}
				r, pr := st.Pair(0, 1), st.Partial(0, 1, 2)
				for _, c := range []struct {
					name      string
					got, want float64
				}{{"dcor_sq", r.DCorSq, want.dcorSq}, {"bcdcor", r.BCDCor, want.bcdcorXY}, {"pdcor", pr.PDCor, want.pdcor}} {
					if !scalar.EqualWithinAbsOrRel(c.got, c.want, 0, 1e-12) {
						t.Errorf("%s = %.17g, exact %.17g", c.name, c.got, c.want)
					}
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

// TestOnlineSmallTileOutlier: Online, fed 3 rows a batch with an outlier
// in the first batch, meets checkExact's bounds for tiles of 1 to 3 rows
// and the default. It used to fix its plan at TileSize rows, and so its
// centre and shifts from the first batch alone: bcdcor 0 for 0.67.
func TestOnlineSmallTileOutlier(t *testing.T) {
	const n, dim = 40, 3
	rng := rand.New(rand.NewPCG(17, 5))
	sp := outlierSpaces(rng, n, dim, 1e12)
	x := sp[0].Data
	for q := range dim { // the outlier at row 1
		x[q], x[dim+q] = x[dim+q], x[q]
	}
	want := exactReference(sp, 1)
	for _, tile := range []int{1, 2, 3, 0} {
		t.Run(fmt.Sprintf("tile=%d", tile), func(t *testing.T) {
			o, err := NewOnline([]int{dim, dim, dim}, Options{TileSize: tile})
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < n; i += 3 {
				b := make([]Space, len(sp))
				for k := range b {
					b[k] = Space{sp[k].Data[i*dim : min(n, i+3)*dim], dim}
				}
				if err := o.Add(t.Context(), b); err != nil {
					t.Fatal(err)
				}
			}
			checkExact(t, o.Stats(), want, 0, true)
		})
	}
}
