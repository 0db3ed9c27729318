package estimator_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"

	"github.com/dcor-stream/dcor-stream/block"
	"github.com/dcor-stream/dcor-stream/estimator"
)

// pipeline computes the statistics of (x, y, z) through block, with a small
// tile so that many tiles and both kernels are exercised.
func pipeline(t *testing.T, alpha float64, ms ...matrix) *estimator.Stats {
	t.Helper()
	sp := make([]block.Space, len(ms))
	for i, m := range ms {
		sp[i] = block.Space{Data: m.v, Dim: m.d}
	}
	st, err := block.Compute(t.Context(), sp, block.Options{Exponent: alpha, TileSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

type snapshot map[string]float64

func snap(st *estimator.Stats, x, y, z int) snapshot {
	r, p := st.Pair(x, y), st.Partial(x, y, z)
	return snapshot{"dcor": r.DCor, "dcor_sq": r.DCorSq, "bcdcor": r.BCDCor, "t": r.T, "p": r.P,
		"pdcor": p.PDCor, "bcdcor_xz": p.BCDCorXZ, "bcdcor_yz": p.BCDCorYZ}
}

// rotate returns m·Q for a random orthogonal Q (Gram-Schmidt of a Gaussian
// matrix), times scale, plus a random translation.
func transform(rng *rand.Rand, m matrix, scale float64) matrix {
	d := m.d
	q := make([][]float64, d)
	for i := range q {
		q[i] = make([]float64, d)
		for j := range q[i] {
			q[i][j] = rng.NormFloat64()
		}
		for k := range i {
			var dot float64
			for j := range d {
				dot += q[i][j] * q[k][j]
			}
			for j := range d {
				q[i][j] -= dot * q[k][j]
			}
		}
		var norm float64
		for j := range d {
			norm += q[i][j] * q[i][j]
		}
		for j := range d {
			q[i][j] /= math.Sqrt(norm)
		}
	}
	shift := make([]float64, d)
	for j := range shift {
		shift[j] = 100 * rng.NormFloat64()
	}
	out := matrix{n: m.n, d: d, v: make([]float64, len(m.v))}
	for r := range m.n {
		for j := range d {
			var s float64
			for k := range d {
				s += m.v[r*d+k] * q[k][j]
			}
			out.v[r*d+j] = scale*s + shift[j]
		}
	}
	return out
}

func permute(m matrix, perm []int) matrix {
	out := matrix{n: m.n, d: m.d, v: make([]float64, len(m.v))}
	for i, p := range perm {
		copy(out.v[i*m.d:(i+1)*m.d], m.v[p*m.d:(p+1)*m.d])
	}
	return out
}

// TestInvariance checks, across seeds and exponents, that the statistics do
// not change under a permutation of the samples, a rotation, translation and
// positive scaling of each space, or the swap of X and Y.
func TestInvariance(t *testing.T) {
	for seed := range uint64(6) {
		rng := rand.New(rand.NewPCG(seed, 2))
		n := 40 + rng.IntN(60)
		x, z := randMatrix(rng, n, 1+rng.IntN(4)), randMatrix(rng, n, 2)
		y := randMatrix(rng, n, 1+rng.IntN(20))
		for i := range n {
			y.v[i*y.d] += x.v[i*x.d] + z.v[i*2] // dependence on x and z
		}
		alpha := []float64{0.5, 1, 1.5, 2}[seed%4]
		base := snap(pipeline(t, alpha, x, y, z), 0, 1, 2)
		perm := rng.Perm(n)
		scale := math.Pow(10, 6*rng.Float64()-3)
		checks := map[string]snapshot{
			"permutation": snap(pipeline(t, alpha, permute(x, perm), permute(y, perm), permute(z, perm)), 0, 1, 2),
			"rigid+scale": snap(pipeline(t, alpha, transform(rng, x, scale), transform(rng, y, 1/scale), transform(rng, z, 3)), 0, 1, 2),
			"x<->y":       snap(pipeline(t, alpha, y, x, z), 1, 0, 2),
		}
		for name, got := range checks {
			for k, w := range base {
				g := got[k]
				if name == "x<->y" && (k == "bcdcor_xz" || k == "bcdcor_yz") {
					continue // the roles of x and y swap for these two
				}
				// T is sqrt(n²/2)·R*: allow its relative tolerance.
				if !scalar.EqualWithinAbsOrRel(g, w, 1e-12, 1e-9) {
					t.Errorf("seed %d alpha %v %s: %s = %.15g, want %.15g", seed, alpha, name, k, g, w)
				}
			}
		}
	}
}
