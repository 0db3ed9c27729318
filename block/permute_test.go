package block

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"syscall"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"
)

func TestPermutationIsBijection(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7, 64, 100, 1000, 4097} {
		p := NewPermutation(n, 42)
		for b := range 3 {
			seen := make([]bool, n)
			for i := range n {
				v := p.At(b, i)
				if v < 0 || v >= n || seen[v] {
					t.Fatalf("n=%d b=%d: π(%d) = %d repeats or is out of range", n, b, i, v)
				}
				seen[v] = true
			}
		}
	}
}

// permuted returns s with row i taken from row perm(i).
func permuted(s Space, perm func(int) int) Space {
	n := s.Rows()
	out := Space{Data: make([]float64, len(s.Data)), Dim: s.Dim}
	for i := range n {
		copy(out.Data[i*s.Dim:(i+1)*s.Dim], s.Data[perm(i)*s.Dim:(perm(i)+1)*s.Dim])
	}
	return out
}

// TestPermutationsBruteForce: the test's exceedances and the mean of
// R*(π_b) equal those of Compute run on each permuted data set, for the
// direct, Gram and univariate paths, and the result is the same for 1 and
// 3 workers and tile sizes.
func TestPermutationsBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for _, dims := range [][2]int{{1, 1}, {3, 2}, {20, 17}} {
		t.Run(fmt.Sprint(dims), func(t *testing.T) {
			const n, r = 60, 40
			x, y := randSpace(rng, n, dims[0]), randSpace(rng, n, dims[1])
			for i := range n {
				y.Data[i*dims[1]] += 0.15 * x.Data[i*dims[0]]
			}
			sp := []Space{x, y}
			perm := NewPermutation(n, 7)
			opts := Options{TileSize: 16, Workers: 3}
			st, err := Compute(t.Context(), sp, opts)
			if err != nil {
				t.Fatal(err)
			}
			pt, err := Permutations(t.Context(), sp, st, 0, 1, r, perm, opts)
			if err != nil {
				t.Fatal(err)
			}
			got := pt.Result(st, perm.At)
			observed := st.Pair(0, 1).BCDCor
			exceed, mean := 0, 0.0
			for b := range r {
				s, err := Compute(t.Context(), []Space{x, permuted(y, func(i int) int { return perm.At(b, i) })}, Options{TileSize: 16})
				if err != nil {
					t.Fatal(err)
				}
				rb := s.Pair(0, 1).BCDCor
				if rb >= observed {
					exceed++
				}
				mean += rb / r
			}
			if got.Exceed != exceed || !scalar.EqualWithinAbsOrRel(got.Mean, mean, 1e-13, 1e-10) {
				t.Errorf("exceed %d mean %.17g, brute force %d %.17g", got.Exceed, got.Mean, exceed, mean)
			}
			pt1, err := Permutations(t.Context(), sp, st, 0, 1, r, perm, Options{TileSize: 16, Workers: 1})
			if err != nil {
				t.Fatal(err)
			}
			if pt1.Result(st, perm.At) != got {
				t.Error("1 and 3 workers differ")
			}
			t.Logf("bcdcor %.4f, p = %.4f (%d of %d)", observed, got.P, got.Exceed, r)
		})
	}
}

// TestPermutationUniform: under independence the p-values over many seeds
// are uniform (Kolmogorov–Smirnov at the 0.1% level); under strong
// dependence p = 1/(R+1).
func TestPermutationUniform(t *testing.T) {
	const n, r, seeds = 30, 99, 200
	var ps []float64
	for s := range uint64(seeds) {
		rng := rand.New(rand.NewPCG(s, 77))
		x, y := randSpace(rng, n, 2), randSpace(rng, n, 1)
		sp := []Space{x, y}
		st, err := Compute(t.Context(), sp, Options{TileSize: 8})
		if err != nil {
			t.Fatal(err)
		}
		perm := NewPermutation(n, s+1000)
		pt, err := Permutations(t.Context(), sp, st, 0, 1, r, perm, Options{TileSize: 8})
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, pt.Result(st, perm.At).P)
	}
	slices.Sort(ps)
	// Discrete p-values on the grid k/(R+1): compare with the uniform at
	// each grid point.
	var d float64
	for i, p := range ps {
		d = math.Max(d, math.Max(math.Abs(float64(i+1)/seeds-p), math.Abs(float64(i)/seeds-p+1.0/(r+1))))
	}
	// Kolmogorov's limit: P(sqrt(m)·D > 1.95) ≈ 0.001.
	if crit := 1.95 / math.Sqrt(seeds); d > crit {
		t.Errorf("KS distance %.3f > %.3f: p-values not uniform under independence", d, crit)
	}

	rng := rand.New(rand.NewPCG(3, 3))
	x := randSpace(rng, n, 2)
	y := Space{Data: make([]float64, n), Dim: 1}
	for i := range n {
		y.Data[i] = x.Data[2*i]*x.Data[2*i] + 0.01*rng.NormFloat64()
	}
	st, _ := Compute(t.Context(), []Space{x, y}, Options{})
	perm := NewPermutation(n, 5)
	pt, err := Permutations(t.Context(), []Space{x, y}, st, 0, 1, r, perm, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := pt.Result(st, perm.At); got.P != 1.0/(r+1) {
		t.Errorf("strong dependence: p = %v, want 1/(R+1) = %v", got.P, 1.0/(r+1))
	}
}

// BenchmarkPermutationCost reports the cost of one permutation as a share
// of an exact run of the same data (permutation/exact), in CPU time of
// this process measured in the same run (robust to other load on the
// machine): the target is 0.5 at p = q.
func BenchmarkPermutationCost(b *testing.B) {
	for _, dim := range []int{8, 64} {
		b.Run(fmt.Sprintf("n=3000/dim=%d", dim), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			sp := []Space{randSpace(rng, 3000, dim), randSpace(rng, 3000, dim)}
			opts := Options{Workers: 1}
			const r = 4
			perm := NewPermutation(3000, 1)
			var exact, perms float64
			for b.Loop() {
				t0 := cpuSeconds()
				st, err := Compute(b.Context(), sp, opts)
				if err != nil {
					b.Fatal(err)
				}
				t1 := cpuSeconds()
				if _, err := Permutations(b.Context(), sp, st, 0, 1, r, perm, opts); err != nil {
					b.Fatal(err)
				}
				exact += t1 - t0
				perms += cpuSeconds() - t1
			}
			b.ReportMetric(perms/r/exact, "permutation/exact")
		})
	}
}

// cpuSeconds returns the user and system CPU time of this process.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}
