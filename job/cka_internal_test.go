package job

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/dcor-stream/dcor-stream/block"
)

// TestLinearSumsBatches: the linear CKA sums of rows given in batches of
// any sizes (as the passes of a budget give them) have the encoding of
// the rows given at once (as in memory): the blocks of linearRows rows are
// the same.
func TestLinearSumsBatches(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	n, dims := 3000, []int{3, 5}
	spaces := make([]block.Space, len(dims))
	for k, d := range dims {
		spaces[k] = block.Space{Dim: d, Data: make([]float64, n*d)}
		for i := range spaces[k].Data {
			spaces[k].Data[i] = rng.NormFloat64()*1e3 + 7
		}
	}
	s := &Spec{}
	p, err := s.linearOf(t.Context(), spaces)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := p.MarshalBinary()
	for trial := range 3 {
		a := s.newLinearSums(spaces, true)
		for i := 0; i < n; {
			m := min(n-i, 1+rng.IntN([]int{7, 700, 2100}[trial]))
			batch := make([]block.Space, len(dims))
			for k, d := range dims {
				batch[k] = block.Space{Dim: d, Data: append([]float64(nil), spaces[k].Data[i*d:(i+m)*d]...)}
			}
			if err := a.add(t.Context(), batch); err != nil {
				t.Fatal(err)
			}
			i += m
		}
		q, err := a.part()
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := q.MarshalBinary(); !bytes.Equal(got, want) {
			t.Errorf("trial %d: batched sums differ from the sums in memory", trial)
		}
	}
	// Another block split (rows 0..999, then the rest) gives other bits:
	// the test can fail.
	a := s.newLinearSums(spaces, true)
	lin := a.lin
	for _, r := range [][2]int{{0, 999}, {999, n}} {
		blk := make([][]float64, len(dims))
		for k, d := range dims {
			blk[k] = spaces[k].Data[r[0]*d : r[1]*d]
		}
		if err := lin.Add(blk); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := lin.MarshalBinary(); bytes.Equal(got, want) {
		t.Log("another block split gave the same bits (possible, not required)")
	}
}
