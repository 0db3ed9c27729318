package job_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"

	"github.com/dcor-stream/dcor-stream/job"
	"github.com/dcor-stream/dcor-stream/stream"
)

// univariateCSV writes n samples of univariate x, y, z (y depends on x)
// to a CSV file and returns its name.
func univariateCSV(t *testing.T, n int) string {
	rng := rand.New(rand.NewPCG(5, 5))
	var b strings.Builder
	b.WriteString("x,y,z\n")
	for range n {
		x := rng.NormFloat64()
		fmt.Fprintf(&b, "%v,%v,%v\n", x, x*x+rng.NormFloat64(), 0.5*x+rng.NormFloat64())
	}
	f := filepath.Join(t.TempDir(), "xyz.csv")
	if err := os.WriteFile(f, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestUnivariateCompose: univariate spaces of more than 10,000 samples take
// the O(n log n) path in every schedule, so in memory, under a budget and
// in shards merged give the same bits; under a budget too small for it the
// tiles give the same statistics to rounding.
func TestUnivariateCompose(t *testing.T) {
	base := job.Spec{File: univariateCSV(t, 12000), Spaces: specs("x", "y", "z")}
	var notes []string
	base.Notify = func(s string) { notes = append(notes, s) }
	want := fingerprintOf(t, run(t, base, 1))
	if len(notes) == 0 || !strings.Contains(notes[0], "O(n log n)") {
		t.Fatalf("in memory: notes %q, want the univariate path", notes)
	}
	for _, c := range []struct {
		mem    int64
		shards int
	}{{64 << 20, 1}, {0, 3}, {64 << 20, 4}} {
		spec := base
		spec.Memory = c.mem
		if got := fingerprintOf(t, run(t, spec, c.shards)); got != want {
			t.Errorf("memory %d, %d shards: differs from the in-memory run", c.mem, c.shards)
		}
	}
	exact, err := job.Run(t.Context(), base)
	if err != nil {
		t.Fatal(err)
	}
	notes = nil
	small := base
	small.Memory = 1 << 20 // below the univariate path's 1.7 MB: the tiles
	out, err := job.Run(t.Context(), small)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(notes, "\n"), "computing by tiles") {
		t.Errorf("notes %q, want the fallback to the tiles", notes)
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"bcdcor", out.Pair.BCDCor, exact.Pair.BCDCor}, {"dcor", out.Pair.DCor, exact.Pair.DCor},
		{"pdcor", out.Pair.Partial.PDCor, exact.Pair.Partial.PDCor},
	} {
		if !scalar.EqualWithinAbsOrRel(c.got, c.want, 1e-13, 1e-11) {
			t.Errorf("%s: tiles %.17g, univariate path %.17g", c.name, c.got, c.want)
		}
	}
	tiles := base
	tiles.Estimator = "univariate"
	tiles.Memory = 1 << 20
	if _, err := job.Run(t.Context(), tiles); err == nil {
		t.Error("-estimator univariate under a budget too small for it ran")
	}
}

// TestExtras: -ci, -permutations and -cka through Run, pair (with z) and
// matrix: standard errors positive and intervals around the estimate;
// p-values on the grid 1/(R+1); the covariance matrix symmetric with the
// squared SEs on its diagonal; CKA in [−1, 1]; and the same numbers for 1
// and 3 workers, and for 2 under a memory budget.
func TestExtras(t *testing.T) {
	pair := job.Spec{File: activations, Spaces: specs("model_a", "model_b", "noise"), CI: 0.9, Permutations: 19, Seed: 4, CKA: true}
	pair.Options.Workers = 3
	out, err := job.Run(t.Context(), pair)
	if err != nil {
		t.Fatal(err)
	}
	x := out.Pair.Extras
	if x == nil {
		t.Fatal("no extras")
	}
	in := func(v float64, ci [2]float64) bool { return ci[0] <= v && v <= ci[1] }
	if !(x.BCDCorSE > 0 && x.DCorSE > 0 && x.PDCorSE > 0) || !in(out.Pair.BCDCor, x.BCDCorCI) || !in(out.Pair.Partial.PDCor, x.PDCorCI) || x.CILevel != 0.9 {
		t.Errorf("intervals: %+v", x)
	}
	for _, p := range []float64{x.PermP, x.PDCorPermP} {
		if k := p * 20; p <= 0 || p > 1 || math.Abs(k-math.Round(k)) > 1e-9 {
			t.Errorf("permutation p-value %v not on the grid k/20", p)
		}
	}
	if x.PermP != 1.0/20 {
		t.Errorf("model_a and model_b depend strongly: p = %v, want 1/20", x.PermP)
	}
	if !(x.CKA && x.CKALinear > 0 && x.CKALinear <= 1 && x.HSICLinU > 0) {
		t.Errorf("CKA: %+v", x)
	}
	pair.Options.Workers = 1
	one, err := job.Run(t.Context(), pair)
	if err != nil {
		t.Fatal(err)
	}
	if *one.Pair.Extras != *x {
		t.Errorf("1 worker %+v, 3 workers %+v", *one.Pair.Extras, *x)
	}
	pair.Options.Workers, pair.Memory = 2, 256<<10
	if mem, err := job.Run(t.Context(), pair); err != nil || *mem.Pair.Extras != *x {
		t.Errorf("2 workers under -mem: %v, %+v, in memory %+v", err, mem.Pair.Extras, *x)
	}

	mat := job.Spec{File: networks, Spaces: specs("a_layer1", "a_layer2", "b_block1", "b_block2"),
		Matrix: &job.Matrix{Rows: []int{0, 1}, Cols: []int{2, 3}, Given: job.NoGiven}, CI: 0.95, CKA: true}
	out, err = job.Run(t.Context(), mat)
	if err != nil {
		t.Fatal(err)
	}
	m := out.Matrix
	if len(m.BCDCorCov) != 4 || len(m.BCDCorSE) != 2 || len(m.CKALinear) != 2 {
		t.Fatalf("matrix extras of the wrong shape: %d, %d, %d", len(m.BCDCorCov), len(m.BCDCorSE), len(m.CKALinear))
	}
	for a := range 4 {
		if se := m.BCDCorSE[a/2][a%2]; !(se > 0) || math.Abs(m.BCDCorCov[a][a]-se*se) > 1e-15 {
			t.Errorf("entry %d: SE %v, variance %v", a, se, m.BCDCorCov[a][a])
		}
		for b := range 4 {
			if m.BCDCorCov[a][b] != m.BCDCorCov[b][a] {
				t.Errorf("covariance not symmetric at %d, %d", a, b)
			}
		}
	}
	for _, row := range m.CKALinear {
		for _, v := range row {
			if !(v >= -1 && v <= 1) {
				t.Errorf("cka_linear %v", v)
			}
		}
	}
	// Intervals and CKA under a memory budget: the in-memory bits.
	budget := mat
	budget.Memory = 1 << 20
	mem, err := job.Run(t.Context(), budget)
	if err != nil {
		t.Fatal(err)
	}
	g, w := mem.Matrix, out.Matrix
	if fmt.Sprint(g.BCDCor, g.BCDCorCov, g.CKALinear, g.CKARBF) != fmt.Sprint(w.BCDCor, w.BCDCorCov, w.CKALinear, w.CKARBF) {
		t.Errorf("-ci -cka under a memory budget: %v %v %v %v, in memory %v %v %v %v",
			g.BCDCor, g.BCDCorCov, g.CKALinear, g.CKARBF, w.BCDCor, w.BCDCorCov, w.CKALinear, w.CKARBF)
	}
}

// TestBlocks: the block estimator's bcdcor and pdcor lie within 3.5 of
// their standard errors of the exact values, for several block sizes; the
// running estimate is reported every Every rows; blocks refuse a budget.
func TestBlocks(t *testing.T) {
	exact, err := job.Run(t.Context(), job.Spec{File: activations, Spaces: specs("model_a", "model_b", "noise")})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []int{50, 100, 333} {
		var running []int
		spec := job.Spec{File: activations, Spaces: specs("model_a", "model_b", "noise"), Estimator: "blocks", Block: b, Every: 300,
			OnBlocks: func(p *job.BlockPair) error { running = append(running, p.Rows); return nil }}
		out, err := job.Run(t.Context(), spec)
		if err != nil {
			t.Fatal(err)
		}
		p := out.Blocks
		if p == nil || p.Blocks != 1000/b || p.Unused != 1000%b && 1000%b >= 4 {
			t.Fatalf("B=%d: %+v", b, p)
		}
		if d := math.Abs(p.BCDCor - exact.Pair.BCDCor); !(p.BCDCorSE > 0) || d > 3.5*p.BCDCorSE {
			t.Errorf("B=%d: bcdcor %v ± %v, exact %v", b, p.BCDCor, p.BCDCorSE, exact.Pair.BCDCor)
		}
		if d := math.Abs(p.Partial.PDCor - exact.Pair.Partial.PDCor); !(p.Partial.PDCorSE > 0) || d > 3.5*p.Partial.PDCorSE {
			t.Errorf("B=%d: pdcor %v ± %v, exact %v", b, p.Partial.PDCor, p.Partial.PDCorSE, exact.Pair.Partial.PDCor)
		}
		if len(running) == 0 || running[0] < 300 {
			t.Errorf("B=%d: running estimates at %v rows", b, running)
		}
	}
	if _, err := job.Run(t.Context(), job.Spec{File: activations, Spaces: specs("model_a", "model_b"), Estimator: "blocks", Block: 100, Memory: 1 << 20}); err == nil {
		t.Error("blocks under a memory budget ran")
	}
}

// TestNames: NAME=SPEC names a matrix space; a .npy space is labelled with
// its file's stem; a name that would name several spaces is refused.
func TestNames(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "mlp_h3.npy"), filepath.Join(dir, "cnn_block2.npy")
	data := make([]byte, 6*2*8)
	for i := range 12 {
		binary.LittleEndian.PutUint64(data[8*i:], math.Float64bits(float64(i*i%7)))
	}
	writeNpy(t, a, "(6, 2)", data)
	writeNpy(t, b, "(6, 2)", data)
	_, labels, _, err := job.MatrixSpaces(t.Context(), "", nil,
		[]job.SpaceArg{{Spec: "mlp=" + a, Each: true, Flag: "rows"}}, []job.SpaceArg{{Spec: b, Each: true, Flag: "cols"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(labels) != "[mlp cnn_block2]" {
		t.Errorf("labels %q, want [mlp cnn_block2]", labels)
	}
	if _, _, _, err := job.MatrixSpaces(t.Context(), networks, nil,
		[]job.SpaceArg{{Spec: "a=a_*", Each: true, Flag: "rows"}}, nil, nil); err == nil {
		t.Error("a name for six spaces was accepted")
	}
	if n, s := job.SplitName("x_*=3"); n != "" || s != "x_*=3" {
		t.Errorf("SplitName of a glob: %q, %q", n, s)
	}
	// The pair mode follows the same rule, in every schedule: the stem
	// unless Labels names the space.
	data = make([]byte, 40*2*8)
	for i := range 80 {
		binary.LittleEndian.PutUint64(data[8*i:], math.Float64bits(float64(i*i%11)))
	}
	writeNpy(t, a, "(40, 2)", data)
	writeNpy(t, b, "(40, 2)", data)
	pair := []stream.Spec{{File: a, Columns: []string{"data"}}, {File: b, Columns: []string{"data"}}}
	for _, tc := range []struct {
		name string
		spec job.Spec
		want string
	}{
		{"in memory", job.Spec{Spaces: pair}, "[mlp_h3 cnn_block2]"},
		{"named", job.Spec{Spaces: pair, Labels: []string{"", "cnn"}}, "[mlp_h3 cnn]"},
		{"out of core", job.Spec{Spaces: pair, Memory: 1 << 20}, "[mlp_h3 cnn_block2]"},
		{"online", job.Spec{Spaces: pair, Every: 10}, "[mlp_h3 cnn_block2]"},
		{"blocks", job.Spec{Spaces: pair, Estimator: "blocks", Block: 10}, "[mlp_h3 cnn_block2]"},
	} {
		out, err := job.Run(t.Context(), tc.spec)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		spaces := []job.SpaceInfo(nil)
		if out.Pair != nil {
			spaces = out.Pair.Spaces
		} else {
			spaces = out.Blocks.Spaces
		}
		var got []string
		for _, sp := range spaces {
			got = append(got, sp.Label)
		}
		if fmt.Sprint(got) != tc.want {
			t.Errorf("%s: pair labels %q, want %s", tc.name, got, tc.want)
		}
	}
	// The minibatch mean of a pair is a 1×1 matrix, labelled the same.
	out, err := job.Run(t.Context(), job.Spec{Spaces: pair, Minibatch: 10})
	if err != nil {
		t.Fatal(err)
	}
	if m := out.Matrix; fmt.Sprint(m.Rows, m.Cols) != "[mlp_h3] [cnn_block2]" {
		t.Errorf("minibatch: rows %q, cols %q, want [mlp_h3] [cnn_block2]", m.Rows, m.Cols)
	}
}
