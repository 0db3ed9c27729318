package job_test

import (
	"math"
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
