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
			for i, v := range p.Of(b) {
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
			got := pt.Result(st, perm.Fill)
			observed, observedV := st.Pair(0, 1).BCDCor, st.Pair(0, 1).DCovSq
			exceed, exceedV, mean := 0, 0, 0.0
			for b := range r {
				pb := perm.Of(b)
				s, err := Compute(t.Context(), []Space{x, permuted(y, func(i int) int { return pb[i] })}, Options{TileSize: 16})
				if err != nil {
					t.Fatal(err)
				}
				rb := s.Pair(0, 1).BCDCor
				if rb >= observed {
					exceed++
				}
				if s.Pair(0, 1).DCovSq >= observedV {
					exceedV++
				}
				mean += rb / r
			}
			if got.Exceed != exceed || !scalar.EqualWithinAbsOrRel(got.Mean, mean, 1e-13, 1e-10) {
				t.Errorf("exceed %d mean %.17g, brute force %d %.17g", got.Exceed, got.Mean, exceed, mean)
			}
			// The V-statistic's test (dcov.test's) on the same permutations.
			if got.ExceedV != exceedV || got.PV != float64(1+exceedV)/(1+r) {
				t.Errorf("V-statistic: exceed %d p %v, brute force %d", got.ExceedV, got.PV, exceedV)
			}
			pt1, err := Permutations(t.Context(), sp, st, 0, 1, r, perm, Options{TileSize: 16, Workers: 1})
			if err != nil {
				t.Fatal(err)
			}
			if pt1.Result(st, perm.Fill) != got {
				t.Error("1 and 3 workers differ")
			}
			t.Logf("bcdcor %.4f, p = %.4f (%d of %d), V-statistic p = %.4f", observed, got.P, got.Exceed, r, got.PV)
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
		ps = append(ps, pt.Result(st, perm.Fill).P)
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
	if got := pt.Result(st, perm.Fill); got.P != 1.0/(r+1) {
		t.Errorf("strong dependence: p = %v, want 1/(R+1) = %v", got.P, 1.0/(r+1))
	}
}

// BenchmarkPermutationCost reports the cost of one permutation as a share
// of an exact run of the same data (permutation/exact), in CPU time of
// this process measured in the same run (robust to other load on the
// machine): the marginal cost, (T(1+r) − T(1))/r for T(R) the time of R
// permutations, which excludes x's distance tiles (computed once for all
// R, reported as capture/exact). The target is 0.5 at p = q.
func BenchmarkPermutationCost(b *testing.B) {
	for _, c := range []struct{ n, dim, r int }{{3000, 8, 4}, {3000, 64, 4}, {20000, 64, 2}} {
		n, dim, r := c.n, c.dim, c.r
		b.Run(fmt.Sprintf("n=%d/dim=%d", n, dim), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			sp := []Space{randSpace(rng, n, dim), randSpace(rng, n, dim)}
			opts := Options{Workers: 1}
			perm := NewPermutation(n, 1)
			var exact, one, more float64
			for b.Loop() {
				t0 := cpuSeconds()
				st, err := Compute(b.Context(), sp, opts)
				if err != nil {
					b.Fatal(err)
				}
				t1 := cpuSeconds()
				if _, err := Permutations(b.Context(), sp, st, 0, 1, 1, perm, opts); err != nil {
					b.Fatal(err)
				}
				t2 := cpuSeconds()
				if _, err := Permutations(b.Context(), sp, st, 0, 1, 1+r, perm, opts); err != nil {
					b.Fatal(err)
				}
				exact += t1 - t0
				one += t2 - t1
				more += cpuSeconds() - t2
			}
			marginal := (more - one) / float64(r)
			b.ReportMetric(marginal/exact, "permutation/exact")
			b.ReportMetric((one-marginal)/exact, "capture/exact")
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

// TestPackMappedCentred: the gather of a permuted tile's rows from the
// rows centred once (precentre) packs the same bits as centring them in
// the gather, for blocks of mr and nr rows and a last partial block.
func TestPackMappedCentred(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	n := 300
	sp := []Space{randSpace(rng, n, 40), randSpace(rng, n, 17)}
	p := newPlan(sp, n, 1, 64, kernelAuto)
	p.setShifts()
	perm := NewPermutation(n, 3)
	for k := range sp {
		p2 := perm.Of(2)
		q := p.sub(k, func(i int) int { return p2[i] })
		pre := p.sub(k, nil)
		pre.precentre()
		for _, w := range []int{mr, nr} {
			for _, c := range [][2]int{{0, 64}, {64, 61}, {256, 44}} {
				r0, m := c[0], c[1]
				size := (m + w - 1) / w * w
				a, b := make([]float64, size*sp[k].Dim), make([]float64, size*sp[k].Dim)
				na, nb := make([]float64, size), make([]float64, size)
				for i := range b {
					b[i] = 7 // the padding must be cleared
				}
				q.centredRows = nil
				q.packMapped(a, na, 0, r0, m, w)
				q.centredRows = pre.centredRows
				q.packMapped(b, nb, 0, r0, m, w)
				for i := range a {
					if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
						t.Fatalf("space %d, w %d, rows %d+%d: packed value %d: %v, want %v", k, w, r0, m, i, b[i], a[i])
					}
				}
				for i := range na {
					if math.Float64bits(na[i]) != math.Float64bits(nb[i]) {
						t.Fatalf("space %d, w %d, rows %d+%d: norm %d: %v, want %v", k, w, r0, m, i, nb[i], na[i])
					}
				}
			}
		}
	}
}
