package job_test

import (
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/dcor-stream/dcor-stream/block"
	"github.com/dcor-stream/dcor-stream/job"
	"github.com/dcor-stream/dcor-stream/stream"
)

// TestBlocksMatrix: the block estimator of the matrix mode is the pair
// mode's (one estimator): the entry (X, Y) given Z has the bits of the
// pair mode on X, Y, Z; the diagonal of the covariance is the square of
// the SE; the V-statistics and p-values, which have no block estimate,
// are absent; the JSON names the estimator and its blocks.
func TestBlocksMatrix(t *testing.T) {
	pair, err := job.Run(t.Context(), job.Spec{File: activations, Spaces: specs("model_a", "model_b", "noise"), Estimator: "blocks", Block: 120})
	if err != nil {
		t.Fatal(err)
	}
	out, err := job.Run(t.Context(), job.Spec{File: activations, Spaces: specs("model_a", "model_b", "noise"), Estimator: "blocks", Block: 120,
		Matrix: &job.Matrix{Rows: []int{0, 1}, Cols: []int{1, 0}, Given: 2}})
	if err != nil {
		t.Fatal(err)
	}
	m, p := out.Matrix, pair.Blocks
	if m == nil || m.Estimator() != "blocks" || m.Batches != p.Blocks || m.N != p.Rows {
		t.Fatalf("matrix %+v", m)
	}
	if m.BCDCor[0][0] != p.BCDCor || m.BCDCorSE[0][0] != p.BCDCorSE ||
		m.PDCor[0][0] != p.Partial.PDCor || m.PDCorSE[0][0] != p.Partial.PDCorSE ||
		m.SemiPartial[0][0] != p.Partial.SemiPartial || m.SemiPartialSE[0][0] != p.Partial.SemiPartialSE {
		t.Errorf("matrix entry (a, b | noise) differs from the pair mode: %v ± %v, pair %v ± %v", m.BCDCor[0][0], m.BCDCorSE[0][0], p.BCDCor, p.BCDCorSE)
	}
	if m.BCDCor[0][0] != m.BCDCor[1][1] || m.BCDCor[0][1] != 1 || m.BCDCorSE[0][1] != 0 {
		t.Errorf("symmetry or the diagonal: %v", m.BCDCor)
	}
	for e := range 4 {
		se := m.BCDCorSE[e/2][e%2]
		if math.Abs(m.BCDCorCov[e][e]-se*se) > 1e-15 {
			t.Errorf("cov[%d][%d] = %v, SE² = %v", e, e, m.BCDCorCov[e][e], se*se)
		}
	}
	if m.DCor != nil || m.PValue != nil {
		t.Error("the block matrix reports V-statistics or p-values")
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"bcdcor_se", "bcdcor_cov", "pdcor_se", "semi_partial_se", "block", "blocks"} {
		if back[k] == nil {
			t.Errorf("JSON without %q: %s", k, b)
		}
	}
	if back["estimator"] != "blocks" || back["dcor"] != nil || back["ci_level"] != nil {
		t.Errorf("JSON estimator %v, dcor %v, ci_level %v", back["estimator"], back["dcor"], back["ci_level"])
	}
}

// TestBlocksShuffle: -shuffle SEED takes row π(i) as the i-th, π =
// block.NewPermutation(n, SEED).Of(0): the estimate has the bits of the
// block estimator on the rows permuted beforehand, in memory or from a
// file; standard input is refused.
func TestBlocksShuffle(t *testing.T) {
	rd, err := stream.NewReader(t.Context(), activations, specs("model_a", "model_b"), stream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := rd.ReadAll(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	spaces := rd.Spaces()
	rd.Close()
	n := int(rd.N())
	const seed = 77
	perm := block.NewPermutation(n, seed).Of(0)
	permuted := make([]stream.Space, len(spaces))
	for k, sp := range spaces {
		d := sp.Dim
		x := make([]float64, 0, len(data[k]))
		for i := range n {
			j := perm[i]
			x = append(x, data[k][j*d:(j+1)*d]...)
		}
		permuted[k] = stream.Space{Name: sp.Name, Columns: sp.Columns, Dim: d, Data: x}
		spaces[k].Data = data[k]
	}
	want, err := job.Run(t.Context(), job.Spec{Data: permuted, Estimator: "blocks", Block: 100})
	if err != nil {
		t.Fatal(err)
	}
	ordered, err := job.Run(t.Context(), job.Spec{Data: spaces, Estimator: "blocks", Block: 100})
	if err != nil {
		t.Fatal(err)
	}
	for name, spec := range map[string]job.Spec{
		"memory": {Data: spaces, Estimator: "blocks", Block: 100, Shuffle: true, ShuffleSeed: seed},
		"file":   {File: activations, Spaces: specs("model_a", "model_b"), Estimator: "blocks", Block: 100, Shuffle: true, ShuffleSeed: seed},
	} {
		out, err := job.Run(t.Context(), spec)
		if err != nil {
			t.Fatal(err)
		}
		if out.Blocks.BlockResult != want.Blocks.BlockResult || !out.Blocks.Shuffled || out.Blocks.ShuffleSeed != seed {
			t.Errorf("%s: shuffled %+v, permuted beforehand %+v", name, out.Blocks.BlockResult, want.Blocks.BlockResult)
		}
	}
	if ordered.Blocks.BCDCor == want.Blocks.BCDCor {
		t.Error("the shuffle changed nothing")
	}
	_, err = job.Run(t.Context(), job.Spec{File: "-", Spaces: specs("model_a", "model_b"), Estimator: "blocks", Block: 100, Shuffle: true})
	if !errors.Is(err, job.ErrSpec) {
		t.Errorf("shuffled stdin: %v, want ErrSpec", err)
	}
}
