package estimator_test

import (
	"math/rand/v2"
	"testing"

	"github.com/dcor-stream/dcor-stream/estimator"
)

// TestSharedTermsOnce: the results of every pair of K spaces (a matrix),
// and the partial statistics of every pair given one space, evaluate each
// space's own terms V²_kk and U_kk and its U_kz with the given space once
// per state, 3K values in all (they were evaluated again for each of the
// K² pairs); each Result equals, to the bit, the one a fresh copy of the
// state (with nothing cached) gives for that pair alone; and a Merge
// drops the cached terms with the sums they came from.
func TestSharedTermsOnce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n, k = 12, 9
	spaces := make([]matrix, k)
	for i := range spaces {
		spaces[i] = randMatrix(rng, n, 1+i%3)
	}
	st := naiveStats(1, spaces...)
	z := k - 1
	for x := range k {
		for y := range k {
			got, gotP := st.Pair(x, y), st.Partial(x, y, z)
			fresh := st.Clone()
			if want := fresh.Pair(x, y); got != want {
				t.Errorf("Pair(%d, %d) = %+v after the other pairs, want %+v", x, y, got, want)
			}
			if want := fresh.Partial(x, y, z); gotP != want {
				t.Errorf("Partial(%d, %d, %d) = %+v after the other pairs, want %+v", x, y, z, gotP, want)
			}
		}
	}
	// V²_kk, U_kk and U_kz of every space (U_zz is U_kk of k = z).
	if got, want := estimator.TermEvaluations(st), 3*k-1; got != want {
		t.Errorf("%d pairs evaluated %d shared terms, want %d (each once)", k*k, got, want)
	}
	before := st.Pair(0, 1)
	if err := st.Merge(st.Clone()); err != nil {
		t.Fatal(err)
	}
	if got := estimator.TermEvaluations(st); got != 0 {
		t.Errorf("after a Merge %d cached terms are kept", got)
	}
	after := st.Pair(0, 1)
	if want := st.Clone().Pair(0, 1); after != want || after == before || estimator.TermEvaluations(st) != 4 {
		t.Errorf("after a Merge Pair(0, 1) = %+v from %d evaluated terms, want %+v from 4 (before: %+v)", after, estimator.TermEvaluations(st), want, before)
	}
}

// TestLinearSelfTermsOnce: the linear CKA of every pair of K spaces
// evaluates each space's HSIC_kk once (K terms held, not one per pair),
// each CKA equals that of a fresh decoded copy to the bit, and Add drops
// the cached terms with the sums they came from.
func TestLinearSelfTermsOnce(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n, k = 20, 6
	spaces := make([]matrix, k)
	for i := range spaces {
		spaces[i] = randMatrix(rng, n, 1+i%4)
	}
	l := linearOf(t, 8, spaces...)
	enc, err := l.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for x := range k {
		for y := range k {
			got, _ := l.CKA(x, y)
			var fresh estimator.Linear
			if err := fresh.UnmarshalBinary(enc); err != nil {
				t.Fatal(err)
			}
			if want, _ := fresh.CKA(x, y); got != want {
				t.Errorf("CKA(%d, %d) = %v after the other pairs, want %v", x, y, got, want)
			}
		}
	}
	if got := estimator.LinearSelfTerms(l); got != k {
		t.Errorf("%d pairs hold %d self terms, want %d", k*k, got, k)
	}
	rows := make([][]float64, k)
	for i, m := range spaces {
		rows[i] = m.v[:m.d]
	}
	if err := l.Add(rows); err != nil {
		t.Fatal(err)
	}
	if got := estimator.LinearSelfTerms(l); got != 0 {
		t.Errorf("after Add %d self terms are kept", got)
	}
}
