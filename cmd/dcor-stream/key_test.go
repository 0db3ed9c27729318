package main

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// keyData is n samples of x (3 values) and y (2 values), random.
type keyData struct {
	n    int
	x, y []float64
}

func newKeyData(n int) keyData {
	rng := rand.New(rand.NewPCG(11, 12))
	d := keyData{n: n, x: make([]float64, 3*n), y: make([]float64, 2*n)}
	for i := range d.x {
		d.x[i] = math.Round(rng.NormFloat64()*1000) / 64
	}
	for i := range d.y {
		d.y[i] = math.Round(rng.NormFloat64()*1000)/64 + d.x[i/2*3]
	}
	return d
}

// csv writes the rows order of x (xs) or y to path, with the ID id(i) of
// each row i in the column "id".
func (d keyData) csv(t *testing.T, path string, order []int, xs bool, id func(int) string) {
	t.Helper()
	var b strings.Builder
	cols, v := "y_0,y_1", d.y
	if xs {
		cols, v = "x_0,x_1,x_2", d.x
	}
	w := strings.Count(cols, ",") + 1
	b.WriteString("id," + cols + "\n")
	for _, i := range order {
		b.WriteString(id(i))
		for _, x := range v[i*w : (i+1)*w] {
			fmt.Fprintf(&b, ",%v", x)
		}
		b.WriteString("\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// npy writes the rows order of y as a float64 .npy and their int64 IDs
// beside it, as examples/pytorch writes them: PREFIX.y.npy, PREFIX.ids.npy.
func (d keyData) npy(t *testing.T, dir, prefix string, order []int) {
	t.Helper()
	var vals, ids []byte
	for _, i := range order {
		for _, v := range d.y[2*i : 2*i+2] {
			vals = binary.LittleEndian.AppendUint64(vals, math.Float64bits(v))
		}
		ids = binary.LittleEndian.AppendUint64(ids, uint64(7*i+1))
	}
	writeNpy(t, filepath.Join(dir, prefix+"y.npy"), "<f8", fmt.Sprintf("(%d, 2)", len(order)), vals)
	writeNpy(t, filepath.Join(dir, prefix+"ids.npy"), "<i8", fmt.Sprintf("(%d,)", len(order)), ids)
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// numbers drops the fields of a JSON output that name the inputs.
func numbers(m map[string]any) map[string]any {
	delete(m, "x")
	delete(m, "y")
	delete(m, "z")
	delete(m, "spaces")
	return m
}

// TestKeyCLI: shuffled files with -key give the output of the files in
// row order (pair and matrix, CSV with integer and string IDs and .npy
// with the IDs beside them, in memory and under -mem).
func TestKeyCLI(t *testing.T) {
	const n = 400
	d := newKeyData(n)
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	perm := rand.New(rand.NewPCG(1, 1)).Perm(n)
	intID := func(i int) string { return fmt.Sprint(7*i + 1) }
	strID := func(i int) string { return fmt.Sprintf("s%03d", i) }
	d.csv(t, p("a.csv"), seq(n), true, intID)
	d.csv(t, p("b.csv"), perm, false, intID)
	d.csv(t, p("plain.csv"), seq(n), false, intID)
	d.csv(t, p("sa.csv"), seq(n), true, strID)
	d.csv(t, p("sb.csv"), perm, false, strID)
	d.npy(t, dir, "m.", seq(n))
	d.npy(t, dir, "s.", perm)
	for _, mem := range []string{"", "64KiB"} {
		flags := []string{"-tile", "64"}
		if mem != "" {
			flags = append(flags, "-mem", mem)
		}
		want := numbers(pairJSON(t, append(flags, "-x", p("a.csv")+":x_*", "-y", p("plain.csv")+":y_*")...))
		for _, args := range [][]string{
			{"-key", "id", "-x", p("a.csv") + ":x_*", "-y", p("b.csv") + ":y_*"},
			{"-key", "id", "-x", p("sa.csv") + ":x_*", "-y", p("sb.csv") + ":y_*"},
			{"-key", "id", "-x", p("a.csv") + ":x_*", "-y", p("s.y.npy")},
		} {
			if got := numbers(pairJSON(t, append(flags, args...)...)); !reflect.DeepEqual(got, want) {
				t.Errorf("-mem %q %v:\n%v\nwant the output of the files in row order\n%v", mem, args, got, want)
			}
		}
		// A matrix of each column of a by each of b's ("*" does not
		// match the key column).
		want2 := runMatrixJSON(t, append(flags, "-rows", p("a.csv")+":x_*", "-cols", p("plain.csv")+":y_*")...)
		got2 := runMatrixJSON(t, append(flags, "-key", "id", "-rows", p("sa.csv")+":x_*", "-cols", p("sb.csv")+":*")...)
		if !reflect.DeepEqual(got2.Cols, []string{"y_0", "y_1"}) || !reflect.DeepEqual(got2.BCDCor, want2.BCDCor) || !reflect.DeepEqual(got2.DCor, want2.DCor) {
			t.Errorf("-mem %q matrix: columns %v, bcdcor %v, want y_0, y_1 and %v", mem, got2.Cols, got2.BCDCor, want2.BCDCor)
		}
	}
}

// TestKeyCLIErrors: duplicated and unmatched IDs exit 1, naming the file,
// the column, the counts and a few IDs, before any pair is computed;
// -key-missing drop keeps the IDs in every file and says how many were
// dropped.
func TestKeyCLIErrors(t *testing.T) {
	const n = 60
	d := newKeyData(n)
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	perm := rand.New(rand.NewPCG(2, 2)).Perm(n)
	for _, kind := range []struct {
		name string
		id   func(int) string
		show func(int) string
	}{
		{"int", func(i int) string { return fmt.Sprint(100 + i) }, func(i int) string { return fmt.Sprint(100 + i) }},
		{"string", func(i int) string { return fmt.Sprintf("id-%d", i) }, func(i int) string { return fmt.Sprintf(`"id-%d"`, i) }},
	} {
		t.Run(kind.name, func(t *testing.T) {
			a, dup, part := p(kind.name+"a.csv"), p(kind.name+"dup.csv"), p(kind.name+"part.csv")
			d.csv(t, a, seq(n), true, kind.id)
			d.csv(t, dup, append(perm, 4, 4, 8), false, kind.id)
			d.csv(t, part, perm[:50], false, kind.id)
			// The files of the IDs in both, in row order.
			in := map[int]bool{}
			for _, i := range perm[:50] {
				in[i] = true
			}
			var both []int
			for i := range n {
				if in[i] {
					both = append(both, i)
				}
			}
			ka, kb := p(kind.name+"ka.csv"), p(kind.name+"kb.csv")
			d.csv(t, ka, both, true, kind.id)
			d.csv(t, kb, both, false, kind.id)
			for _, tc := range []struct {
				name string
				args []string
				code int
				want []string
			}{
				{"duplicates", []string{"-key", "id", "-x", a + ":x_0", "-y", dup + ":y_0"}, 1,
					[]string{dup, `column "id"`, "2 sample IDs appear more than once", kind.show(4) + " at rows", kind.show(8)}},
				{"unmatched", []string{"-key", "id", "-x", a + ":x_0", "-y", part + ":y_0"}, 1,
					[]string{"10 of the 60 sample IDs are not in every file", part + `: column "id" lacks 10 (e.g. `, "-key-missing drop keeps the 50"}},
				{"unmatched under -mem", []string{"-mem", "1MiB", "-key", "id", "-x", a + ":x_0", "-y", part + ":y_0"}, 1,
					[]string{"10 of the 60 sample IDs are not in every file"}},
				{"matrix unmatched", []string{"matrix", "-key", "id", "-rows", a + ":x_0", "-cols", part + ":y_0"}, 1,
					[]string{"10 of the 60 sample IDs are not in every file"}},
				{"drop", []string{"-key", "id", "-key-missing", "drop", "-x", a + ":x_0", "-y", part + ":y_0"}, 0,
					[]string{"-key id: 50 samples", fmt.Sprintf("dropped (their IDs not in every file): 10 of 60 rows of %s", a)}},
				{"bad -key-missing", []string{"-key", "id", "-key-missing", "keep", "-x", a + ":x_0", "-y", part + ":y_0"}, 2,
					[]string{`-key-missing "keep": want error or drop`}},
			} {
				code, stdout, stderr := runCLI(t, nil, tc.args...)
				if code != tc.code {
					t.Errorf("%s: exit %d, want %d: %s", tc.name, code, tc.code, stderr)
				}
				for _, w := range tc.want {
					if !strings.Contains(stderr, w) {
						t.Errorf("%s: stderr %q does not say %q", tc.name, stderr, w)
					}
				}
				if tc.code != 0 && stdout != "" {
					t.Errorf("%s: stdout %q, want none", tc.name, stdout)
				}
			}
			want := numbers(pairJSON(t, "-x", ka+":x_0", "-y", kb+":y_0"))
			if got := numbers(pairJSON(t, "-key", "id", "-key-missing", "drop", "-x", a+":x_0", "-y", part+":y_0")); !reflect.DeepEqual(got, want) {
				t.Errorf("-key-missing drop: %v, want the output of the files of the IDs in both %v", got, want)
			}
		})
	}
}

// TestSidecarCLI: two .npy exports of differently shuffled loaders, each
// with its IDs beside it, compared without -key exit 1 saying to use
// -key ids (they were compared row by row: garbage at exit 0); -aligned
// takes the rows as they are; -key ids aligns them.
func TestSidecarCLI(t *testing.T) {
	const n = 60
	d := newKeyData(n)
	dir := t.TempDir()
	d.npy(t, dir, "m.", seq(n))
	d.npy(t, dir, "s.", rand.New(rand.NewPCG(3, 3)).Perm(n))
	m, s := filepath.Join(dir, "m.y.npy"), filepath.Join(dir, "s.y.npy")
	code, stdout, stderr := runCLI(t, nil, "-x", m, "-y", s)
	if code != 1 || stdout != "" || !strings.Contains(stderr, "not in the same sample order") || !strings.Contains(stderr, "-key ids") {
		t.Errorf("shuffled exports without -key: exit %d, stderr %q; want 1 and a message naming -key ids", code, stderr)
	}
	if code, _, stderr := runCLI(t, nil, "-aligned", "-x", m, "-y", s); code != 0 {
		t.Errorf("-aligned: exit %d: %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, nil, "-key", "ids", "-aligned", "-x", m, "-y", s); code != 2 {
		t.Errorf("-aligned with -key: exit %d, want 2: %s", code, stderr)
	}
	want := numbers(pairJSON(t, "-x", m, "-y", m))
	if got := numbers(pairJSON(t, "-key", "ids", "-x", m, "-y", s)); !reflect.DeepEqual(got, want) {
		t.Errorf("-key ids: %v, want the output of the files in one order %v", got, want)
	}
}
