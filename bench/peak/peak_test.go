package peak

import (
	"testing"
	"time"
)

// TestMeasure runs every FMA loop of this CPU briefly on one and two
// goroutines and checks that the rates are positive and finite.
func TestMeasure(t *testing.T) {
	ks := Kinds()
	if len(ks) == 0 {
		t.Skip("no FMA loop for this CPU or build")
	}
	for _, k := range ks {
		for _, w := range []int{1, 2} {
			if g := Measure(k, w, 5*time.Millisecond); !(g > 0 && g < 1e7) {
				t.Errorf("Measure(%s, %d workers) = %v GFLOP/s", k.Name, w, g)
			}
		}
		s := NewSampler(k, 1, time.Millisecond)
		s.Sample()
		if g := s.GFLOPS(); !(g > 0 && g < 1e7) {
			t.Errorf("Sampler(%s).GFLOPS() = %v", k.Name, g)
		}
	}
	if _, ok := Lookup("no such loop"); ok {
		t.Errorf("Lookup found a loop that does not exist")
	}
}
