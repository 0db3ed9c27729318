package arrowio

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// countingFile counts the bytes read from a Parquet file, and the largest
// single read.
type countingFile struct {
	*os.File
	total, largest int64
}

func (f *countingFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.File.ReadAt(p, off)
	f.total += int64(n)
	f.largest = max(f.largest, int64(n))
	return n, err
}

// maxAllocator tracks the peak of the bytes allocated and not yet freed.
type maxAllocator struct {
	memory.Allocator
	cur, peak int
}

func (a *maxAllocator) Allocate(n int) []byte {
	a.cur += n
	a.peak = max(a.peak, a.cur)
	return a.Allocator.Allocate(n)
}

func (a *maxAllocator) Reallocate(n int, b []byte) []byte {
	a.cur += n - len(b)
	a.peak = max(a.peak, a.cur)
	return a.Allocator.Reallocate(n, b)
}

func (a *maxAllocator) Free(b []byte) {
	a.cur -= len(b)
	a.Allocator.Free(b)
}

// writeWide writes rows rows of a FixedSizeList<float64>[16] column "v"
// and four float64 columns "x_0".."x_3", in row groups of rowGroup rows
// (one record each: see the note in package stream's tests on sliced
// FixedSizeLists), and returns the file size.
func writeWide(t *testing.T, path string, rows, rowGroup int) int64 {
	t.Helper()
	mem := memory.NewGoAllocator()
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "v", Type: arrow.FixedSizeListOf(16, arrow.PrimitiveTypes.Float64)},
		{Name: "x_0", Type: arrow.PrimitiveTypes.Float64},
		{Name: "x_1", Type: arrow.PrimitiveTypes.Float64},
		{Name: "x_2", Type: arrow.PrimitiveTypes.Float64},
		{Name: "x_3", Type: arrow.PrimitiveTypes.Float64},
	}, nil)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	props := parquet.NewWriterProperties(parquet.WithAllocator(mem), parquet.WithMaxRowGroupLength(int64(rowGroup)),
		parquet.WithDictionaryDefault(false))
	w, err := pqarrow.NewFileWriter(sch, f, props, pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(mem), pqarrow.WithStoreSchema()))
	if err != nil {
		t.Fatal(err)
	}
	for r0 := 0; r0 < rows; r0 += rowGroup {
		b := array.NewRecordBuilder(mem, sch)
		lb := b.Field(0).(*array.FixedSizeListBuilder)
		vb := lb.ValueBuilder().(*array.Float64Builder)
		for i := r0; i < min(r0+rowGroup, rows); i++ {
			lb.Append(true)
			for j := range 16 {
				vb.Append(float64(i*16 + j))
			}
			for j := range 4 {
				b.Field(1 + j).(*array.Float64Builder).Append(float64(i) + float64(j)/4)
			}
		}
		rec := b.NewRecordBatch()
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
		b.Release()
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path) // Close closed f
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestParquetStreams checks that a Parquet file is read a little at a time,
// whether it has many row groups or one: after the first batch only a
// small part of the file has been read, no single read is large, a whole
// pass reads the file about once, and the Arrow memory held at any time is
// about one batch. It also checks the values, and starting at a row group.
func TestParquetStreams(t *testing.T) {
	const batch = 1000
	for _, tt := range []struct {
		name           string
		rows, rowGroup int
	}{
		{"40 row groups", 40_000, 1000},
		// 16 MB in one row group, as writers do by default: read page
		// by page (a buffer of parquetBufferSize per column), not
		// column chunk by column chunk.
		{"one row group", 100_000, 100_000},
	} {
		rows := tt.rows
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "wide.parquet")
			size := writeWide(t, path, rows, tt.rowGroup)
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			cf := &countingFile{File: f}
			checked := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer checked.AssertSize(t, 0)
			mem := &maxAllocator{Allocator: checked}
			src, err := newParquet(cf, Options{Alloc: mem, BatchRows: batch})
			if err != nil {
				t.Fatal(err)
			}
			defer src.close()
			footer := cf.total

			rr, err := src.newReader(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			row := 0
			for rr.Next() {
				rec := rr.RecordBatch()
				if row == 0 {
					read := cf.total - footer
					if read > size/2 {
						t.Errorf("first batch: read %d bytes of a %d-byte file, want at most half", read, size)
					}
					if lim := int64(6 * parquetBufferSize); read > lim {
						t.Errorf("first batch: read %d bytes, want at most %d (one buffer per column)", read, lim)
					}
				}
				v := rec.Column(0).(*array.FixedSizeList).ListValues().(*array.Float64).Float64Values()
				x3 := rec.Column(4).(*array.Float64)
				for i := range int(rec.NumRows()) {
					if v[i*16+5] != float64((row+i)*16+5) || x3.Value(i) != float64(row+i)+0.75 {
						t.Fatalf("row %d: v[5] = %v, x_3 = %v", row+i, v[i*16+5], x3.Value(i))
					}
				}
				row += int(rec.NumRows())
			}
			if err := rr.Err(); err != nil {
				t.Fatal(err)
			}
			rr.Release()
			if row != rows {
				t.Fatalf("read %d rows, want %d", row, rows)
			}
			if cf.largest > 2*parquetBufferSize {
				t.Errorf("largest single read %d bytes, want at most %d", cf.largest, 2*parquetBufferSize)
			}
			if cf.total > 2*size {
				t.Errorf("a pass read %d bytes of a %d-byte file", cf.total, size)
			}
			batchBytes := batch * 20 * 8
			if mem.peak > 4*batchBytes {
				t.Errorf("peak Arrow memory %d bytes, want at most 4 batches of %d", mem.peak, batchBytes)
			}

			// Starting at row 12,345: the row group holding it.
			rr, first, err := src.newReaderAt(context.Background(), 12_345)
			if err != nil {
				t.Fatal(err)
			}
			defer rr.Release()
			want := int64(0)
			if tt.rowGroup < rows {
				want = 12_000
			}
			if first != want || !rr.Next() || rr.RecordBatch().Column(4).(*array.Float64).Value(0) != float64(want)+0.75 {
				t.Errorf("newReaderAt(12345): first row %d, want %d", first, want)
			}
		})
	}
}
