package job_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/dcor-stream/dcor-stream/job"
)

// TestCompare: a contrast is the difference of the entries with the SE of
// the recipe sqrt(var_a + var_b − 2 cov_ab) on the covariance of a -ci
// run, and entries parse by label (with '-' and ',' in them) or index.
func TestCompare(t *testing.T) {
	spec := modes[2].spec
	spec.Options.Tile = 128
	spec.CI = 0.95
	m := run(t, spec, 1).Matrix
	m.Rows = []string{"a-1", "a,2"} // labels holding the separators
	cov := m.BCDCorCov
	for _, c := range []struct {
		spec string
		a, b [2]int
	}{
		{"a-1,b1-a,2,b1", [2]int{0, 0}, [2]int{1, 0}},
		{"0,1-1,0", [2]int{0, 1}, [2]int{1, 0}},
		{"a,2,1-a-1,b2", [2]int{1, 1}, [2]int{0, 1}},
	} {
		a, b, err := m.ParseContrast(c.spec)
		if err != nil || a != c.a || b != c.b {
			t.Errorf("ParseContrast(%q) = %v, %v, %v; want %v, %v", c.spec, a, b, err, c.a, c.b)
			continue
		}
		got, err := m.Compare(a, b)
		if err != nil {
			t.Fatal(err)
		}
		ia, ib := a[0]*2+a[1], b[0]*2+b[1]
		se := math.Sqrt(cov[ia][ia] + cov[ib][ib] - 2*cov[ia][ib])
		d := m.BCDCor[a[0]][a[1]] - m.BCDCor[b[0]][b[1]]
		if got.Diff != d || math.Abs(got.SE-se) > 1e-15 || !(got.SE > 0) || got.CI[0] >= d || got.CI[1] <= d {
			t.Errorf("%s: %+v, want diff %v, SE %v", c.spec, got, d, se)
		}
		// The entries' own SEs bound the SE of their difference.
		if sa, sb := m.BCDCorSE[a[0]][a[1]], m.BCDCorSE[b[0]][b[1]]; got.SE > sa+sb+1e-15 || got.SE < math.Abs(sa-sb)-1e-15 {
			t.Errorf("%s: SE %v outside [|%v − %v|, %v + %v]", c.spec, got.SE, sa, sb, sa, sb)
		}
	}
	for _, bad := range []string{"a-1,b1", "x,y-a-1,b1", "2,0-0,0", ""} {
		if _, _, err := m.ParseContrast(bad); err == nil {
			t.Errorf("ParseContrast(%q): no error", bad)
		}
	}
	if self, err := m.Compare([2]int{0, 0}, [2]int{0, 0}); err != nil || self.SE != 0 || self.Diff != 0 {
		t.Errorf("an entry against itself: %+v, %v", self, err)
	}
	var noCI job.MatrixResult = *m
	noCI.BCDCorCov = nil
	if _, err := noCI.Compare([2]int{0, 0}, [2]int{1, 0}); err == nil {
		t.Error("Compare without the covariance: no error")
	}
}

// TestCompareSpec: Spec.Compare adds the contrasts to the result, equal to
// Compare's; a bad label is a *SpecError naming it and the labels there
// are, returned before the first tile in memory and out of core (no
// progress, no pass), and Compare without CI or a matrix is refused.
func TestCompareSpec(t *testing.T) {
	spec := modes[2].spec
	spec.Options.Tile = 128
	spec.CI = 0.95
	spec.Compare = []string{"a1,b1-a2,b2"}
	out := run(t, spec, 1)
	m := out.Matrix
	want, err := m.Compare([2]int{0, 0}, [2]int{1, 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Contrasts) != 1 || m.Contrasts[0] != want {
		t.Errorf("Spec.Compare: contrasts %+v, want [%+v]", m.Contrasts, want)
	}
	for _, mem := range []int64{0, 1 << 20} {
		bad := spec
		bad.Memory = mem
		bad.Compare = []string{"a1,b1-a2,b2", "a1,b9-a2,b2"}
		tiles, passes := 0, 0
		bad.Progress = func(job.Progress) { tiles++ }
		bad.AfterPass = func(int) { passes++ }
		_, err := job.Run(t.Context(), bad)
		var se *job.SpecError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), `"a1,b9-a2,b2"`) || !strings.Contains(err.Error(), "rows among [a1 a2] and columns among [b1 b2]") {
			t.Errorf("-mem %d, a bad label: %v, want a SpecError naming it and the labels", mem, err)
		}
		if tiles != 0 || passes != 0 {
			t.Errorf("-mem %d, a bad label: refused after %d progress calls and %d passes, want before any", mem, tiles, passes)
		}
	}
	for _, bad := range []job.Spec{
		{File: spec.File, Spaces: spec.Spaces, Matrix: spec.Matrix, Compare: spec.Compare},
		{File: activations, Spaces: specs("model_a", "model_b"), CI: 0.95, Compare: []string{"0,0-0,0"}},
	} {
		if _, err := job.Run(t.Context(), bad); !errors.Is(err, job.ErrSpec) {
			t.Errorf("Compare without CI or a matrix: %v, want ErrSpec", err)
		}
	}
}
