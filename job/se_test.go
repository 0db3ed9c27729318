package job_test

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/dcor-stream/dcor-stream/job"
	"github.com/dcor-stream/dcor-stream/stream"
)

// pairJSON runs spec and decodes its pair (or block pair) JSON.
func pairJSON(t *testing.T, spec job.Spec) map[string]any {
	t.Helper()
	out, err := job.Run(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	var b []byte
	switch {
	case out.Blocks != nil:
		b, err = json.Marshal(out.Blocks)
	default:
		b, err = json.Marshal(out.Pair)
	}
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func flagsOf(m map[string]any) []string {
	var out []string
	for _, f := range m["flags"].([]any) {
		out = append(out, f.(string))
	}
	return out
}

// TestCIUndefinedSE: at n = 4 the delete-one U-statistics are undefined,
// so -ci leaves bcdcor_se, pdcor_se and their intervals out and flags
// se_undefined, where it printed a certain-looking 0 ± 0; dcor_se, whose
// delete-one V-statistics of 3 samples are defined, is given (p15: the
// brute-force refits give 0.1418). At n = 5 nothing is left out.
func TestCIUndefinedSE(t *testing.T) {
	x := []float64{0.1, 0.5, -1.3, 0.2, 0.8, -0.9, 2.0, 1.1}
	y := []float64{1.2, -0.4, 1.9, 0.3}
	z := []float64{0.7, -0.2, 0.4, 1.5}
	data := []stream.Space{{Name: "x", Data: x, Dim: 2}, {Name: "y", Data: y, Dim: 1}, {Name: "z", Data: z, Dim: 1}}
	m := pairJSON(t, job.Spec{Data: data, CI: 0.95})
	for _, k := range []string{"bcdcor_se", "bcdcor_ci", "pdcor_se", "pdcor_ci"} {
		if v, ok := m[k]; ok {
			t.Errorf("n = 4: %s = %v, want it left out", k, v)
		}
	}
	if se, _ := m["dcor_se"].(float64); !(se > 0.14 && se < 0.145) {
		t.Errorf("n = 4: dcor_se = %v, want about 0.1418 (the refits)", m["dcor_se"])
	}
	if !slices.Contains(flagsOf(m), "se_undefined") {
		t.Errorf("n = 4: flags %v, want se_undefined", m["flags"])
	}

	data = []stream.Space{{Name: "x", Data: append(x, 0.3, -0.6), Dim: 2}, {Name: "y", Data: append(y, 0.9), Dim: 1}, {Name: "z", Data: append(z, -1.1), Dim: 1}}
	m = pairJSON(t, job.Spec{Data: data, CI: 0.95})
	for _, k := range []string{"dcor_se", "bcdcor_se", "bcdcor_ci", "pdcor_se", "pdcor_ci"} {
		if _, ok := m[k]; !ok {
			t.Errorf("n = 5: %s left out", k)
		}
	}
	if slices.Contains(flagsOf(m), "se_undefined") {
		t.Errorf("n = 5: flags %v", m["flags"])
	}
}

// TestBlocksOneBlockSE: with one block (B ≥ n) the delete-one-block SEs
// are undefined: left out and flagged se_undefined, not 0 with
// too_few_samples (the block's U-statistics are defined); identical
// spaces under blocks give bcdcor 1 with perfect_dependence, as the
// exact path does.
func TestBlocksOneBlockSE(t *testing.T) {
	rng := rand.New(rand.NewPCG(22, 2))
	n := 40
	x, y := make([]float64, n), make([]float64, n)
	for i := range x {
		x[i] = rng.NormFloat64()
		y[i] = x[i] + rng.NormFloat64()
	}
	data := []stream.Space{{Name: "x", Data: x, Dim: 1}, {Name: "y", Data: y, Dim: 1}}
	m := pairJSON(t, job.Spec{Data: data, Estimator: "blocks", Block: 100})
	for _, k := range []string{"bcdcor_se", "dcov_u_se"} {
		if v, ok := m[k]; ok {
			t.Errorf("one block: %s = %v, want it left out", k, v)
		}
	}
	if f := flagsOf(m); !slices.Contains(f, "se_undefined") || slices.Contains(f, "too_few_samples") {
		t.Errorf("one block: flags %v, want se_undefined and not too_few_samples", f)
	}

	same := []stream.Space{{Name: "x", Data: x, Dim: 1}, {Name: "x2", Data: x, Dim: 1}}
	m = pairJSON(t, job.Spec{Data: same, Estimator: "blocks", Block: 10})
	if m["bcdcor"] != 1.0 || !slices.Contains(flagsOf(m), "perfect_dependence") {
		t.Errorf("identical spaces under blocks: bcdcor %v, flags %v, want 1 with perfect_dependence", m["bcdcor"], m["flags"])
	}
}
