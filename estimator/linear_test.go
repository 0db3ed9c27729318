package estimator_test

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"

	"github.com/dcor-stream/dcor-stream/estimator"
)

// kornblith returns debiased linear CKA by the feature-space formula of
// Kornblith et al.'s code (feature_space_linear_cka with debiased=True):
// centred features, ‖XᵀY‖²_F − n/(n−2)·sum |x_i|²|y_i|² +
// ‖X‖²_F‖Y‖²_F/((n−1)(n−2)), normalised by the same for (X, X) and (Y, Y).
func kornblith(x, y matrix) float64 {
	n := float64(x.n)
	centre := func(m matrix) matrix {
		out := matrix{n: m.n, d: m.d, v: append([]float64(nil), m.v...)}
		for q := range m.d {
			var mu float64
			for i := range m.n {
				mu += m.v[i*m.d+q]
			}
			mu /= n
			for i := range m.n {
				out.v[i*m.d+q] -= mu
			}
		}
		return out
	}
	x, y = centre(x), centre(y)
	helper := func(a, b matrix) float64 {
		var frob, rows, na, nb float64
		for q := range a.d {
			for r := range b.d {
				var c float64
				for i := range a.n {
					c += a.v[i*a.d+q] * b.v[i*b.d+r]
				}
				frob += c * c
			}
		}
		for i := range a.n {
			var sa, sb float64
			for q := range a.d {
				sa += a.v[i*a.d+q] * a.v[i*a.d+q]
			}
			for r := range b.d {
				sb += b.v[i*b.d+r] * b.v[i*b.d+r]
			}
			rows += sa * sb
			na += sa
			nb += sb
		}
		return frob - n/(n-2)*rows + na*nb/((n-1)*(n-2))
	}
	return helper(x, y) / math.Sqrt(helper(x, x)*helper(y, y))
}

func linearOf(t *testing.T, blockRows int, spaces ...matrix) *estimator.Linear {
	t.Helper()
	dims := make([]int, len(spaces))
	for k, m := range spaces {
		dims[k] = m.d
	}
	l := estimator.NewLinear(dims, nil, nil)
	n := spaces[0].n
	for a := 0; a < n; a += blockRows {
		b := min(n, a+blockRows)
		rows := make([][]float64, len(spaces))
		for k, m := range spaces {
			rows[k] = m.v[a*m.d : b*m.d]
		}
		if err := l.Add(rows); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// TestLinearCKA: debiased linear CKA equals Kornblith et al.'s feature-space
// formula to 1e-10, in any grouping of rows into blocks (and to the bit
// across groupings of whole blocks merged in any order), and is invariant
// to translation, orthogonal rotation and isotropic scaling.
func TestLinearCKA(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 9))
	for _, c := range []struct{ n, p, q int }{{10, 3, 2}, {60, 8, 5}, {200, 20, 30}, {30, 50, 40}} {
		t.Run(fmt.Sprintf("n=%d/p=%d/q=%d", c.n, c.p, c.q), func(t *testing.T) {
			x, y := randMatrix(rng, c.n, c.p), randMatrix(rng, c.n, c.q)
			for i := range c.n { // some dependence
				y.v[i*c.q] += 2 * x.v[i*c.p]
			}
			want := kornblith(x, y)
			l := linearOf(t, 7, x, y)
			got, ok := l.CKA(0, 1)
			if !ok || !scalar.EqualWithinAbsOrRel(got, want, 1e-12, 1e-10) {
				t.Errorf("CKA = %.17g (ok %v), feature-space formula %.17g", got, ok, want)
			}
			// Translation, rotation (a Givens rotation of columns 0, 1 of x)
			// and isotropic scaling of y.
			x2, y2 := matrix{n: x.n, d: x.d, v: append([]float64(nil), x.v...)}, matrix{n: y.n, d: y.d, v: append([]float64(nil), y.v...)}
			th := 0.7
			for i := range c.n {
				a, b := x2.v[i*c.p], x2.v[i*c.p+1]
				x2.v[i*c.p], x2.v[i*c.p+1] = math.Cos(th)*a-math.Sin(th)*b+5, math.Sin(th)*a+math.Cos(th)*b-3
				for r := range c.q {
					y2.v[i*c.q+r] = 3.5*y2.v[i*c.q+r] + 100
				}
			}
			got2, _ := linearOf(t, 13, x2, y2).CKA(0, 1)
			if !scalar.EqualWithinAbsOrRel(got2, got, 1e-12, 1e-10) {
				t.Errorf("rotated, translated, scaled: %.17g, want %.17g", got2, got)
			}
			// Blocks merged in another order: the same bytes.
			a, b := linearOf(t, 7, x.rows(0, c.n/2), y.rows(0, c.n/2)), linearOf(t, 7, x.rows(c.n/2, c.n), y.rows(c.n/2, c.n))
			if err := b.Merge(a); err != nil {
				t.Fatal(err)
			}
			one := estimator.NewLinear([]int{c.p, c.q}, nil, nil)
			if err := one.Merge(a); err != nil {
				t.Fatal(err)
			}
			second := linearOf(t, 7, x.rows(c.n/2, c.n), y.rows(c.n/2, c.n))
			if err := one.Merge(second); err != nil {
				t.Fatal(err)
			}
			eb, _ := b.MarshalBinary()
			eo, _ := one.MarshalBinary()
			if !bytes.Equal(eb, eo) {
				t.Error("merge order changed the state")
			}
			var back estimator.Linear
			if err := back.UnmarshalBinary(eb); err != nil {
				t.Fatal(err)
			}
			if g, _ := back.CKA(0, 1); g != func() float64 { v, _ := b.CKA(0, 1); return v }() {
				t.Error("round trip changed CKA")
			}
			eb[len(eb)/3] ^= 1
			if err := back.UnmarshalBinary(eb); err == nil {
				t.Error("flipped bit accepted")
			}
		})
	}
}

// TestLinearBiasStory: on independent data with few samples and many
// features, biased linear CKA (Kornblith's debiased=False) is large and
// debiased CKA is near 0, as Murphy et al. (2024) report.
func TestLinearBiasStory(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 3))
	x, y := randMatrix(rng, 40, 500), randMatrix(rng, 40, 500)
	deb, _ := linearOf(t, 16, x, y).CKA(0, 1)
	// biased: ‖XᵀY‖²/(‖XᵀX‖‖YᵀY‖) on centred features
	c := func(a, b matrix) float64 {
		var f float64
		for q := range a.d {
			for r := range b.d {
				var s float64
				for i := range a.n {
					s += a.v[i*a.d+q] * b.v[i*b.d+r]
				}
				f += s * s
			}
		}
		return f
	}
	biased := c(x, y) / math.Sqrt(c(x, x)*c(y, y))
	t.Logf("n=40, p=q=500, independent: biased CKA %.3f, debiased %.4f", biased, deb)
	// Under independence the debiased value has a standard deviation near
	// sqrt(2/(n(n−3))) ≈ 0.037 here: allow 3 of them.
	if !(biased > 0.5 && math.Abs(deb) < 3*math.Sqrt(2.0/(40*37))) {
		t.Errorf("biased %.3f, debiased %.4f", biased, deb)
	}
}

// TestLinearEmptyRoundTrip: a state with no rows (the part of a shard that
// adds none) and a state of some pairs round-trip through the encoding to
// the same bytes, and an empty state merged into a full one leaves its
// bytes.
func TestLinearEmptyRoundTrip(t *testing.T) {
	dims := []int{300, 200, 7}
	for _, pairs := range [][][2]int{nil, {{0, 1}}, {{0, 2}, {1, 2}}} {
		empty := estimator.NewLinearPairs(dims, nil, []int{0, 3, -2}, pairs)
		enc, err := empty.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var back estimator.Linear
		if err := back.UnmarshalBinary(enc); err != nil {
			t.Fatalf("pairs %v: an empty state is refused: %v", pairs, err)
		}
		if again, _ := back.MarshalBinary(); !bytes.Equal(again, enc) {
			t.Errorf("pairs %v: the empty state re-encodes differently", pairs)
		}
		full := estimator.NewLinearPairs(dims, nil, []int{0, 3, -2}, pairs)
		rng := rand.New(rand.NewPCG(9, 9))
		rows := make([][]float64, len(dims))
		for k, d := range dims {
			rows[k] = make([]float64, 5*d)
			for i := range rows[k] {
				rows[k][i] = rng.NormFloat64()
			}
		}
		if err := full.Add(rows); err != nil {
			t.Fatal(err)
		}
		before, _ := full.MarshalBinary()
		if err := full.Merge(&back); err != nil {
			t.Fatal(err)
		}
		if after, _ := full.MarshalBinary(); !bytes.Equal(after, before) {
			t.Errorf("pairs %v: merging an empty state changed the sums", pairs)
		}
	}
}
