package estimator_test

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/dcor-stream/dcor-stream/block"
	"github.com/dcor-stream/dcor-stream/estimator"
)

// exactLinearHSIC returns unbiased HSIC with the linear kernel of x and y
// (the U-statistic of the kernel matrices with a zero diagonal, Song et
// al. 2012) in exact rational arithmetic from the float64 values, by the
// dense formula
//
//	U = [tr(K̃L̃) + 1ᵀK̃1·1ᵀL̃1/((n−1)(n−2)) − 2/(n−2)·1ᵀK̃L̃1] / (n(n−3))
func exactLinearHSIC(x, y matrix) *big.Rat {
	n := x.n
	gram := func(m matrix) [][]*big.Rat {
		v := make([]*big.Rat, len(m.v))
		for i, f := range m.v {
			v[i] = new(big.Rat).SetFloat64(f)
		}
		k := make([][]*big.Rat, n)
		t := new(big.Rat)
		for i := range n {
			k[i] = make([]*big.Rat, n)
			for j := range n {
				k[i][j] = new(big.Rat)
				if i == j {
					continue
				}
				for q := range m.d {
					k[i][j].Add(k[i][j], t.Mul(v[i*m.d+q], v[j*m.d+q]))
				}
			}
		}
		return k
	}
	k, l := gram(x), gram(y)
	tr, sk, sl, kl := new(big.Rat), new(big.Rat), new(big.Rat), new(big.Rat)
	t := new(big.Rat)
	for i := range n {
		rk, rl := new(big.Rat), new(big.Rat)
		for j := range n {
			tr.Add(tr, t.Mul(k[i][j], l[i][j]))
			rk.Add(rk, k[i][j])
			rl.Add(rl, l[i][j])
		}
		sk.Add(sk, rk)
		sl.Add(sl, rl)
		kl.Add(kl, t.Mul(rk, rl))
	}
	r := func(a int64) *big.Rat { return new(big.Rat).SetInt64(a) }
	nn := int64(n)
	u := new(big.Rat).Set(tr)
	u.Add(u, t.Quo(new(big.Rat).Mul(sk, sl), r((nn-1)*(nn-2))))
	u.Sub(u, t.Quo(new(big.Rat).Mul(r(2), kl), r(nn-2)))
	return u.Quo(u, r(nn*(nn-3)))
}

// exactCKA returns U_xy/sqrt(U_xx·U_yy) to 200 bits, or ok false if a
// self term is not positive.
func exactCKA(uxy, uxx, uyy *big.Rat) (float64, bool) {
	if uxx.Sign() <= 0 || uyy.Sign() <= 0 {
		return 0, false
	}
	f := func(r *big.Rat) *big.Float { return new(big.Float).SetPrec(200).SetRat(r) }
	d := new(big.Float).SetPrec(200).Mul(f(uxx), f(uyy))
	d.Sqrt(d)
	v, _ := new(big.Float).SetPrec(200).Quo(f(uxy), d).Float64()
	return v, true
}

// linearLikeJob returns the linear state of x and y as the job builds it:
// each space scaled and centred as block.Normalization says, rows added
// in blocks of 1,024.
func linearLikeJob(t *testing.T, x, y matrix) *estimator.Linear {
	t.Helper()
	sp := []block.Space{{Data: x.v, Dim: x.d}, {Data: y.v, Dim: y.d}}
	centre, scale := block.Normalization(sp)
	l := estimator.NewLinear([]int{x.d, y.d}, centre, scale)
	for a := 0; a < x.n; a += 1024 {
		b := min(x.n, a+1024)
		if err := l.Add([][]float64{x.v[a*x.d : b*x.d], y.v[a*y.d : b*y.d]}); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// TestLinearShiftScaleExact: linear CKA and unbiased linear HSIC equal
// their exact values (rational arithmetic on the float64 inputs) to
// 1e-10, CKA absolutely and HSIC relatively, for data shifted by 10³ to
// 10³⁰⁰ and scaled by 10^±300 — translation invariance to the last digit
// that matters, where the linear state's centre once left an offset of
// about c/512 in fourth-order float64 sums (shift 10⁷: cka_linear 0 for
// 0.1996) — and HSIC beyond float64's range in the data's units is
// reported as not ok, not as a number.
func TestLinearShiftScaleExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 22))
	const n = 40
	base := func(d int) matrix { return randMatrix(rng, n, d) }
	x0, e := base(3), base(2)
	y0 := matrix{n: n, d: 2, v: make([]float64, 2*n)}
	for i := range n {
		y0.v[2*i] = x0.v[3*i] + e.v[2*i]
		y0.v[2*i+1] = x0.v[3*i+1]*x0.v[3*i+1] + 0.3*e.v[2*i+1]
	}
	affine := func(m matrix, scale, shift float64) matrix {
		out := matrix{n: m.n, d: m.d, v: make([]float64, len(m.v))}
		for i, v := range m.v {
			out.v[i] = shift + scale*v
		}
		return out
	}
	for _, c := range []struct{ scale, shift float64 }{
		{1, 0}, {1, 1e3}, {1, 1e6}, {1, 1e7}, {1, 1e8}, {1, 1e10}, {1, 1e12}, {1, 1e15},
		{1e3, 1e18}, {1e100, 1e110}, {1e290, 1e300}, {1e-300, 1e-290}, {1e-305, 1e-300},
		{1e300, 0}, {1e-300, 0}, {1e150, -1e160}, {4e-320, 0},
	} {
		t.Run(fmt.Sprintf("scale=%g/shift=%g", c.scale, c.shift), func(t *testing.T) {
			x, y := affine(x0, c.scale, c.shift), affine(y0, c.scale, -c.shift)
			l := linearLikeJob(t, x, y)
			uxy, uxx, uyy := exactLinearHSIC(x, y), exactLinearHSIC(x, x), exactLinearHSIC(y, y)
			want, wantOK := exactCKA(uxy, uxx, uyy)
			got, ok := l.CKA(0, 1)
			if ok != wantOK || math.Abs(got-want) > 1e-10 {
				t.Errorf("CKA = %.17g (ok %v), exact %.17g (ok %v)", got, ok, want, wantOK)
			}
			h, hok := l.HSIC(0, 1)
			w, _ := new(big.Float).SetRat(uxy).Float64()
			inRange := uxy.Sign() == 0 || !math.IsInf(w, 0) && math.Abs(w) >= 0x1p-1022
			if hok != inRange {
				t.Errorf("HSIC = %g ok %v, exact %g: in float64's range %v", h, hok, w, inRange)
			}
			if inRange && math.Abs(h-w) > 1e-10*math.Abs(w) {
				t.Errorf("HSIC = %.17g, exact %.17g (rel %.1e)", h, w, math.Abs(h-w)/math.Abs(w))
			}
		})
	}
}
