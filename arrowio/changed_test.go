package arrowio_test

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/dcor-stream/dcor-stream/arrowio"
)

// firstColumn returns the values of column 0 of rec: a float64 column, or
// a fixed-size list of float64.
func firstColumn(t *testing.T, rec arrow.RecordBatch) []float64 {
	t.Helper()
	switch c := rec.Column(0).(type) {
	case *array.Float64:
		return append([]float64(nil), c.Float64Values()...)
	case *array.FixedSizeList:
		w := int(c.DataType().(*arrow.FixedSizeListType).Len())
		vals := c.ListValues().(*array.Float64).Float64Values()
		return append([]float64(nil), vals[c.Offset()*w:(c.Offset()+c.Len())*w]...)
	}
	t.Fatalf("column 0 has type %s", rec.Column(0).DataType())
	return nil
}

// TestTruncatedWhileRead truncates a file to half its size between two
// batches of one reader, as another process would during a pass: the
// reader's error wraps ErrChanged and names the file and the batch (these
// files used to be memory-mapped, and the process died of SIGBUS). A batch
// read before the truncation stays readable.
func TestTruncatedWhileRead(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		write func(t *testing.T, mem memory.Allocator, path string)
		// random: read by offset, so that the read finding the bytes
		// gone says so; a stream is buffered, and the change is seen at
		// its end (size changed) instead.
		random bool
	}{
		{"arrow ipc file", "in.arrow", func(t *testing.T, mem memory.Allocator, path string) {
			fixture{batches: []int{4, 4, 4, 4}}.writeIPC(t, mem, path, false)
		}, true},
		{"npy", "in.npy", func(t *testing.T, mem memory.Allocator, path string) {
			vals := make([]float64, 2*16)
			for i := range vals {
				vals[i] = float64(i) + 0.5
			}
			if err := os.WriteFile(path, npyBytes(t, 1, "<f8", false, []int{16, 2}, vals, 0), 0o644); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"parquet", "in.parquet", func(t *testing.T, mem memory.Allocator, path string) {
			fixture{batches: []int{4, 4, 4, 4}}.writeParquet(t, mem, path, 4)
		}, false},
		{"arrow ipc stream", "in.arrows", func(t *testing.T, mem memory.Allocator, path string) {
			fixture{batches: []int{4, 4, 4, 4}}.writeIPC(t, mem, path, true)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			path := filepath.Join(t.TempDir(), tt.file)
			tt.write(t, mem, path)
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			src, err := arrowio.Open(t.Context(), path, arrowio.Options{Alloc: mem, BatchRows: 4})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			rr, err := src.NewRecordReader(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			defer rr.Release()
			if !rr.Next() {
				t.Fatalf("no first batch: %v", rr.Err())
			}
			first := rr.RecordBatch()
			first.Retain()
			defer first.Release()
			want := firstColumn(t, first)

			if err := os.Truncate(path, fi.Size()/2); err != nil {
				t.Fatal(err)
			}
			batches := 1
			for rr.Next() {
				batches++
			}
			err = rr.Err()
			if !errors.Is(err, arrowio.ErrChanged) || !strings.HasPrefix(err.Error(), path+": ") {
				t.Fatalf("after %d batches: err = %v, want ErrChanged naming %s", batches, err, path)
			}
			if tt.random && (!strings.Contains(err.Error(), "batch ") || !strings.Contains(err.Error(), "truncated while being read")) {
				t.Errorf("err = %v, want it to name the batch and say the file was truncated while being read", err)
			}
			if got := firstColumn(t, first); !equalFloats(got, want) {
				t.Errorf("the first batch now holds %v, held %v", got, want)
			}
			if _, err := src.NewRecordReader(t.Context()); !errors.Is(err, arrowio.ErrChanged) {
				t.Errorf("another pass: err = %v, want ErrChanged", err)
			}
		})
	}
}

func equalFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// writeRecords writes recs as an Arrow IPC file at path, or as a stream
// to a byte slice (path "").
func writeRecords(t *testing.T, mem memory.Allocator, path string, sch *arrow.Schema, recs ...arrow.RecordBatch) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w interface {
		Write(arrow.RecordBatch) error
		Close() error
	}
	if path == "" {
		w = ipc.NewWriter(&buf, ipc.WithSchema(sch), ipc.WithAllocator(mem))
	} else {
		fw, err := ipc.NewFileWriter(&buf, ipc.WithSchema(sch), ipc.WithAllocator(mem))
		if err != nil {
			t.Fatal(err)
		}
		w = fw
	}
	for _, rec := range recs {
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if path != "" {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// TestDeclaredWidth opens inputs whose schema declares more values per row
// than Options.MaxRowValues, with no rows (valid files, and small: a
// program sizing per-row memory from the schema used to die of "out of
// memory"), and a file whose one row declares more values than its data
// holds. Each is refused with an error naming the file and the column,
// without allocating anything sized by the declared width.
func TestDeclaredWidth(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	huge := arrow.NewSchema([]arrow.Field{
		{Name: "x", Type: arrow.FixedSizeListOf(math.MaxInt32, arrow.PrimitiveTypes.Float64)},
		{Name: "y", Type: arrow.PrimitiveTypes.Float64},
	}, nil)
	b := array.NewRecordBuilder(mem, huge)
	empty := b.NewRecordBatch()
	b.Release()
	defer empty.Release()

	hugeFile := filepath.Join(dir, "huge.arrow")
	writeRecords(t, mem, hugeFile, huge, empty)
	hugeStream := writeRecords(t, mem, "", huge, empty)
	hugeNpy := filepath.Join(dir, "huge.npy")
	if err := os.WriteFile(hugeNpy, npyBytes(t, 1, "<f8", false, []int{0, math.MaxInt32}, nil, 0), 0o644); err != nil {
		t.Fatal(err)
	}
	nested := filepath.Join(dir, "nested.arrow")
	nestedSch := arrow.NewSchema([]arrow.Field{
		{Name: "v", Type: arrow.FixedSizeListOf(1<<13, arrow.FixedSizeListOf(1<<13, arrow.PrimitiveTypes.Float32))},
	}, nil)
	b = array.NewRecordBuilder(mem, nestedSch)
	nestedRec := b.NewRecordBatch()
	b.Release()
	defer nestedRec.Release()
	writeRecords(t, mem, nested, nestedSch, nestedRec)

	tests := []struct {
		name, path, column string
		stdin              []byte
	}{
		{"arrow ipc file", hugeFile, "x", nil},
		{"arrow ipc stream on stdin", "-", "x", hugeStream},
		{"npy", hugeNpy, arrowio.NpyColumn, nil},
		{"nested lists of 2^13 times 2^13", nested, "v", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := arrowio.Options{Alloc: mem, Stdin: bytes.NewReader(tt.stdin)}
			var err error
			alloc := heapAlloc(func() {
				var src *arrowio.Source
				if src, err = arrowio.Open(t.Context(), tt.path, opts); err == nil {
					src.Close()
				}
			})
			name := arrowio.DisplayName(tt.path)
			if !errors.Is(err, arrowio.ErrUnsupported) || !strings.HasPrefix(err.Error(), name+": ") ||
				!strings.Contains(err.Error(), `column "`+tt.column+`"`) {
				t.Errorf("Open: err = %v, want ErrUnsupported naming %s and column %q", err, name, tt.column)
			}
			if alloc > 1<<20 {
				t.Errorf("Open allocated %d bytes", alloc)
			}
		})
	}

	t.Run("a row of 2^20 values holding fewer", func(t *testing.T) {
		// A valid file of one row of 0x12345 zeros, whose declared
		// widths (the schema's, in the stream header and the footer, and
		// the values' node length) are then patched to 2^20: the values
		// buffer holds 0x12345·8 bytes, a row wants 8 MiB.
		const k = 0x12345
		sch := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.FixedSizeListOf(k, arrow.PrimitiveTypes.Float64)}}, nil)
		b := array.NewRecordBuilder(mem, sch)
		lb := b.Field(0).(*array.FixedSizeListBuilder)
		lb.Append(true)
		lb.ValueBuilder().(*array.Float64Builder).AppendValues(make([]float64, k), nil)
		rec := b.NewRecordBatch()
		b.Release()
		defer rec.Release()
		path := filepath.Join(dir, "short.arrow")
		data := writeRecords(t, mem, path, sch, rec)
		from, to := []byte{0x45, 0x23, 0x01, 0x00}, []byte{0x00, 0x00, 0x10, 0x00}
		if n := bytes.Count(data, from); n < 2 {
			t.Fatalf("width found %d times in the file", n)
		}
		if err := os.WriteFile(path, bytes.ReplaceAll(data, from, to), 0o644); err != nil {
			t.Fatal(err)
		}

		var err error
		alloc := heapAlloc(func() { err = readFile(t, mem, path) })
		if !errors.Is(err, arrowio.ErrCorrupt) || !strings.HasPrefix(err.Error(), path+": batch 0: ") ||
			!strings.Contains(err.Error(), `column "x"`) {
			t.Errorf("err = %v, want ErrCorrupt naming %s, batch 0 and column \"x\"", err, path)
		}
		if alloc > 2<<20 {
			t.Errorf("reading it allocated %d bytes, want less than the 8 MiB of a row", alloc)
		}

		// The same batch in a stream, on standard input.
		stream := bytes.ReplaceAll(writeRecords(t, mem, "", sch, rec), from, to)
		src, err := arrowio.Open(t.Context(), "-", arrowio.Options{Alloc: mem, Stdin: bytes.NewReader(stream)})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		rr, err := src.NewRecordReader(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer rr.Release()
		for rr.Next() {
		}
		if err := rr.Err(); !errors.Is(err, arrowio.ErrCorrupt) || !strings.HasPrefix(err.Error(), "stdin: batch 0: ") ||
			!strings.Contains(err.Error(), `column "x"`) {
			t.Errorf("stream: err = %v, want ErrCorrupt naming stdin, batch 0 and column \"x\"", err)
		}
	})

	t.Run("parquet", func(t *testing.T) {
		// pqarrow reads a fixed-size list back as the type stored in
		// the file's Arrow schema; either it is refused like the others
		// or it has become a list of variable length, whose rows (none
		// here) give the width.
		path := filepath.Join(dir, "huge.parquet")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		w, err := pqarrow.NewFileWriter(huge, f, nil, pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(mem), pqarrow.WithStoreSchema()))
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(empty); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		src, err := arrowio.Open(t.Context(), path, arrowio.Options{Alloc: mem})
		if err != nil {
			if !errors.Is(err, arrowio.ErrUnsupported) || !strings.Contains(err.Error(), `column "x"`) {
				t.Errorf("Open: err = %v, want ErrUnsupported naming column \"x\"", err)
			}
			return
		}
		defer src.Close()
		if w := arrowio.RowValues(src.Schema().Field(0).Type); w != -1 {
			t.Errorf("opened, with column x of type %s (%d values per row)", src.Schema().Field(0).Type, w)
		}
	})
}

func TestRowValues(t *testing.T) {
	tests := []struct {
		name string
		dt   arrow.DataType
		want int64
	}{
		{"scalar", arrow.PrimitiveTypes.Float32, 1},
		{"fixed-size list", arrow.FixedSizeListOf(64, arrow.PrimitiveTypes.Float64), 64},
		{"nested", arrow.FixedSizeListOf(3, arrow.FixedSizeListOf(5, arrow.PrimitiveTypes.Int8)), 15},
		{"list", arrow.ListOf(arrow.PrimitiveTypes.Float64), -1},
		{"fixed of list", arrow.FixedSizeListOf(3, arrow.ListOf(arrow.PrimitiveTypes.Float64)), -1},
		{"saturated", arrow.FixedSizeListOf(math.MaxInt32, arrow.FixedSizeListOf(math.MaxInt32, arrow.FixedSizeListOf(math.MaxInt32, arrow.PrimitiveTypes.Int8))), math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := arrowio.RowValues(tt.dt); got != tt.want {
				t.Errorf("RowValues(%s) = %d, want %d", tt.dt, got, tt.want)
			}
		})
	}
}
