package stream_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/dcor-stream/dcor-stream/stream"
)

// TestNoRows: input of no sample is an error naming the files, not a
// table of n = 0: a header-only CSV, a .npy of shape (0, d), and rows that
// DropInvalid drops every one of; in Load and in passes (from row 0 and
// from later rows).
func TestNoRows(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	empty := write("empty.csv", "x,y\n")
	nans := write("nans.csv", "x,y\n1,NaN\nNA,2\n")
	npy := filepath.Join(dir, "none.npy")
	writeNpy(t, npy, "(0, 3)", nil)
	for _, tc := range []struct {
		name  string
		specs []stream.Spec
		drop  bool
		want  string
	}{
		{"header only", []stream.Spec{{File: empty, Columns: []string{"x"}}, {File: empty, Columns: []string{"y"}}}, false, empty + ": no rows"},
		{"npy (0, 3)", []stream.Spec{{File: npy, Columns: []string{"*"}}, {File: empty, Columns: []string{"y"}}}, false, npy + ", " + empty + ": no rows"},
		{"all dropped", []stream.Spec{{File: nans, Columns: []string{"x"}}, {File: nans, Columns: []string{"y"}}}, true,
			nans + ": every one of the 2 rows has a null, NaN or ±Inf value, and -drop-invalid dropped them all"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			opts := stream.Options{Alloc: mem, DropInvalid: tc.drop}
			_, err := stream.Load(t.Context(), "", tc.specs, opts)
			if !errors.Is(err, stream.ErrNoRows) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load: err = %v, want ErrNoRows saying %q", err, tc.want)
			}
			r, err := stream.NewReader(t.Context(), "", tc.specs, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			for _, from := range []int64{0, 0, 5} {
				if _, _, err := readPass(t, r, from, 4); !errors.Is(err, stream.ErrNoRows) {
					t.Errorf("pass from %d: err = %v, want ErrNoRows", from, err)
				}
			}
		})
	}
	// With Key and KeyDrop: no ID in every file.
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	a, b := write("a.csv", "id,v\n1,1\n2,2\n"), write("b.csv", "id,v\n3,1\n4,2\n")
	_, err := stream.Load(t.Context(), "", []stream.Spec{{File: a, Columns: []string{"v"}}, {File: b, Columns: []string{"v"}}}, stream.Options{Alloc: mem, Key: "id", KeyDrop: true})
	if !errors.Is(err, stream.ErrNoRows) || !strings.Contains(err.Error(), "none of the 4 sample IDs is in every file") {
		t.Errorf("Key, no common ID: err = %v, want ErrNoRows", err)
	}
}

// TestStdinAliases: a spec naming /dev/stdin (or /dev/fd/0,
// /proc/self/fd/0) while standard input is not a regular file reads "-":
// the same pipe under two names is one input, read once, not a second
// open of a drained pipe.
func TestStdinAliases(t *testing.T) {
	if fi, err := os.Stdin.Stat(); err != nil || fi.Mode().IsRegular() {
		t.Skip("standard input of the test is a regular file: read by its path")
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ds := newDataset(23, 5)
	path := filepath.Join(t.TempDir(), "d.arrows")
	ds.writeIPC(t, mem, path, true, 10)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, alias := range []string{"/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"} {
		specs := []stream.Spec{{File: alias, Columns: []string{"x"}}, {File: "-", Columns: []string{"y"}}}
		tab, err := stream.Load(t.Context(), "", specs, stream.Options{Alloc: mem, Stdin: bytes.NewReader(data)})
		if err != nil {
			t.Fatalf("%s and -: %v", alias, err)
		}
		if !slices.Equal(tab.Spaces[0].Data, ds.x) || !slices.Equal(tab.Spaces[1].Data, ds.y) || !slices.Equal(tab.Files, []string{"-"}) {
			t.Errorf("%s and -: files %q, or data differ from the written values", alias, tab.Files)
		}
	}
}

// TestSidecarIDs: .npy inputs with sample IDs beside them (PREFIX.ids.npy,
// as examples/pytorch writes) in different orders are refused without
// Key, saying to use -key ids; the same order, a shared ids.npy, one
// input with IDs, or Aligned, are read as they are.
func TestSidecarIDs(t *testing.T) {
	dir := t.TempDir()
	xs := []float64{1, 2, 3, 4, 5, 6}
	for _, f := range []string{"a.layer.npy", "b.layer.npy", "c.layer.npy", "d.layer.npy"} {
		writeNpy(t, filepath.Join(dir, f), "(6,)", xs)
	}
	writeInt64Npy(t, filepath.Join(dir, "a.ids.npy"), []int64{10, 11, 12, 13, 14, 15})
	writeInt64Npy(t, filepath.Join(dir, "b.ids.npy"), []int64{10, 11, 12, 13, 15, 14}) // shuffled
	writeInt64Npy(t, filepath.Join(dir, "c.ids.npy"), []int64{10, 11, 12, 13, 14, 15}) // a's order
	specs := func(a, b string) []stream.Spec {
		return []stream.Spec{{File: filepath.Join(dir, a), Columns: []string{"*"}}, {File: filepath.Join(dir, b), Columns: []string{"*"}}}
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	_, err := stream.Load(t.Context(), "", specs("a.layer.npy", "b.layer.npy"), stream.Options{Alloc: mem})
	for _, s := range []string{"a.layer.npy and ", "b.layer.npy are not in the same sample order", "a.ids.npy and ", "b.ids.npy, differ at row 4 (14 and 15)", "-key ids"} {
		if !errors.Is(err, stream.ErrKey) || !strings.Contains(err.Error(), s) {
			t.Errorf("shuffled exports: err = %v, want ErrKey saying %q", err, s)
		}
	}
	for _, tc := range []struct {
		a, b    string
		aligned bool
	}{
		{"a.layer.npy", "b.layer.npy", true},
		{"a.layer.npy", "c.layer.npy", false},
		{"a.layer.npy", "d.layer.npy", false}, // d has none
	} {
		if _, err := stream.Load(t.Context(), "", specs(tc.a, tc.b), stream.Options{Alloc: mem, Aligned: tc.aligned}); err != nil {
			t.Errorf("%s, %s (Aligned %v): %v", tc.a, tc.b, tc.aligned, err)
		}
	}
	// With Key the IDs align the rows.
	tab, err := stream.Load(t.Context(), "", specs("a.layer.npy", "b.layer.npy"), stream.Options{Alloc: mem, Key: "ids"})
	if err != nil {
		t.Fatal(err)
	}
	if w := []float64{1, 2, 3, 4, 6, 5}; !slices.Equal(tab.Spaces[1].Data, w) {
		t.Errorf("Key ids: b = %v, want %v", tab.Spaces[1].Data, w)
	}
}
