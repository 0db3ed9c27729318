package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"gonum.org/v1/gonum/floats/scalar"
)

// number matches the numbers of the outputs, as strconv.FormatFloat writes
// them.
var number = regexp.MustCompile(`[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|Inf)`)

// sameOutput reports whether got matches a golden output: the text between
// numbers exactly, and every number to 1e-12 relative (1e-15 absolute).
// The kernels (AVX-512, AVX2, pure Go) round differently in the last
// digits; the statistics are tested for accuracy elsewhere, the goldens
// test the layout and catch any real change.
func sameOutput(got, want string) bool {
	gs, ws := number.FindAllStringIndex(got, -1), number.FindAllStringIndex(want, -1)
	if len(gs) != len(ws) {
		return false
	}
	gp, wp := 0, 0
	for i := range gs {
		if got[gp:gs[i][0]] != want[wp:ws[i][0]] {
			return false
		}
		g, w := got[gs[i][0]:gs[i][1]], want[ws[i][0]:ws[i][1]]
		if g != w {
			gv, err1 := strconv.ParseFloat(g, 64)
			wv, err2 := strconv.ParseFloat(w, 64)
			if err1 != nil || err2 != nil || !scalar.EqualWithinAbsOrRel(gv, wv, 1e-15, 1e-12) {
				return false
			}
		}
		gp, wp = gs[i][1], ws[i][1]
	}
	return got[gp:] == want[wp:]
}

func TestSameOutput(t *testing.T) {
	for _, tc := range []struct {
		got, want string
		same      bool
	}{
		{`{"n":10,"dcor":0.5}`, `{"n":10,"dcor":0.5}`, true},
		{`{"n":10,"dcor":0.50000000000001}`, `{"n":10,"dcor":0.5}`, true},
		{`{"n":10,"dcor":0.5000001}`, `{"n":10,"dcor":0.5}`, false},
		{`{"n":11,"dcor":0.5}`, `{"n":10,"dcor":0.5}`, false},
		{`{"n":10,"dcr":0.5}`, `{"n":10,"dcor":0.5}`, false},
		{"x 1e-05 y", "x 1.0000000000000002e-05 y", true},
		{"x 1 2", "x 1", false},
		{"a_layer1 0.5", "a_layer2 0.5", false},
	} {
		if got := sameOutput(tc.got, tc.want); got != tc.same {
			t.Errorf("sameOutput(%q, %q) = %v, want %v", tc.got, tc.want, got, tc.same)
		}
	}
}

// checkGolden compares the stdout of the command run with args against
// testdata/NAME.stdout (see sameOutput), rewriting the file under -update.
func checkGolden(t *testing.T, name, stdout string, args []string) {
	t.Helper()
	golden := filepath.Join("testdata", name+".stdout")
	if *update {
		if err := os.WriteFile(golden, []byte(stdout), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !sameOutput(stdout, string(want)) {
		t.Errorf("dcor-stream %s:\ngot:\n%s\nwant (%s):\n%s", strings.Join(args, " "), stdout, golden, want)
	}
}

// ipcStream returns the Arrow IPC file at path rewritten as an IPC stream,
// as a pipe would bring it to standard input.
func ipcStream(t *testing.T, path string) []byte {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := ipc.NewFileReader(f, ipc.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(r.Schema()), ipc.WithAllocator(mem))
	for i := range r.NumRecords() {
		rec, err := r.RecordBatch(i)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
