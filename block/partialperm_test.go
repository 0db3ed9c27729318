package block

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"
)

// bruteProjection returns sum_{i≠j} P_xz,ij·P_yz,π(i)π(j) by plain loops
// over the definition (energy's projection), holding O(n) values.
func bruteProjection(sp []Space, pi func(int) int) float64 {
	n := sp[0].Rows()
	nf := float64(n)
	rows := func(s Space) ([]float64, float64) {
		r := make([]float64, n)
		var t float64
		for i := range n {
			for j := range n {
				if i != j {
					r[i] += dist(s, i, j, 1)
				}
			}
			t += r[i]
		}
		return r, t
	}
	rx, tx := rows(sp[0])
	ry, ty := rows(sp[1])
	rz, tz := rows(sp[2])
	u := func(s Space, r []float64, t float64, i, j int) float64 {
		return dist(s, i, j, 1) - (r[i]+r[j])/(nf-2) + t/((nf-1)*(nf-2))
	}
	var uxz, uyz, uzz float64
	for i := range n {
		for j := range n {
			if i != j {
				z := u(sp[2], rz, tz, i, j)
				uxz += u(sp[0], rx, tx, i, j) * z
				uyz += u(sp[1], ry, ty, i, j) * z
				uzz += z * z
			}
		}
	}
	bx, by := uxz/uzz, uyz/uzz
	var s float64
	for i := range n {
		for j := range n {
			if i == j {
				continue
			}
			pxz := u(sp[0], rx, tx, i, j) - bx*u(sp[2], rz, tz, i, j)
			a, b := pi(i), pi(j)
			pyz := u(sp[1], ry, ty, a, b) - by*u(sp[2], rz, tz, a, b)
			s += pxz * pyz
		}
	}
	return s
}

// TestPartialPermutationsBruteForce: the statistic equals energy's
// teststat computed by plain loops, and each replicate's exceedance
// agrees, for direct and Gram spaces; 1 and 3 workers agree.
func TestPartialPermutationsBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 1))
	for _, dims := range [][3]int{{1, 1, 1}, {3, 2, 2}, {18, 2, 17}} {
		t.Run(fmt.Sprint(dims), func(t *testing.T) {
			const n, r = 40, 30
			sp := []Space{randSpace(rng, n, dims[0]), randSpace(rng, n, dims[1]), randSpace(rng, n, dims[2])}
			for i := range n { // x and y both depend on z, and weakly on each other
				sp[0].Data[i*dims[0]] += 0.8 * sp[2].Data[i*dims[2]]
				sp[1].Data[i*dims[1]] += 0.8*sp[2].Data[i*dims[2]] + 0.3*sp[0].Data[i*dims[0]]
			}
			perm := NewPermutation(n, 3)
			opts := Options{TileSize: 16, Workers: 3}
			st, err := Compute(t.Context(), sp, opts)
			if err != nil {
				t.Fatal(err)
			}
			got, err := PartialPermutations(t.Context(), sp, st, 0, 1, 2, r, perm, opts)
			if err != nil {
				t.Fatal(err)
			}
			obs := bruteProjection(sp, func(i int) int { return i })
			if want := obs / (n - 3); !scalar.EqualWithinAbsOrRel(got.Statistic, want, 1e-12, 1e-9) {
				t.Errorf("statistic %.17g, brute force %.17g", got.Statistic, want)
			}
			exceed := 0
			for b := range r {
				if bruteProjection(sp, func(i int) int { return perm.At(b, i) }) >= obs {
					exceed++
				}
			}
			if got.Exceed != exceed {
				t.Errorf("exceed %d, brute force %d", got.Exceed, exceed)
			}
			one, err := PartialPermutations(t.Context(), sp, st, 0, 1, 2, r, perm, Options{TileSize: 16, Workers: 1})
			if err != nil || one != got {
				t.Errorf("1 worker: %+v %v, 3 workers %+v", one, err, got)
			}
			t.Logf("pdcov statistic %.4g, p = %.3f", got.Statistic, got.P)
		})
	}
}
