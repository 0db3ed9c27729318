package estimator

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

// TestPartialPermutationTestEncoding: the encoding round-trips, merges
// add, every truncation and bit flip is refused as corrupt, and tests of
// other spaces or sizes do not merge.
func TestPartialPermutationTestEncoding(t *testing.T) {
	a, b := NewPartialPermutationTest(0, 1, 2, 3), NewPartialPermutationTest(0, 1, 2, 3)
	if err := a.Add([]float64{1.5, -2, 3, 1.5}); err != nil {
		t.Fatal(err)
	}
	if err := b.Add([]float64{0.25, 4, -1e300, 0}); err != nil {
		t.Fatal(err)
	}
	if err := a.Add([]float64{1, 2, 3, math.Inf(1)}); !errors.Is(err, ErrOverflow) {
		t.Errorf("an infinite value: %v", err)
	}
	if err := a.Merge(b); err != nil {
		t.Fatal(err)
	}
	res := a.Result(10)
	if res.Exceed != 1 || res.P != 0.5 || res.Statistic != 1.75/7 {
		t.Errorf("result %+v: want T = 1.75, only T_1 = 2 of T_b = 2, 3 − 1e300, 1.5 at least T", res)
	}
	if r := a.Result(3); r.P != 1 || r.Exceed != 0 {
		t.Errorf("3 samples: %+v", r)
	}
	enc, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	back := new(PartialPermutationTest)
	if err := back.UnmarshalBinary(enc); err != nil || back.Result(10) != res {
		t.Fatalf("decoded %+v, %v", back.Result(10), err)
	}
	if again, _ := back.MarshalBinary(); !bytes.Equal(again, enc) {
		t.Error("the decoded test encodes to other bytes")
	}
	for i := range enc {
		if err := back.UnmarshalBinary(enc[:i]); err == nil {
			t.Fatalf("truncated to %d bytes: decoded", i)
		}
		bad := bytes.Clone(enc)
		bad[i] ^= 4
		if err := back.UnmarshalBinary(bad); !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrVersion) {
			t.Fatalf("byte %d flipped: %v", i, err)
		}
	}
	for _, o := range []*PartialPermutationTest{NewPartialPermutationTest(0, 2, 1, 3), NewPartialPermutationTest(0, 1, 2, 4)} {
		if err := a.Merge(o); !errors.Is(err, ErrIncompatible) {
			t.Errorf("merged another test: %v", err)
		}
	}
}
