package block

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"
)

// without returns the spaces less sample i.
func without(sp []Space, i int) []Space {
	out := make([]Space, len(sp))
	for k, s := range sp {
		d := s.Dim
		data := append(append([]float64(nil), s.Data[:i*d]...), s.Data[(i+1)*d:]...)
		out[k] = Space{data, d}
	}
	return out
}

// TestJackknifeBruteForce: the jackknife standard errors and covariances
// from the per-row sums equal those of n refits on the n−1 samples left
// (Compute on each), to 1e-9, for direct, Gram and univariate spaces, and
// are the same for 1 and 3 workers.
func TestJackknifeBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 1))
	for _, c := range []struct {
		n    int
		dims []int
	}{{47, []int{1, 1, 1}}, {47, []int{3, 2, 1}}, {47, []int{20, 3, 17}}, {300, []int{20, 1, 2}}} {
		n, dims := c.n, c.dims
		t.Run(fmt.Sprint(n, dims), func(t *testing.T) {
			sp := make([]Space, 3)
			for k, d := range dims {
				sp[k] = randSpace(rng, n, d)
			}
			for i := range n { // dependence of y on x
				sp[1].Data[i*dims[1]] += 0.4 * sp[0].Data[i*dims[0]]
			}
			opts := Options{TileSize: 16, Workers: 3}
			st, err := Compute(t.Context(), sp, opts)
			if err != nil {
				t.Fatal(err)
			}
			jk, err := Jackknife(t.Context(), sp, st, opts)
			if err != nil {
				t.Fatal(err)
			}
			jk1, err := Jackknife(t.Context(), sp, st, Options{TileSize: 16, Workers: 1})
			if err != nil {
				t.Fatal(err)
			}
			if jk.Pair(0, 1) != jk1.Pair(0, 1) {
				t.Error("1 and 3 workers differ")
			}
			// Brute force: refit on every n−1 subset.
			loo := make([][4]float64, n) // dcor, bcdcor(0,1), bcdcor(0,2), pdcor
			for i := range n {
				s, err := Compute(t.Context(), without(sp, i), Options{TileSize: 16})
				if err != nil {
					t.Fatal(err)
				}
				r, pr := s.Pair(0, 1), s.Partial(0, 1, 2)
				loo[i] = [4]float64{r.DCor, r.BCDCor, s.Pair(0, 2).BCDCor, pr.PDCor}
			}
			cov := func(a, b int) float64 {
				var ma, mb float64
				for _, v := range loo {
					ma += v[a]
					mb += v[b]
				}
				ma, mb = ma/float64(n), mb/float64(n)
				var c float64
				for _, v := range loo {
					c += (v[a] - ma) * (v[b] - mb)
				}
				return c * float64(n-1) / float64(n)
			}
			se := jk.Pair(0, 1)
			pdSE, _ := jk.PartialSE(0, 1, 2)
			bc := jk.BCDCorCov([][2]int{{0, 1}, {0, 2}})
			for _, c := range []struct {
				name      string
				got, want float64
			}{
				{"dcor_se", se.DCor, math.Sqrt(cov(0, 0))},
				{"bcdcor_se", se.BCDCor, math.Sqrt(cov(1, 1))},
				{"pdcor_se", pdSE, math.Sqrt(cov(3, 3))},
				{"cov(bcdcor01, bcdcor02)", bc[0][1], cov(1, 2)},
				{"var(bcdcor02)", bc[1][1], cov(2, 2)},
			} {
				if !scalar.EqualWithinAbsOrRel(c.got, c.want, 1e-12, 1e-9) {
					t.Errorf("%s = %.17g, brute force %.17g", c.name, c.got, c.want)
				}
			}
		})
	}
}
