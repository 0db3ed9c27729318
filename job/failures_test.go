package job_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/dcor-stream/dcor-stream/arrowio"
	"github.com/dcor-stream/dcor-stream/job"
	"github.com/dcor-stream/dcor-stream/stream"
)

// writeNpy writes a .npy v1 file of float64 with the given shape and data.
func writeNpy(t *testing.T, path, shape string, data []byte) {
	t.Helper()
	h := fmt.Sprintf("{'descr': '<f8', 'fortran_order': False, 'shape': %s, }", shape)
	for (10+len(h)+1)%64 != 0 {
		h += " "
	}
	h += "\n"
	b := append([]byte("\x93NUMPY\x01\x00"), byte(len(h)), byte(len(h)>>8))
	b = append(append(b, h...), data...)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestHugeDimension: a space declaring 2^31 values per row is refused by
// the reader (wider than any row it accepts), and one declaring 16 million
// (which the reader accepts) by the engine's budget, whose worker scratch
// it would overflow; both name the file, before anything of that size is
// allocated, under a budget and in memory.
func TestHugeDimension(t *testing.T) {
	dir := t.TempDir()
	y := filepath.Join(dir, "y.npy")
	writeNpy(t, y, "(0, 1)", nil)
	for _, c := range []struct {
		shape string
		want  error
	}{{"(0, 2147483647)", arrowio.ErrUnsupported}, {"(0, 16000000)", job.ErrBudget}} {
		h := filepath.Join(dir, "h.npy")
		writeNpy(t, h, c.shape, nil)
		for _, mem := range []int64{0, 1 << 20} {
			_, err := job.Run(t.Context(), job.Spec{Spaces: []stream.Spec{{File: h, Columns: []string{"data"}}, {File: y, Columns: []string{"data"}}}, Memory: mem})
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), "h.npy") {
				t.Errorf("shape %s, memory %d: %v, want %v naming h.npy", c.shape, mem, err, c.want)
			}
		}
	}
}

// TestChangedBetweenPasses: under a budget, a value rewritten between
// passes (same size, modification time restored) is found by content.
func TestChangedBetweenPasses(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "xy.csv")
	var b strings.Builder
	b.WriteString("x,y\n")
	for i := range 600 {
		fmt.Fprintf(&b, "%d,%d\n", i%10, (i*7)%10)
	}
	orig := b.String()
	if err := os.WriteFile(path, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	spec := job.Spec{File: path, Spaces: specs("x", "y"), Memory: 16 << 10, Options: job.Options{Tile: 32}}
	spec.AfterPass = func(pass int) {
		if pass == 2 {
			i := strings.LastIndex(orig, "\n9,3\n") // a late row
			changed := orig[:i] + "\n9,4\n" + orig[i+5:]
			os.WriteFile(path, []byte(changed), 0o644)
			os.Chtimes(path, time.Now(), fi.ModTime())
		}
	}
	out, err := job.Run(t.Context(), spec)
	if !errors.Is(err, job.ErrChanged) {
		t.Errorf("input changed after pass 2: %v, %v; want ErrChanged", out, err)
	}
}

// TestEmptyListInput: a List column of no rows behaves the same in
// memory and under a budget.
func TestEmptyListInput(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	path := filepath.Join(t.TempDir(), "empty.arrow")
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "x", Type: arrow.ListOf(arrow.PrimitiveTypes.Float64)},
		{Name: "y", Type: arrow.ListOf(arrow.PrimitiveTypes.Float64)},
	}, nil)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := ipc.NewFileWriter(f, ipc.WithSchema(schema), ipc.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var outs []string
	for _, budget := range []int64{0, 1 << 20} {
		out, err := job.Run(t.Context(), job.Spec{File: path, Spaces: specs("x", "y"), Memory: budget})
		if err != nil {
			outs = append(outs, "error: "+err.Error())
			continue
		}
		out.Pair.Passes = 0 // the passes of -mem aside
		b, _ := json.Marshal(out.Pair)
		outs = append(outs, string(b))
	}
	if outs[0] != outs[1] {
		t.Errorf("empty List input:\nin memory: %s\nunder -mem: %s", outs[0], outs[1])
	}
	t.Log(outs[0])
}
