package job_test

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/dcor-stream/dcor-stream/job"
	"github.com/dcor-stream/dcor-stream/stream"
)

// dense is a space in memory: n rows of dim values.
type dense struct {
	n, dim int
	v      []float64
}

func denseOf(sp stream.Space) dense { return dense{len(sp.Data) / sp.Dim, sp.Dim, sp.Data} }

// ucentred returns the U-centred kernel matrix of x (zero diagonal) with
// k(i, j) = kern(i, j).
func ucentred(n int, kern func(i, j int) float64) [][]float64 {
	k := make([][]float64, n)
	row := make([]float64, n)
	var tot float64
	for i := range n {
		k[i] = make([]float64, n)
		for j := range n {
			if i != j {
				k[i][j] = kern(i, j)
				row[i] += k[i][j]
			}
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

// uinner is the U-statistic (A·B)/(n(n−3)) of U-centred matrices.
func uinner(a, b [][]float64) float64 {
	var s float64
	for i := range a {
		for j := range a[i] {
			s += a[i][j] * b[i][j]
		}
	}
	n := float64(len(a))
	return s / (n * (n - 3))
}

// rbfDense returns the U-centred Gaussian kernel matrix of x with
// bandwidth sigma.
func rbfDense(x dense, sigma float64) [][]float64 {
	return ucentred(x.n, func(i, j int) float64 {
		var d2 float64
		for q := range x.dim {
			u := x.v[i*x.dim+q] - x.v[j*x.dim+q]
			d2 += u * u
		}
		return math.Exp(-d2 / (2 * sigma * sigma))
	})
}

// linDense returns the U-centred linear kernel matrix of x.
func linDense(x dense) [][]float64 {
	return ucentred(x.n, func(i, j int) float64 {
		var s float64
		for q := range x.dim {
			s += x.v[i*x.dim+q] * x.v[j*x.dim+q]
		}
		return s
	})
}

// medianSigma is the median heuristic as documented: the lower median of
// the distances of the pairs of the first job.MedianRows rows.
func medianSigma(x dense) float64 {
	m := min(x.n, job.MedianRows)
	var d []float64
	for i := range m {
		for j := i + 1; j < m; j++ {
			var d2 float64
			for q := range x.dim {
				u := x.v[i*x.dim+q] - x.v[j*x.dim+q]
				d2 += float64(u * u)
			}
			d = append(d, math.Sqrt(d2))
		}
	}
	slices.Sort(d)
	return d[(len(d)-1)/2]
}

func close10(got, want float64) bool {
	return math.Abs(got-want) <= 1e-10*math.Max(1, math.Abs(want))
}

// TestCKADense: cka_rbf, hsic_rbf_u, cka_linear and hsic_linear_u of the
// shipped cases (fused Gram spaces, direct spaces, a univariate one; the
// exponents 1, 2 and ½, which do not change them) are those of the dense
// U-centred kernel matrices with zero diagonals to 1e-10, and the
// bandwidths are the documented median heuristic's (or the given ones).
func TestCKADense(t *testing.T) {
	for _, c := range []struct {
		file     string
		x, y     string
		exponent float64
		sigma    []float64
	}{
		{activations, "model_a", "model_b", 1, nil},
		{activations, "noise", "label", 2, nil},
		{networks, "input", "a_layer1", 0.5, []float64{0.9, 0}},
		{networks, "label", "b_block2", 1, []float64{0, 12}},
	} {
		t.Run(c.x+"-"+c.y, func(t *testing.T) {
			sp := specs(c.x, c.y)
			tab, err := stream.Load(t.Context(), c.file, sp, stream.Options{})
			if err != nil {
				t.Fatal(err)
			}
			x, y := denseOf(tab.Spaces[0]), denseOf(tab.Spaces[1])
			out, err := job.Run(t.Context(), job.Spec{File: c.file, Spaces: sp, CKA: true, RBFSigma: c.sigma, Options: job.Options{Exponent: c.exponent, Tile: 128}})
			if err != nil {
				t.Fatal(err)
			}
			e := out.Pair.Extras
			if e == nil || !e.RBF || !e.CKA {
				t.Fatalf("extras %+v", e)
			}
			sx, sy := medianSigma(x), medianSigma(y)
			if len(c.sigma) > 0 && c.sigma[0] > 0 {
				sx = c.sigma[0]
			}
			if len(c.sigma) > 1 && c.sigma[1] > 0 {
				sy = c.sigma[1]
			}
			if e.RBFSigmaX != sx || e.RBFSigmaY != sy {
				t.Errorf("σ %v %v, the median heuristic's %v %v", e.RBFSigmaX, e.RBFSigmaY, sx, sy)
			}
			kx, ky := rbfDense(x, sx), rbfDense(y, sy)
			hxy, hxx, hyy := uinner(kx, ky), uinner(kx, kx), uinner(ky, ky)
			if !close10(e.HSICRBFU, hxy) || !close10(e.CKARBF, hxy/math.Sqrt(hxx*hyy)) {
				t.Errorf("rbf: hsic %.15g cka %.15g, dense %.15g %.15g", e.HSICRBFU, e.CKARBF, hxy, hxy/math.Sqrt(hxx*hyy))
			}
			lx, ly := linDense(x), linDense(y)
			hxy, hxx, hyy = uinner(lx, ly), uinner(lx, lx), uinner(ly, ly)
			if !close10(e.HSICLinU, hxy) || !close10(e.CKALinear, hxy/math.Sqrt(hxx*hyy)) {
				t.Errorf("linear: hsic %.15g cka %.15g, dense %.15g %.15g", e.HSICLinU, e.CKALinear, hxy, hxy/math.Sqrt(hxx*hyy))
			}
		})
	}
}

// TestRBFInvariance: RBF CKA is unchanged, to rounding, by a translation
// of either space, and by an orthogonal rotation with the same σ; linear
// CKA by a translation, a rotation and an isotropic scaling.
func TestRBFInvariance(t *testing.T) {
	tab, err := stream.Load(t.Context(), activations, specs("model_b", "model_a"), stream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	x, y := tab.Spaces[0], tab.Spaces[1]
	runOf := func(x, y stream.Space, sigma []float64) *job.PairExtras {
		out, err := job.Run(t.Context(), job.Spec{Data: []stream.Space{x, y}, CKA: true, RBFSigma: sigma})
		if err != nil {
			t.Fatal(err)
		}
		return out.Pair.Extras
	}
	base := runOf(x, y, nil)
	sigma := []float64{base.RBFSigmaX, base.RBFSigmaY}
	// A rotation of x: a product of random Givens rotations; a
	// translation of y.
	rng := rand.New(rand.NewPCG(2, 9))
	rx := stream.Space{Name: x.Name, Dim: x.Dim, Data: slices.Clone(x.Data)}
	for range 3 * x.Dim {
		a, b := rng.IntN(x.Dim), rng.IntN(x.Dim)
		if a == b {
			continue
		}
		th := rng.Float64() * 2 * math.Pi
		c, s := math.Cos(th), math.Sin(th)
		for i := range len(rx.Data) / x.Dim {
			u, v := rx.Data[i*x.Dim+a], rx.Data[i*x.Dim+b]
			rx.Data[i*x.Dim+a], rx.Data[i*x.Dim+b] = c*u-s*v, s*u+c*v
		}
	}
	ty := stream.Space{Name: y.Name, Dim: y.Dim, Data: slices.Clone(y.Data)}
	for i := range ty.Data {
		ty.Data[i] += 1000 + float64(i%y.Dim)
	}
	got := runOf(rx, ty, sigma)
	if math.Abs(got.CKARBF-base.CKARBF) > 1e-10 || math.Abs(got.HSICRBFU-base.HSICRBFU) > 1e-10*base.HSICRBFU {
		t.Errorf("rbf rotated and translated: %v %v, want %v %v", got.CKARBF, got.HSICRBFU, base.CKARBF, base.HSICRBFU)
	}
	if math.Abs(got.CKALinear-base.CKALinear) > 1e-10 {
		t.Errorf("linear rotated and translated: %v, want %v", got.CKALinear, base.CKALinear)
	}
	sx := stream.Space{Name: x.Name, Dim: x.Dim, Data: slices.Clone(x.Data)}
	for i := range sx.Data {
		sx.Data[i] *= 7.25
	}
	if got := runOf(sx, y, nil); math.Abs(got.CKALinear-base.CKALinear) > 1e-10 || math.Abs(got.CKARBF-base.CKARBF) > 1e-10 || got.RBFSigmaX != 7.25*base.RBFSigmaX {
		t.Errorf("scaled by 7.25: linear %v rbf %v σ %v, want %v %v %v (the median heuristic scales with the data)",
			got.CKALinear, got.CKARBF, got.RBFSigmaX, base.CKALinear, base.CKARBF, 7.25*base.RBFSigmaX)
	}
	// The bandwidth matters: another σ, another value.
	if got := runOf(x, y, []float64{sigma[0] / 4, sigma[1]}); math.Abs(got.CKARBF-base.CKARBF) < 1e-3 {
		t.Errorf("σx/4: cka_rbf %v, as with σx (%v)", got.CKARBF, base.CKARBF)
	}
}

// TestRBFSigmaMismatch: a checkpoint is not resumed, and shards not
// merged, with other bandwidths; a space whose leading rows are all equal
// needs one given.
func TestRBFSigmaMismatch(t *testing.T) {
	base := job.Spec{File: activations, Spaces: specs("model_a", "model_b"), CKA: true, Options: job.Options{Tile: 64}}
	cp := interrupted(t, base, 5)
	other := base
	other.Checkpoint, other.RBFSigma = cp, []float64{1, 0}
	if _, err := job.Run(t.Context(), other); err == nil || !strings.Contains(err.Error(), "bandwidths") {
		t.Errorf("resumed with another σ: %v", err)
	}
	s0 := run(t, withShard(base, 0, 2), 1).State
	other = withShard(base, 1, 2)
	other.RBFSigma = []float64{1, 0}
	if _, err := job.Merge(s0, run(t, other, 1).State); err == nil || !strings.Contains(err.Error(), "bandwidths") {
		t.Errorf("merged with another σ: %v", err)
	}
	flat := stream.Space{Name: "flat", Dim: 2, Data: make([]float64, 2*1000)}
	for i := 500; i < 1000; i++ {
		flat.Data[2*i] = float64(i)
	}
	y := stream.Space{Name: "y", Dim: 1, Data: make([]float64, 1000)}
	for i := range y.Data {
		y.Data[i] = float64(i % 7)
	}
	_, err := job.Run(context.Background(), job.Spec{Data: []stream.Space{flat, y}, CKA: true})
	if err == nil || !strings.Contains(err.Error(), "-rbf-sigma") {
		t.Errorf("a space of equal leading rows: %v", err)
	}
	if _, err := job.Run(t.Context(), job.Spec{Data: []stream.Space{flat, y}, CKA: true, RBFSigma: []float64{1, 0}}); err != nil {
		t.Errorf("with σ given: %v", err)
	}
}

// TestRBFBiasStory: on independent data with few samples and many
// features, biased RBF CKA (HSIC of the double-centred kernel matrices,
// diagonal included, as the minibatch CKA libraries compute it) is large;
// debiased RBF CKA is near 0, as for the linear kernel.
func TestRBFBiasStory(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 3))
	const n, p = 40, 500
	sp := make([]stream.Space, 2)
	for k := range sp {
		sp[k] = stream.Space{Name: string(rune('x' + k)), Dim: p, Data: make([]float64, n*p)}
		for i := range sp[k].Data {
			sp[k].Data[i] = rng.NormFloat64()
		}
	}
	out, err := job.Run(t.Context(), job.Spec{Data: sp, CKA: true})
	if err != nil {
		t.Fatal(err)
	}
	e := out.Pair.Extras
	// Biased: tr(HKH·HLH)/sqrt(tr(HKH·HKH)·tr(HLH·HLH)), K with its
	// diagonal of ones.
	centred := func(x dense, sigma float64) [][]float64 {
		k := make([][]float64, n)
		row := make([]float64, n)
		var tot float64
		for i := range n {
			k[i] = make([]float64, n)
			for j := range n {
				var d2 float64
				for q := range p {
					u := x.v[i*p+q] - x.v[j*p+q]
					d2 += u * u
				}
				k[i][j] = math.Exp(-d2 / (2 * sigma * sigma))
				row[i] += k[i][j]
			}
			tot += row[i]
		}
		for i := range n {
			for j := range n {
				k[i][j] += -row[i]/n - row[j]/n + tot/(n*n)
			}
		}
		return k
	}
	a, b := centred(denseOf(sp[0]), e.RBFSigmaX), centred(denseOf(sp[1]), e.RBFSigmaY)
	dot := func(a, b [][]float64) float64 {
		var s float64
		for i := range a {
			for j := range a[i] {
				s += a[i][j] * b[i][j]
			}
		}
		return s
	}
	biased := dot(a, b) / math.Sqrt(dot(a, a)*dot(b, b))
	t.Logf("n=40, p=q=500, independent: biased RBF CKA %.3f, debiased %.4f; linear debiased %.4f", biased, e.CKARBF, e.CKALinear)
	if !(biased > 0.5 && math.Abs(e.CKARBF) < 3*math.Sqrt(2.0/(40*37))) {
		t.Errorf("biased %.3f, debiased %.4f", biased, e.CKARBF)
	}
}
