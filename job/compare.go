package job

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Contrast is the difference of two entries of a matrix, bcdcor[A] −
// bcdcor[B], with its delete-one jackknife standard error from the
// covariance of the entries,
//
//	SE = sqrt(var_A + var_B − 2 cov_AB)
//
// and the normal interval Diff ± z·SE at Level: whether layer A is closer
// to its column than layer B is, say, beyond the noise of the sample
// (which the two entries share, so their errors are correlated).
type Contrast struct {
	A, B     [2]int // (row, col) of the entries
	Diff, SE float64
	CI       [2]float64
	Level    float64
}

// Compare returns the contrast of entries a and b, each (row, col). It
// needs the jackknife covariance (Spec.CI) and returns an error otherwise
// or for an entry outside the matrix.
func (m *MatrixResult) Compare(a, b [2]int) (Contrast, error) {
	if m.BCDCorCov == nil {
		return Contrast{}, fmt.Errorf("comparing entries needs their jackknife covariance (-ci)")
	}
	c := len(m.Cols)
	for _, e := range [][2]int{a, b} {
		if e[0] < 0 || e[0] >= len(m.Rows) || e[1] < 0 || e[1] >= c {
			return Contrast{}, fmt.Errorf("entry (%d, %d) outside the %d×%d matrix", e[0], e[1], len(m.Rows), c)
		}
	}
	ia, ib := a[0]*c+a[1], b[0]*c+b[1]
	v := m.BCDCorCov[ia][ia] + m.BCDCorCov[ib][ib] - 2*m.BCDCorCov[ia][ib]
	d := m.BCDCor[a[0]][a[1]] - m.BCDCor[b[0]][b[1]]
	se := math.Sqrt(max(v, 0)) // 0 for an entry against itself
	return Contrast{A: a, B: b, Diff: d, SE: se, CI: interval(d, se, m.CILevel, -2, 2), Level: m.CILevel}, nil
}

// ParseContrast parses "ROW,COL-ROW,COL", two entries of the matrix, each
// a row and a column given by label or by index from 0 (labels first). A
// label may hold '-' or ',' if the split is unambiguous.
func (m *MatrixResult) ParseContrast(s string) (a, b [2]int, err error) {
	return parseContrast(m.Rows, m.Cols, s)
}

// AddContrasts appends to m.Contrasts the contrast of each of specs (see
// ParseContrast and Compare), as Spec.Compare asks. An entry that is not
// in m, or a matrix without the covariance, is an error wrapping ErrSpec
// that quotes the entry and lists the labels.
func (m *MatrixResult) AddContrasts(specs []string) error {
	for _, s := range specs {
		a, b, err := m.ParseContrast(s)
		if err != nil {
			return &SpecError{"-compare " + err.Error()}
		}
		c, err := m.Compare(a, b)
		if err != nil {
			return &SpecError{fmt.Sprintf("-compare %q: %v", s, err)}
		}
		m.Contrasts = append(m.Contrasts, c)
	}
	return nil
}

// checkContrasts checks that every contrast of Spec.Compare names entries
// of the matrix whose spaces are described by spaces, so that a bad label
// is refused before the first tile rather than after the passes.
func (s *Spec) checkContrasts(spaces []SpaceInfo) error {
	if len(s.Compare) == 0 || s.Matrix == nil {
		return nil
	}
	rows, cols := labelsOf(spaces, s.Matrix.Rows), labelsOf(spaces, s.Matrix.Cols)
	for _, c := range s.Compare {
		if _, _, err := parseContrast(rows, cols, c); err != nil {
			return &SpecError{"-compare " + err.Error()}
		}
	}
	return nil
}

func parseContrast(rows, cols []string, s string) (a, b [2]int, err error) {
	found := 0
	for i := range len(s) {
		if s[i] != '-' {
			continue
		}
		x, errA := entry(rows, cols, s[:i])
		y, errB := entry(rows, cols, s[i+1:])
		if errA == nil && errB == nil {
			a, b = x, y
			found++
		}
	}
	switch found {
	case 0:
		return a, b, fmt.Errorf("%q: want ROW,COL-ROW,COL, rows among %v and columns among %v (labels or indices from 0)", s, rows, cols)
	case 1:
		return a, b, nil
	}
	return a, b, fmt.Errorf("%q splits into two entries in %d ways: use indices", s, found)
}

// entry parses "ROW,COL".
func entry(rows, cols []string, s string) ([2]int, error) {
	for i := range len(s) {
		if s[i] != ',' {
			continue
		}
		r, okR := index(rows, s[:i])
		c, okC := index(cols, s[i+1:])
		if okR && okC {
			return [2]int{r, c}, nil
		}
	}
	return [2]int{}, fmt.Errorf("no entry %q", s)
}

// index returns the position of the label s in labels, or s as an index.
func index(labels []string, s string) (int, bool) {
	s = strings.TrimSpace(s)
	for i, l := range labels {
		if l == s {
			return i, true
		}
	}
	i, err := strconv.Atoi(s)
	return i, err == nil && i >= 0 && i < len(labels)
}
