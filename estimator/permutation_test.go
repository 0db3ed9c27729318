package estimator_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/dcor-stream/dcor-stream/estimator"
)

// TestPermutationTestEncoding: the sums round-trip to the same bytes, merge
// in any order to the same bytes, and an encoding of version 1 (the sums
// of the Feistel permutations of an earlier version, not uniform) is
// refused with ErrVersion, for both tests.
func TestPermutationTestEncoding(t *testing.T) {
	const r, n = 3, 5
	part := func(k float64) *estimator.PermutationTest {
		pt := estimator.NewPermutationTest(0, 1, r, n)
		for b := -1; b < r; b++ {
			if err := pt.AddSum(b, []float64{k * float64(b+2), 0x1p-60 * k}); err != nil {
				t.Fatal(err)
			}
		}
		for i := range n {
			if err := pt.AddRow(0, i, []float64{k * 1e10, -k}); err != nil {
				t.Fatal(err)
			}
			if err := pt.AddRow(1, i, []float64{k * 0.1}); err != nil {
				t.Fatal(err)
			}
		}
		return pt
	}
	enc := func(pt *estimator.PermutationTest) []byte {
		b, err := pt.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b := part(1), part(3)
	if err := a.Merge(b); err != nil {
		t.Fatal(err)
	}
	c, d := part(3), part(1)
	if err := c.Merge(d); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(enc(a), enc(c)) {
		t.Error("merges in two orders differ")
	}
	back := new(estimator.PermutationTest)
	if err := back.UnmarshalBinary(enc(a)); err != nil || !bytes.Equal(enc(back), enc(a)) {
		t.Errorf("round trip: %v", err)
	}
	if err := a.AddSum(0, []float64{1, 1 / zero()}); !errors.Is(err, estimator.ErrOverflow) {
		t.Errorf("a sum of +Inf: %v, want ErrOverflow", err)
	}
	if err := a.Merge(estimator.NewPermutationTest(0, 1, r, n+1)); !errors.Is(err, estimator.ErrIncompatible) {
		t.Errorf("merge with another n: %v, want ErrIncompatible", err)
	}
	v1 := enc(back)
	v1[4] = 1
	if err := back.UnmarshalBinary(v1); !errors.Is(err, estimator.ErrVersion) {
		t.Errorf("version 1: %v, want ErrVersion", err)
	}
	pz := estimator.NewPartialPermutationTest(0, 1, 2, r)
	pb, err := pz.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	pb[4] = 1
	if err := pz.UnmarshalBinary(pb); !errors.Is(err, estimator.ErrVersion) {
		t.Errorf("partial test version 1: %v, want ErrVersion", err)
	}
}

func zero() float64 { return 0 }
