package block

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/dcor-stream/dcor-stream/estimator"
)

// TestDetExp: detExp is within 2 ulp of math.Exp (itself within 1 of e^x) over [−708, 0], exact at
// 0 and 0 below −708.
func TestDetExp(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	worst := 0.0
	for i := range 2000000 {
		var x float64
		switch i % 3 {
		case 0:
			x = -rng.Float64() * 708
		case 1:
			x = -rng.Float64() * 2
		default:
			x = -math.Ldexp(rng.Float64(), -rng.IntN(60))
		}
		got, want := detExp(x), math.Exp(x)
		ulp := math.Nextafter(want, math.Inf(1)) - want
		if d := math.Abs(got-want) / ulp; d > worst {
			worst = d
		}
	}
	if worst > 2 {
		t.Errorf("detExp is %v ulp from math.Exp", worst)
	}
	if detExp(0) != 1 || detExp(-709) != 0 || detExp(-1e300) != 0 || !math.IsNaN(detExp(math.NaN())) {
		t.Error("detExp at 0, below −708 or NaN")
	}
}

// rbfSpaces returns two dependent spaces of dimension p and q.
func rbfSpaces(rng *rand.Rand, n, p, q int) []Space {
	x := Space{Dim: p, Data: make([]float64, n*p)}
	y := Space{Dim: q, Data: make([]float64, n*q)}
	for i := range n {
		z := rng.NormFloat64()
		for a := range p {
			x.Data[i*p+a] = z*float64(a%3+1) + rng.NormFloat64() + 5
		}
		for b := range q {
			y.Data[i*q+b] = math.Sin(z)*float64(b%2+1) + 0.5*rng.NormFloat64() - 3
		}
	}
	return []Space{x, y}
}

// denseHSIC returns unbiased HSIC of the Gaussian kernels of x and y
// (σx, σy) and debiased CKA, from the dense U-centred kernel matrices with
// zero diagonals.
func denseHSIC(x, y Space, sx, sy float64) (hxy, cka float64) {
	n := x.Rows()
	ucentre := func(s Space, sigma float64) [][]float64 {
		k := make([][]float64, n)
		row := make([]float64, n)
		var tot float64
		for i := range n {
			k[i] = make([]float64, n)
			for j := range n {
				if i == j {
					continue
				}
				var d2 float64
				for q := range s.Dim {
					u := s.Data[i*s.Dim+q] - s.Data[j*s.Dim+q]
					d2 += u * u
				}
				k[i][j] = math.Exp(-d2 / (2 * sigma * sigma))
				row[i] += k[i][j]
			}
			tot += row[i]
		}
		nf := float64(n)
		for i := range n {
			for j := range n {
				if i != j {
					k[i][j] += -row[i]/(nf-2) - row[j]/(nf-2) + tot/((nf-1)*(nf-2))
				}
			}
		}
		return k
	}
	a, b := ucentre(x, sx), ucentre(y, sy)
	dot := func(a, b [][]float64) float64 {
		var s float64
		for i := range n {
			for j := range n {
				s += a[i][j] * b[i][j]
			}
		}
		return s / (float64(n) * float64(n-3))
	}
	hxy, hxx, hyy := dot(a, b), dot(a, a), dot(b, b)
	return hxy, hxy / math.Sqrt(hxx*hyy)
}

// rbfRun computes the kernel state of spaces over every tile (none
// without r.Spaces), with the given workers and strip kernels, and the
// distance state.
func rbfRun(t testing.TB, spaces []Space, opts Options, r RBF, impl *kernels) (ks, st *estimator.Stats) {
	t.Helper()
	pl, err := Prepare(spaces, opts)
	if err != nil {
		t.Fatal(err)
	}
	if impl != nil {
		pl.eng.p.kern = *impl
	}
	if err := pl.ScanBound(spaces); err != nil {
		t.Fatal(err)
	}
	st, err = pl.NewStats()
	if err != nil {
		t.Fatal(err)
	}
	if r.Spaces != nil {
		if ks, err = pl.NewRBFStats(r); err != nil {
			t.Fatal(err)
		}
		if err := pl.SetRBF(r, ks); err != nil {
			t.Fatal(err)
		}
	}
	g := (pl.N() + pl.TileSize() - 1) / pl.TileSize()
	var tiles []Tile
	for i := range g {
		for j := i; j < g; j++ {
			tiles = append(tiles, Tile{i, j})
		}
	}
	// In reverse order: the sums do not depend on it.
	for a, b := 0, len(tiles)-1; a < b; a, b = a+1, b-1 {
		tiles[a], tiles[b] = tiles[b], tiles[a]
	}
	if err := pl.AddTiles(t.Context(), st, spaces, tiles, nil); err != nil {
		t.Fatal(err)
	}
	return ks, st
}

// TestRBFTiles: the kernel state summed in the tiles gives unbiased HSIC
// and debiased CKA of the dense reference to 1e-10, for the univariate,
// direct and fused (Gram) kernels and α = 0.5, 1, 2; the same bytes for 1
// and 3 workers and for every strip-kernel set; and the distance state
// is that of a run without the kernel sums.
func TestRBFTiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 2))
	for _, c := range []struct {
		name  string
		p, q  int
		alpha float64
	}{{"univariate", 1, 1, 1}, {"univariate-sq", 1, 1, 2}, {"direct", 3, 5, 1}, {"direct-half", 3, 5, 0.5}, {"fused", 20, 40, 1}, {"fused-sq", 20, 17, 2}, {"mixed", 20, 2, 0.5}} {
		t.Run(c.name, func(t *testing.T) {
			n := 150
			spaces := rbfSpaces(rng, n, c.p, c.q)
			sx, sy := MedianDistance(spaces[0], 1000), MedianDistance(spaces[1], 1000)
			r := RBF{Spaces: []int{0, 1}, Sigma: []float64{sx, 0.7 * sy}}
			opts := Options{Exponent: c.alpha, TileSize: 32, Workers: 1}
			ks, st := rbfRun(t, spaces, opts, r, nil)
			_, plain := rbfRun(t, spaces, opts, RBF{}, nil)
			a, _ := st.MarshalBinary()
			b, _ := plain.MarshalBinary()
			if !bytes.Equal(a, b) {
				t.Error("the distance state differs with the kernel sums")
			}
			res := ks.Pair(0, 1)
			hxy, cka := denseHSIC(spaces[0], spaces[1], sx, 0.7*sy)
			if math.Abs(res.DCovU-hxy) > 1e-10*math.Abs(hxy) || math.Abs(res.BCDCor-cka) > 1e-10 {
				t.Errorf("hsic %.15g cka %.15g, dense %.15g %.15g", res.DCovU, res.BCDCor, hxy, cka)
			}
			if !(cka > 0.05) {
				t.Errorf("dependent spaces: cka %v", cka)
			}
			want, _ := ks.MarshalBinary()
			opts.Workers = 3
			k3, _ := rbfRun(t, spaces, opts, r, nil)
			got, _ := k3.MarshalBinary()
			if !bytes.Equal(got, want) {
				t.Error("3 workers: other bits")
			}
			for _, set := range kernelSets() {
				kg, _ := rbfRun(t, spaces, opts, r, &set)
				got, _ = kg.MarshalBinary()
				if !bytes.Equal(got, want) {
					t.Errorf("strip kernels %s: other bits", set.name)
				}
			}
		})
	}
}

// TestRBFRefused: other exponents, float32 and bad bandwidths are refused.
func TestRBFRefused(t *testing.T) {
	spaces := rbfSpaces(rand.New(rand.NewPCG(1, 1)), 40, 2, 2)
	for _, c := range []struct {
		opts  Options
		sigma float64
	}{{Options{Exponent: 1.5}, 1}, {Options{Precision: Float32}, 1}, {Options{}, 0}, {Options{}, math.NaN()}, {Options{}, 1e-300}} {
		pl, err := Prepare(spaces, c.opts)
		if err != nil {
			t.Fatal(err)
		}
		pl.ScanBound(spaces)
		if _, err := pl.NewStats(); err != nil {
			t.Fatal(err)
		}
		if _, err := pl.NewRBFStats(RBF{Spaces: []int{0, 1}, Sigma: []float64{c.sigma, 1}}); err == nil {
			t.Errorf("%+v, σ %v: accepted", c.opts, c.sigma)
		}
	}
}

// BenchmarkRBF: the tiles of n = 3,000 samples, p = q = 256, with and
// without the Gaussian kernel sums (one worker).
func BenchmarkRBF(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	spaces := rbfSpaces(rng, 3000, 256, 256)
	for _, on := range []bool{false, true} {
		b.Run(map[bool]string{false: "dcor", true: "dcor+rbf"}[on], func(b *testing.B) {
			r := RBF{}
			if on {
				r = RBF{Spaces: []int{0, 1}, Sigma: []float64{20, 20}}
			}
			for b.Loop() {
				rbfRun(b, spaces, Options{Workers: 1}, r, nil)
			}
		})
	}
}

// TestKernStrip: every kernel set's kernStrip gives the bits of the Go
// loops, for the three modes, over kernel values from 1 (distance 0) to
// below e^−708, and shifted distances below −ck.
func TestKernStrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	d := make([]float64, 1<<14+4)
	for mode := range 3 {
		for _, g := range []float64{1e-3, 0.7, 3e4} {
			ck, cs := 1.5, 0.375
			for i := range d {
				switch i % 4 {
				case 0:
					d[i] = rng.Float64()*60 - ck
				case 1:
					d[i] = math.Ldexp(rng.Float64(), -rng.IntN(1000)) - ck
				case 2:
					d[i] = rng.Float64() * 3
				default:
					d[i] = []float64{-ck, 0, -2 * ck, 1e300, 20, math.Ldexp(1, -1074)}[rng.IntN(6)]
				}
			}
			want := make([]float64, len(d))
			kernStripGo(d, want, g, ck, cs, mode)
			for _, k := range kernelSets() {
				got := make([]float64, len(d))
				k.kernStrip(d, got, g, ck, cs, mode)
				for i := range got {
					if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
						t.Fatalf("%s, mode %d, g %v: kernel of %v = %v, Go %v", k.name, mode, g, d[i], got[i], want[i])
					}
				}
			}
		}
	}
}
