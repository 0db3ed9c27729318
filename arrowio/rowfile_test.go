package arrowio_test

import (
	"os"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/dcor-stream/dcor-stream/arrowio"
)

// TestRowFile: rows written in any order read back in row order, from any
// row, and the file leaves its directory.
func TestRowFile(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	const n, d = 50, 3
	w, err := arrowio.CreateRowFile(dir, n, d)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float64, n*d)
	for i := range want {
		want[i] = float64(i) / 7
	}
	for _, i := range []int{49, 3, 0, 17} {
		if err := w.WriteRows(int64(i), want[i*d:(i+1)*d]); err != nil {
			t.Fatal(err)
		}
	}
	// The others, as runs of consecutive rows.
	for _, r := range [][2]int{{1, 3}, {4, 17}, {18, 49}} {
		if err := w.WriteRows(int64(r[0]), want[r[0]*d:r[1]*d]); err != nil {
			t.Fatal(err)
		}
	}
	src, err := w.Source("rows", arrowio.Options{Alloc: mem, BatchRows: 8})
	if err != nil {
		t.Fatal(err)
	}
	for _, from := range []int64{0, 20} {
		rr, first, err := src.NewRecordReaderAt(t.Context(), from)
		if err != nil {
			t.Fatal(err)
		}
		var got []float64
		for rr.Next() {
			col := rr.RecordBatch().Column(0).(*array.FixedSizeList)
			got = append(got, col.ListValues().(*array.Float64).Float64Values()[col.Offset()*d:(col.Offset()+col.Len())*d]...)
		}
		if err := rr.Err(); err != nil {
			t.Fatal(err)
		}
		rr.Release()
		if first != from || !slices.Equal(got, want[from*d:]) {
			t.Errorf("from row %d (first %d): %v, want %v", from, first, got, want[from*d:])
		}
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if ents, err := os.ReadDir(dir); err != nil || len(ents) != 0 {
		t.Errorf("directory holds %v (err %v) after Close", ents, err)
	}
}
