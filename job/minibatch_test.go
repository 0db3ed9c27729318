package job

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/dcor-stream/dcor-stream/block"
	"github.com/dcor-stream/dcor-stream/stream"
)

// classData is n samples of a layer (16 dims) that sees a class label
// among 10 and noise, and the label as a one-hot space, rows sorted by
// class when sorted, else in the order of a random permutation (seed).
func classData(n int, sorted bool, seed uint64) []stream.Space {
	rng := rand.New(rand.NewPCG(16, 3))
	const classes, dim = 10, 16
	w := make([]float64, classes*dim)
	for i := range w {
		w[i] = rng.NormFloat64()
	}
	labels := make([]int, n)
	for i := range labels {
		labels[i] = i * classes / n
	}
	if !sorted {
		rand.New(rand.NewPCG(seed, 1)).Shuffle(n, func(i, j int) { labels[i], labels[j] = labels[j], labels[i] })
	}
	layer := stream.Space{Name: "layer", Dim: dim}
	onehot := stream.Space{Name: "labels", Dim: classes}
	for _, c := range labels {
		for k := range dim {
			layer.Data = append(layer.Data, w[c*dim+k]+rng.NormFloat64())
		}
		for k := range classes {
			v := 0.0
			if k == c {
				v = 1
			}
			onehot.Data = append(onehot.Data, v)
		}
	}
	return []stream.Space{layer, onehot}
}

// TestMinibatchOrderCheck is the example: rows sorted by class
// make every consecutive batch hold one or two classes, and the minibatch
// R*(layer, labels) collapses far below the exact value, which is the
// same in any order. The order check warns there (and tells Notify), and
// not on the same rows in random orders (five of them: no false alarm);
// -shuffle on the sorted rows gives back about what random order gives,
// and needs no check.
func TestMinibatchOrderCheck(t *testing.T) {
	const n = 3000
	run := func(data []stream.Space, shuffle bool) (*MatrixResult, []string) {
		t.Helper()
		var notes []string
		spec := Spec{Data: data, Minibatch: 128, Shuffle: shuffle, ShuffleSeed: 9, Notify: func(m string) { notes = append(notes, m) }}
		out, err := Run(context.Background(), spec)
		if err != nil {
			t.Fatal(err)
		}
		m := out.Matrix
		if m == nil || len(m.Rows) != 1 || len(m.Cols) != 1 || m.Rows[0] != "layer" || m.Cols[0] != "labels" {
			t.Fatalf("a pair's minibatch result is the 1×1 matrix of layer and labels; got %+v", m)
		}
		return m, notes
	}
	exact, err := Run(context.Background(), Spec{Data: classData(n, true, 0)})
	if err != nil {
		t.Fatal(err)
	}
	sorted, notes := run(classData(n, true, 0), false)
	c := sorted.OrderCheck
	t.Logf("exact R* %.4f; sorted rows: minibatch %.4f, check %+v", exact.Pair.BCDCor, sorted.BCDCor[0][0], *c)
	if !c.Warn || len(notes) != 1 || !strings.Contains(notes[0], "-shuffle") {
		t.Errorf("sorted rows: no warning (check %+v, notes %q)", *c, notes)
	}
	if sorted.BCDCor[0][0] > exact.Pair.BCDCor/2 {
		t.Errorf("sorted rows: minibatch R* %.4f, exact %.4f: the example does not collapse", sorted.BCDCor[0][0], exact.Pair.BCDCor)
	}
	var random float64
	for seed := range uint64(5) {
		m, notes := run(classData(n, false, seed+1), false)
		if m.OrderCheck == nil || m.OrderCheck.Warn || notes != nil {
			t.Errorf("random order %d: check %+v, notes %q; want no warning", seed, m.OrderCheck, notes)
		}
		t.Logf("random order %d: minibatch %.4f, t %.3g, p %.3g", seed, m.BCDCor[0][0], m.OrderCheck.T, m.OrderCheck.P)
		random += m.BCDCor[0][0] / 5
	}
	shuffled, notes := run(classData(n, true, 0), true)
	if shuffled.OrderCheck != nil || notes != nil || !shuffled.Shuffled || shuffled.ShuffleSeed != 9 {
		t.Errorf("-shuffle: check %+v, notes %q, shuffled %v seed %d", shuffled.OrderCheck, notes, shuffled.Shuffled, shuffled.ShuffleSeed)
	}
	t.Logf("sorted rows shuffled: minibatch %.4f; random orders %.4f", shuffled.BCDCor[0][0], random)
	if math.Abs(shuffled.BCDCor[0][0]-random) > 0.03 {
		t.Errorf("sorted rows with -shuffle: minibatch R* %.4f, random orders %.4f", shuffled.BCDCor[0][0], random)
	}
}

// TestMinibatchShuffleRows checks -shuffle against its definition: batch
// b holds the rows π(bB), …, π(bB+B-1) of block.NewPermutation(n, seed),
// so shuffling rows already permuted by π⁻¹ gives the consecutive batches
// of the original rows, to the bit; and it is the same for any number of
// workers.
func TestMinibatchShuffleRows(t *testing.T) {
	const n, seed = 700, 42
	data := classData(n, false, 3)
	pi := block.NewPermutation(n, seed).Of(0)
	inv := make([]stream.Space, len(data))
	for k, sp := range data {
		inv[k] = stream.Space{Name: sp.Name, Dim: sp.Dim, Data: make([]float64, len(sp.Data))}
		for i := range n {
			copy(inv[k].Data[pi[i]*sp.Dim:], sp.Data[i*sp.Dim:(i+1)*sp.Dim])
		}
	}
	var want *MatrixResult
	for _, w := range []int{1, 3} {
		out, err := Run(context.Background(), Spec{Data: data, Minibatch: 100, Options: Options{Workers: w}})
		if err != nil {
			t.Fatal(err)
		}
		if want == nil {
			want = out.Matrix
		} else if out.Matrix.BCDCor[0][0] != want.BCDCor[0][0] || out.Matrix.DCorSq[0][0] != want.DCorSq[0][0] {
			t.Errorf("workers %d: %v, workers 1: %v", w, out.Matrix.BCDCor, want.BCDCor)
		}
	}
	out, err := Run(context.Background(), Spec{Data: inv, Minibatch: 100, Shuffle: true, ShuffleSeed: seed})
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Matrix; got.BCDCor[0][0] != want.BCDCor[0][0] || got.DCor[0][0] != want.DCor[0][0] {
		t.Errorf("shuffled inverse-permuted rows: bcdcor %v dcor %v; consecutive original rows: %v %v", got.BCDCor, got.DCor, want.BCDCor, want.DCor)
	}
	if _, err := Run(context.Background(), Spec{Data: data, Shuffle: true}); err == nil {
		t.Error("Shuffle without Minibatch: no error")
	}
}
