package block

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"
)

// TestUnivariateMatchesCompute: the O(n log n) path gives the statistics
// of the tile path to rounding, with ties, duplicates and three spaces
// (pdcor), and the same bits for 1 and 3 workers.
func TestUnivariateMatchesCompute(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, n := range []int{4, 5, 17, 300, 1001} {
		for _, ties := range []bool{false, true} {
			t.Run(fmt.Sprintf("n=%d/ties=%v", n, ties), func(t *testing.T) {
				x, y, z := make([]float64, n), make([]float64, n), make([]float64, n)
				for i := range x {
					x[i] = rng.NormFloat64()
					y[i] = x[i]*x[i] + 0.5*rng.NormFloat64()
					z[i] = 0.5*x[i] + rng.NormFloat64()
					if ties {
						x[i] = math.Round(x[i] * 3)
						y[i] = math.Round(y[i])
					}
				}
				sp := []Space{{x, 1}, {y, 1}, {z, 1}}
				fast, err := Univariate(t.Context(), sp, Options{Workers: 3})
				if err != nil {
					t.Fatal(err)
				}
				one, err := Univariate(t.Context(), sp, Options{Workers: 1})
				if err != nil {
					t.Fatal(err)
				}
				fb, _ := fast.MarshalBinary()
				ob, _ := one.MarshalBinary()
				if string(fb) != string(ob) {
					t.Error("state differs between 1 and 3 workers")
				}
				slow, err := Compute(t.Context(), sp, Options{TileSize: 64})
				if err != nil {
					t.Fatal(err)
				}
				for _, xy := range [][2]int{{0, 1}, {0, 2}, {1, 2}} {
					g, w := fast.Pair(xy[0], xy[1]), slow.Pair(xy[0], xy[1])
					for _, c := range []struct {
						name      string
						got, want float64
					}{
						{"dcor", g.DCor, w.DCor}, {"dcov_sq", g.DCovSq, w.DCovSq}, {"bcdcor", g.BCDCor, w.BCDCor},
						{"dcov_u", g.DCovU, w.DCovU}, {"dvar_x_u", g.DVarXU, w.DVarXU}, {"p", g.P, w.P},
					} {
						if c.name == "p" && 1-math.Abs(w.BCDCor) < 1e-6 {
							continue // R* ≈ ±1 (n = 4): the p-value is ill-conditioned
						}
						if !scalar.EqualWithinAbsOrRel(c.got, c.want, 1e-13, 1e-11) {
							t.Errorf("%v %s = %.17g, tiles %.17g", xy, c.name, c.got, c.want)
						}
					}
				}
				g, w := fast.Partial(0, 1, 2), slow.Partial(0, 1, 2)
				if !scalar.EqualWithinAbsOrRel(g.PDCor, w.PDCor, 1e-13, 1e-11) {
					t.Errorf("pdcor = %.17g, tiles %.17g", g.PDCor, w.PDCor)
				}
			})
		}
	}
}

func TestUnivariateRefuses(t *testing.T) {
	sp := []Space{{[]float64{1, 2, 3, 4, 5, 6}, 2}, {[]float64{1, 2, 3}, 1}}
	if _, err := Univariate(t.Context(), sp, Options{}); err == nil {
		t.Error("a space of dim 2 was accepted")
	}
	sp = []Space{{[]float64{1, 2, 3, 4}, 1}, {[]float64{1, 2, 4, 3}, 1}}
	if _, err := Univariate(t.Context(), sp, Options{Exponent: 0.5}); err == nil {
		t.Error("α = 0.5 was accepted")
	}
}

// BenchmarkUnivariateFast measures the O(n log n) path on a pair.
func BenchmarkUnivariateFast(b *testing.B) {
	for _, n := range []int{100_000, 2_000_000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			x, y := make([]float64, n), make([]float64, n)
			for i := range x {
				x[i] = rng.NormFloat64()
				y[i] = 0.5*x[i] + rng.NormFloat64()
			}
			sp := []Space{{x, 1}, {y, 1}}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Univariate(b.Context(), sp, Options{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}
