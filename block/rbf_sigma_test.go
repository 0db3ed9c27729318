package block

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/dcor-stream/dcor-stream/estimator"
)

// TestDetExpm1: detExpm1 is within 1 ulp of math.Expm1 (itself within 1
// of e^x − 1; on amd64 the same algorithm, unfused) over x ≤ 0 from
// −2^−60 to −40, and exact at 0, for tiny x and below −56·ln 2.
func TestDetExpm1(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 7))
	worst := 0.0
	for i := range 1000000 {
		var x float64
		switch i % 3 {
		case 0:
			x = -rng.Float64() * 40
		case 1:
			x = -rng.Float64() * 2
		default:
			x = -math.Ldexp(rng.Float64(), -rng.IntN(60))
		}
		got, want := detExpm1(x), math.Expm1(x)
		ulp := math.Abs(math.Nextafter(want, math.Inf(1)) - want)
		if d := math.Abs(got-want) / ulp; d > worst {
			worst = d
		}
	}
	if worst > 1 {
		t.Errorf("detExpm1 is %v ulp from math.Expm1", worst)
	}
	if detExpm1(0) != 0 || detExpm1(-0x1p-60) != -0x1p-60 || detExpm1(-40) != -1 || detExpm1(-1e300) != -1 || !math.IsNaN(detExpm1(math.NaN())) {
		t.Error("detExpm1 at 0, tiny, below −56·ln 2 or NaN")
	}
}

const rbfPrec = 320

// bigLn2 is ln 2 to rbfPrec bits: sum_k 1/(k·2^k).
func bigLn2() *big.Float {
	s := new(big.Float).SetPrec(rbfPrec)
	for k := 1; k < rbfPrec+20; k++ {
		term := new(big.Float).SetPrec(rbfPrec).SetMantExp(big.NewFloat(1).SetPrec(rbfPrec), -k)
		term.Quo(term, new(big.Float).SetPrec(rbfPrec).SetInt64(int64(k)))
		s.Add(s, term)
	}
	return s
}

// bigExpNeg returns e^−a for a ≥ 0 to about rbfPrec bits, or nil if it is
// beyond big.Float's exponent range (below 2^−2^30): e^−a = 2^−k·e^−r,
// a = k·ln 2 + r, the Taylor series of e^−r, 0 ≤ r < ln 2.
func bigExpNeg(a, ln2 *big.Float) *big.Float {
	q := new(big.Float).SetPrec(rbfPrec).Quo(a, ln2)
	kf, _ := q.Float64()
	if kf > 1<<30 {
		return nil
	}
	qi, _ := q.Int(nil)
	k := qi.Int64()
	r := new(big.Float).SetPrec(rbfPrec).Mul(new(big.Float).SetPrec(rbfPrec).SetInt64(k), ln2)
	r.Sub(a, r)
	sum := new(big.Float).SetPrec(rbfPrec).SetInt64(1)
	term := new(big.Float).SetPrec(rbfPrec).SetInt64(1)
	for i := 1; term.Sign() != 0 && term.MantExp(nil) > -rbfPrec-8; i++ {
		term.Mul(term, r)
		term.Quo(term, new(big.Float).SetPrec(rbfPrec).SetInt64(int64(-i)))
		sum.Add(sum, term)
	}
	return sum.SetMantExp(sum, -int(k))
}

// bigRBF returns unbiased HSIC of the Gaussian kernels of x and y (σx,
// σy) and U_xx, U_yy, from the dense kernel matrices with a zero diagonal
// in rbfPrec-bit arithmetic on the float64 data taken exactly:
//
//	U = [tr(K̃L̃) + 1ᵀK̃1·1ᵀL̃1/((n−1)(n−2)) − 2/(n−2)·1ᵀK̃L̃1] / (n(n−3))
//
// ok is false if a kernel value is beyond big.Float's range; top[s] is
// the binary exponent of the largest off-diagonal kernel value of space
// s (x, y).
func bigRBF(x, y Space, sx, sy float64) (uxy, uxx, uyy *big.Float, top [2]int, ok bool) {
	n := x.Rows()
	ln2 := bigLn2()
	top = [2]int{math.MinInt, math.MinInt}
	side := 0
	f := func(v float64) *big.Float { return new(big.Float).SetPrec(rbfPrec).SetFloat64(v) }
	gram := func(s Space, sigma float64) [][]*big.Float {
		g := new(big.Float).SetPrec(rbfPrec).Mul(f(sigma), f(sigma))
		g.Mul(g, f(2))
		k := make([][]*big.Float, n)
		for i := range n {
			k[i] = make([]*big.Float, n)
			for j := range n {
				k[i][j] = f(0)
				if i == j {
					continue
				}
				d2 := f(0)
				for q := range s.Dim {
					u := f(s.Data[i*s.Dim+q])
					u.Sub(u, f(s.Data[j*s.Dim+q]))
					d2.Add(d2, u.Mul(u, u))
				}
				e := bigExpNeg(d2.Quo(d2, g), ln2)
				if e == nil {
					ok = false
					e = f(0)
				} else {
					top[side] = max(top[side], e.MantExp(nil))
				}
				k[i][j] = e
			}
		}
		side++
		return k
	}
	ok = true
	k, l := gram(x, sx), gram(y, sy)
	// add sets z to z + x, leaving out the smaller of two terms more than
	// rbfPrec+64 binary orders apart (big.Float would align them exactly,
	// in nats of 2^30 bits).
	add := func(z, x *big.Float) {
		switch {
		case x.Sign() == 0:
		case z.Sign() == 0:
			z.Set(x)
		case z.MantExp(nil)-x.MantExp(nil) > rbfPrec+64:
		case x.MantExp(nil)-z.MantExp(nil) > rbfPrec+64:
			z.Set(x)
		default:
			z.Add(z, x)
		}
	}
	u := func(a, b [][]*big.Float) *big.Float {
		tr, sa, sb, ab := f(0), f(0), f(0), f(0)
		for i := range n {
			ra, rb := f(0), f(0)
			for j := range n {
				add(tr, new(big.Float).SetPrec(rbfPrec).Mul(a[i][j], b[i][j]))
				add(ra, a[i][j])
				add(rb, b[i][j])
			}
			add(sa, ra)
			add(sb, rb)
			add(ab, ra.Mul(ra, rb))
		}
		nf := float64(n)
		v := sa.Mul(sa, sb)
		v.Quo(v, f((nf-1)*(nf-2)))
		add(v, tr)
		ab.Mul(ab, f(2))
		ab.Quo(ab, f(nf-2))
		add(v, ab.Neg(ab))
		return v.Quo(v, f(nf*(nf-3)))
	}
	return u(k, l), u(k, k), u(l, l), top, ok
}

// TestRBFExtremeSigma: with σ from 10⁻⁶ to 10¹⁰ times the median
// heuristic, debiased RBF CKA and unbiased RBF HSIC equal the dense
// 320-bit reference to 1e-10 (CKA absolutely, HSIC relatively, unless
// it is flagged out of float64's range), or the kernel state says the
// kernel is beyond float64 (KernelUnknown: σ far below the distances,
// every kernel value underflows); never a wrong value unflagged. σ = 10⁸
// times the scale once gave 0.1615 for 0.1683 (1 − γd² rounded in exp),
// σ = 10⁻³ times 0 for 0.0014, unflagged. Only a kernel whose values
// all lie below about 2^−450 is flagged (σ = 0.1 to 10¹⁰ never is).
func TestRBFExtremeSigma(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	for _, c := range []struct {
		name  string
		p, q  int
		alpha float64
	}{{"univariate", 1, 1, 1}, {"direct", 3, 2, 1}, {"direct-sq", 3, 2, 2}, {"direct-half", 3, 2, 0.5}, {"fused", 20, 17, 1}} {
		n := 24
		spaces := rbfSpaces(rng, n, c.p, c.q)
		sx, sy := MedianDistance(spaces[0], 1000), MedianDistance(spaces[1], 1000)
		for _, f := range []float64{1e-6, 1e-4, 1e-3, 1e-2, 0.1, 1, 10, 1e3, 1e6, 1e8, 1e10} {
			t.Run(fmt.Sprintf("%s/sigma=%g", c.name, f), func(t *testing.T) {
				r := RBF{Spaces: []int{0, 1}, Sigma: []float64{f * sx, f * sy}}
				ks, _ := rbfRun(t, spaces, Options{Exponent: c.alpha, TileSize: 8, Workers: 2}, r, nil)
				res := ks.Pair(0, 1)
				uxy, uxx, uyy, top, ok := bigRBF(spaces[0], spaces[1], f*sx, f*sy)
				unknown := false
				for s := range 2 {
					if KernelUnknown(ks, s) {
						unknown = true
						// Only a kernel all of whose values are below
						// about 2^−450 is flagged.
						if top[s] > -448 {
							t.Errorf("space %d flagged unknown, its largest kernel value 2^%d", s, top[s])
						}
					}
				}
				if f >= 0.1 && unknown {
					t.Errorf("σ = %g × the median distance flagged unknown", f)
				}
				if unknown {
					return
				}
				if !ok {
					t.Fatal("a kernel value beyond big.Float's range, not flagged")
				}
				d := new(big.Float).SetPrec(rbfPrec).Mul(uxx, uyy)
				d.Sqrt(d)
				cka, _ := new(big.Float).SetPrec(rbfPrec).Quo(uxy, d).Float64()
				h, _ := uxy.Float64()
				if math.Abs(res.BCDCor-cka) > 1e-10 {
					t.Errorf("cka %.15g, reference %.15g", res.BCDCor, cka)
				}
				if res.Flags&estimator.OutOfRange == 0 && math.Abs(res.DCovU-h) > 1e-10*math.Abs(h) {
					t.Errorf("hsic %.15g, reference %.15g (rel %.1e)", res.DCovU, h, math.Abs(res.DCovU-h)/math.Abs(h))
				}
			})
		}
	}
}
