package arrowio_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/endian"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/dcor-stream/dcor-stream/arrowio"
)

// fixture is a small table with a float64 column "a", an int32 column "b"
// and a FixedSizeList<float32>[2] column "v", written in batches of the
// given sizes. Row i holds a = i + 0.5, b = -i, v = (i, 2i).
type fixture struct {
	batches []int
}

var fixtureSchema = arrow.NewSchema([]arrow.Field{
	{Name: "a", Type: arrow.PrimitiveTypes.Float64},
	{Name: "b", Type: arrow.PrimitiveTypes.Int32},
	{Name: "v", Type: arrow.FixedSizeListOf(2, arrow.PrimitiveTypes.Float32)},
}, nil)

func (fx fixture) rows() int {
	n := 0
	for _, b := range fx.batches {
		n += b
	}
	return n
}

// records returns the batches; release each.
func (fx fixture) records(mem memory.Allocator) []arrow.RecordBatch {
	var recs []arrow.RecordBatch
	row := 0
	for _, size := range fx.batches {
		b := array.NewRecordBuilder(mem, fixtureSchema)
		a := b.Field(0).(*array.Float64Builder)
		bb := b.Field(1).(*array.Int32Builder)
		v := b.Field(2).(*array.FixedSizeListBuilder)
		vv := v.ValueBuilder().(*array.Float32Builder)
		for i := row; i < row+size; i++ {
			a.Append(float64(i) + 0.5)
			bb.Append(int32(-i))
			v.Append(true)
			vv.Append(float32(i))
			vv.Append(float32(2 * i))
		}
		row += size
		recs = append(recs, b.NewRecordBatch())
		b.Release()
	}
	return recs
}

func (fx fixture) writeIPC(t *testing.T, mem memory.Allocator, path string, stream bool) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type writer interface {
		Write(arrow.RecordBatch) error
		Close() error
	}
	var w writer
	if stream {
		w = ipc.NewWriter(f, ipc.WithSchema(fixtureSchema), ipc.WithAllocator(mem))
	} else {
		fw, err := ipc.NewFileWriter(f, ipc.WithSchema(fixtureSchema), ipc.WithAllocator(mem))
		if err != nil {
			t.Fatal(err)
		}
		w = fw
	}
	for _, rec := range fx.records(mem) {
		err := w.Write(rec)
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// writeParquet writes fx in row groups of rowGroup rows.
func (fx fixture) writeParquet(t *testing.T, mem memory.Allocator, path string, rowGroup int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	props := parquet.NewWriterProperties(parquet.WithAllocator(mem), parquet.WithMaxRowGroupLength(rowGroup))
	w, err := pqarrow.NewFileWriter(fixtureSchema, f, props, pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(mem), pqarrow.WithStoreSchema()))
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range fx.records(mem) {
		err := w.Write(rec)
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// readAll reads every batch of src and returns columns a, b and v
// flattened, and the number of batches.
func readAll(t *testing.T, src *arrowio.Source) (a, b, v []float64, batches int) {
	t.Helper()
	rr, err := src.NewRecordReader(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	for rr.Next() {
		rec := rr.RecordBatch()
		batches++
		ca := rec.Column(0).(*array.Float64)
		for i := 0; i < ca.Len(); i++ {
			a = append(a, ca.Value(i))
		}
		switch cb := rec.Column(1).(type) {
		case *array.Int32:
			for i := 0; i < cb.Len(); i++ {
				b = append(b, float64(cb.Value(i)))
			}
		case *array.Int64: // CSV
			for i := 0; i < cb.Len(); i++ {
				b = append(b, float64(cb.Value(i)))
			}
		}
		if cv, ok := rec.Column(2).(*array.FixedSizeList); ok {
			vals := cv.ListValues().(*array.Float32)
			for i := 0; i < cv.Len()*2; i++ {
				v = append(v, float64(vals.Value(cv.Offset()*2+i)))
			}
		}
	}
	if err := rr.Err(); err != nil {
		t.Fatal(err)
	}
	return a, b, v, batches
}

func checkFixture(t *testing.T, fx fixture, a, b, v []float64, wantV bool) {
	t.Helper()
	n := fx.rows()
	if len(a) != n || len(b) != n {
		t.Fatalf("read %d, %d rows, want %d", len(a), len(b), n)
	}
	for i := range n {
		if a[i] != float64(i)+0.5 || b[i] != float64(-i) {
			t.Fatalf("row %d: a=%v b=%v, want %v %v", i, a[i], b[i], float64(i)+0.5, -i)
		}
	}
	if !wantV {
		return
	}
	if len(v) != 2*n {
		t.Fatalf("read %d list values, want %d", len(v), 2*n)
	}
	for i := range n {
		if v[2*i] != float64(i) || v[2*i+1] != float64(2*i) {
			t.Fatalf("row %d: v=%v, want [%d %d]", i, v[2*i:2*i+2], i, 2*i)
		}
	}
}

func TestOpenFormats(t *testing.T) {
	fx := fixture{batches: []int{3, 0, 5, 2}}
	tests := []struct {
		name    string
		file    string
		format  arrowio.Format
		batches int // want; -1 to skip the check
		write   func(t *testing.T, mem memory.Allocator, path string)
	}{
		{"ipc file", "x.arrow", arrowio.FormatIPCFile, 4, func(t *testing.T, mem memory.Allocator, p string) { fx.writeIPC(t, mem, p, false) }},
		{"ipc stream", "x.arrows", arrowio.FormatIPCStream, 4, func(t *testing.T, mem memory.Allocator, p string) { fx.writeIPC(t, mem, p, true) }},
		// The extension does not decide for Arrow files: the magic does.
		{"ipc file named csv", "x.csv", arrowio.FormatIPCFile, 4, func(t *testing.T, mem memory.Allocator, p string) { fx.writeIPC(t, mem, p, false) }},
		// pqarrow v18.8.0 writes a FixedSizeList wrongly when a record
		// batch spans row groups (it ignores the slice offset), so the
		// batches here end at row group boundaries.
		{"parquet row groups", "x.parquet", arrowio.FormatParquet, 3, func(t *testing.T, mem memory.Allocator, p string) {
			fixture{batches: []int{4, 4, 2}}.writeParquet(t, mem, p, 4)
		}},
		{"parquet batches within a row group", "x.parquet", arrowio.FormatParquet, 3, func(t *testing.T, mem memory.Allocator, p string) {
			fixture{batches: []int{10}}.writeParquet(t, mem, p, 100)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			path := filepath.Join(t.TempDir(), tt.file)
			tt.write(t, mem, path)
			src, err := arrowio.Open(t.Context(), path, arrowio.Options{Alloc: mem, BatchRows: 4})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			if got := src.Format(); got != tt.format {
				t.Errorf("Format() = %v, want %v", got, tt.format)
			}
			if got := stripMetadata(src.Schema()); !got.Equal(fixtureSchema) {
				t.Errorf("Schema() = %v, want %v", src.Schema(), fixtureSchema)
			}
			// Read twice: every file source is re-readable.
			for pass := range 2 {
				a, b, v, batches := readAll(t, src)
				checkFixture(t, fx, a, b, v, true)
				if tt.batches >= 0 && batches != tt.batches {
					t.Errorf("pass %d: %d batches, want %d", pass, batches, tt.batches)
				}
			}
		})
	}
}

// stripMetadata returns s without field metadata (pqarrow adds field ids)
// and with list element fields named "item".
func stripMetadata(s *arrow.Schema) *arrow.Schema {
	fields := make([]arrow.Field, s.NumFields())
	for i, f := range s.Fields() {
		fields[i] = arrow.Field{Name: f.Name, Type: f.Type, Nullable: f.Nullable}
		if l, ok := f.Type.(*arrow.FixedSizeListType); ok {
			fields[i].Type = arrow.FixedSizeListOf(l.Len(), l.Elem())
		}
	}
	return arrow.NewSchema(fields, nil)
}

func TestOpenCSV(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var buf bytes.Buffer
	buf.Write([]byte{0xef, 0xbb, 0xbf}) // a BOM, as spreadsheets write
	buf.WriteString("a,b,label,c\n")
	fx := fixture{batches: []int{7}}
	for i := range fx.rows() {
		// b is an integer column (int64), c has a float after integers
		// and a null: float64, not inferred from the first row.
		c := "1"
		switch i {
		case 3:
			c = "2.5"
		case 4:
			c = "NA"
		}
		buf.WriteString(strings.Join([]string{
			formatFloat(float64(i) + 0.5),
			formatFloat(float64(-i)), "name" + formatFloat(float64(i)), c,
		}, ",") + "\n")
	}
	path := filepath.Join(t.TempDir(), "x.CSV")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := arrowio.Open(t.Context(), path, arrowio.Options{Alloc: mem, BatchRows: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if src.Format() != arrowio.FormatCSV {
		t.Errorf("Format() = %v, want csv", src.Format())
	}
	want := arrow.NewSchema([]arrow.Field{
		{Name: "a", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "b", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "label", Type: arrow.BinaryTypes.String, Nullable: true,
			Metadata: arrow.NewMetadata([]string{"dcor-stream.csv.text-cell"}, []string{`row 0: "name0" is not a number`})},
		{Name: "c", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
	if !src.Schema().Equal(want) {
		t.Fatalf("Schema() = %v, want %v", src.Schema(), want)
	}
	for range 2 {
		a, b, _, batches := readAll(t, src)
		checkFixture(t, fx, a, b, nil, false)
		if batches != 3 {
			t.Errorf("%d batches, want 3", batches)
		}
	}
}

func formatFloat(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

func TestOpenStdin(t *testing.T) {
	for _, stream := range []bool{true, false} {
		name := "file"
		if stream {
			name = "stream"
		}
		t.Run(name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			fx := fixture{batches: []int{2, 3}}
			path := filepath.Join(t.TempDir(), "x")
			fx.writeIPC(t, mem, path, stream)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			src, err := arrowio.Open(t.Context(), "-", arrowio.Options{Alloc: mem, Stdin: bytes.NewReader(data)})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			if src.Name() != "stdin" {
				t.Errorf("Name() = %q, want stdin", src.Name())
			}
			a, b, v, _ := readAll(t, src)
			checkFixture(t, fx, a, b, v, true)
			_, err = src.NewRecordReader(t.Context())
			if !errors.Is(err, arrowio.ErrReadOnce) {
				t.Errorf("second NewRecordReader: err = %v, want ErrReadOnce", err)
			}
		})
	}
}

// TestCorrupt cuts valid files at many offsets and flips bytes: every case
// must give an error naming the file, never a panic, and leak nothing.
func TestCorrupt(t *testing.T) {
	for _, stream := range []bool{false, true} {
		name := "file"
		if stream {
			name = "stream"
		}
		t.Run(name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			dir := t.TempDir()
			good := filepath.Join(dir, "good.arrow")
			fixture{batches: []int{4, 4}}.writeIPC(t, mem, good, stream)
			data, err := os.ReadFile(good)
			if err != nil {
				t.Fatal(err)
			}
			// Every truncation, and every single-byte corruption.
			cases := map[string][]byte{}
			for cut := 1; cut < len(data); cut++ {
				cases[filepath.Join(dir, "cut"+strconv.Itoa(cut)+".arrow")] = data[:cut]
			}
			for at := range data {
				bad := bytes.Clone(data)
				bad[at] ^= 0xff
				cases[filepath.Join(dir, "flip"+strconv.Itoa(at)+".arrow")] = bad
			}
			for path, b := range cases {
				if err := os.WriteFile(path, b, 0o644); err != nil {
					t.Fatal(err)
				}
				err := readFile(t, mem, path)
				if strings.Contains(path, "flip") && err == nil {
					continue // a flipped value byte can still be a valid file
				}
				if err == nil {
					t.Errorf("%s (%d of %d bytes): no error", filepath.Base(path), len(b), len(data))
					continue
				}
				if !strings.Contains(err.Error(), path) {
					t.Errorf("%s: error %q does not name the file", filepath.Base(path), err)
				}
				if !errors.Is(err, arrowio.ErrCorrupt) && !errors.Is(err, arrowio.ErrFormat) {
					t.Errorf("%s: error %q wraps neither ErrCorrupt nor ErrFormat", filepath.Base(path), err)
				}
			}
		})
	}
}

// readFile opens path and reads all its batches, returning the first error.
func readFile(t *testing.T, mem memory.Allocator, path string) error {
	t.Helper()
	opts := arrowio.Options{Alloc: mem, MaxMetadataSize: 1 << 16, MaxBodySize: 1 << 20}
	src, err := arrowio.Open(t.Context(), path, opts)
	if err != nil {
		return err
	}
	defer src.Close()
	rr, err := src.NewRecordReader(t.Context())
	if err != nil {
		return err
	}
	defer rr.Release()
	for rr.Next() {
	}
	return rr.Err()
}

func TestGarbage(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, arrowio.ErrFormat},
		{"text", []byte("hello, world\n1,2\n"), arrowio.ErrFormat},
		{"short", []byte{1, 2}, arrowio.ErrFormat},
		{"magic only", []byte("ARROW1"), arrowio.ErrCorrupt},
		{"magic and zeros", append([]byte("ARROW1\x00\x00"), make([]byte, 64)...), arrowio.ErrCorrupt},
		{"continuation and junk", append([]byte{0xff, 0xff, 0xff, 0xff, 0x10, 0, 0, 0}, bytes.Repeat([]byte{0xab}, 40)...), arrowio.ErrCorrupt},
		{"legacy-looking junk", append([]byte{0x10, 0, 0, 0}, bytes.Repeat([]byte{0xcd}, 40)...), arrowio.ErrFormat},
		{"parquet magic only", []byte("PAR1junkjunkPAR1"), arrowio.ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_"))
			if err := os.WriteFile(path, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			err := readFile(t, mem, path)
			if !errors.Is(err, tt.want) {
				t.Errorf("read %q: err = %v, want %v", tt.name, err, tt.want)
			}
			if err != nil && !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		path := filepath.Join(dir, "nope.arrow")
		err := readFile(t, mem, path)
		if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), path) {
			t.Errorf("err = %v, want not-exist naming the file", err)
		}
	})
	t.Run("directory", func(t *testing.T) {
		if err := readFile(t, mem, dir); err == nil {
			t.Error("reading a directory: no error")
		}
	})
}

// TestBigEndian refuses data of the other byte order, which arrow-go
// would swap in place.
func TestBigEndian(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	other := endian.BigEndian
	if endian.IsBigEndian {
		other = endian.LittleEndian
	}
	schema := fixtureSchema.WithEndianness(other)
	for _, name := range []string{"be.arrow", "be.arrows"} {
		path := filepath.Join(t.TempDir(), name)
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, ".arrows") {
			w := ipc.NewWriter(f, ipc.WithSchema(schema), ipc.WithAllocator(mem))
			err = w.Close()
		} else {
			var w *ipc.FileWriter
			if w, err = ipc.NewFileWriter(f, ipc.WithSchema(schema), ipc.WithAllocator(mem)); err == nil {
				err = w.Close()
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		err = readFile(t, mem, path)
		if !errors.Is(err, arrowio.ErrUnsupported) || errors.Is(err, arrowio.ErrCorrupt) || !strings.Contains(err.Error(), "endian") {
			t.Errorf("%s: err = %v, want ErrUnsupported about endianness", name, err)
		}
	}
}

// TestCSVPadded: cells padded with spaces, as R's format() and fixed-width
// writers pad them, are numbers and nulls like unpadded ones; a number out
// of float64's range is a number (+Inf), for the caller to refuse.
func TestCSVPadded(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	path := filepath.Join(t.TempDir(), "padded.csv")
	data := "  a,  b , label\n 1.5,   2 , x y\n  -3 ,  NA,z\n10,1e400, \n"
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := arrowio.Open(t.Context(), path, arrowio.Options{Alloc: mem, BatchRows: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	want := arrow.NewSchema([]arrow.Field{
		{Name: "a", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "b", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "label", Type: arrow.BinaryTypes.String, Nullable: true,
			Metadata: arrow.NewMetadata([]string{"dcor-stream.csv.text-cell"}, []string{`row 0: "x y" is not a number`})},
	}, nil)
	if !src.Schema().Equal(want) {
		t.Fatalf("Schema() = %v, want %v", src.Schema(), want)
	}
	rr, err := src.NewRecordReader(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	var got []string
	for rr.Next() {
		rec := rr.RecordBatch()
		for i := range int(rec.NumRows()) {
			var row []string
			for _, col := range rec.Columns() {
				row = append(row, col.ValueStr(i))
			}
			got = append(got, strings.Join(row, "|"))
		}
	}
	if err := rr.Err(); err != nil {
		t.Fatal(err)
	}
	wantRows := []string{"1.5|2|x y", "-3|(null)|z", "10|+Inf|(null)"}
	if strings.Join(got, "\n") != strings.Join(wantRows, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantRows, "\n"))
	}
}
