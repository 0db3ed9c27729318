package arrowio_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/dcor-stream/dcor-stream/arrowio"
)

// TestRows: the formats that record their length give it before any row
// is read (a local IPC file, Parquet); an IPC stream and CSV do not.
func TestRows(t *testing.T) {
	fx := fixture{batches: []int{3, 0, 5, 2}}
	dir := t.TempDir()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	fx.writeIPC(t, mem, filepath.Join(dir, "x.arrow"), false)
	fx.writeIPC(t, mem, filepath.Join(dir, "x.arrows"), true)
	fixture{batches: []int{4, 4, 2}}.writeParquet(t, mem, filepath.Join(dir, "x.parquet"), 4)
	if err := os.WriteFile(filepath.Join(dir, "x.csv"), []byte("a,b\n1,2\n3,4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]int64{"x.arrow": 10, "x.arrows": -1, "x.parquet": 10, "x.csv": -1} {
		src, err := arrowio.Open(t.Context(), filepath.Join(dir, file), arrowio.Options{Alloc: mem})
		if err != nil {
			t.Fatal(err)
		}
		for range 2 { // counted once, then cached
			n, ok := src.Rows()
			if want < 0 && ok || want >= 0 && (!ok || n != want) {
				t.Errorf("%s: Rows() = %d, %v; want %d (-1: unknown)", file, n, ok, want)
			}
		}
		src.Close()
	}
}
