package stream_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/dcor-stream/dcor-stream/arrowio"
	"github.com/dcor-stream/dcor-stream/stream"
)

// dataset is n rows of a 3-dimensional space x and a scalar y, written in
// every format by the methods below. Values are random float64s (of every
// exponent sign), which CSV keeps exactly ('g', -1).
type dataset struct {
	n    int
	x, y []float64
}

const dsDim = 3

func newDataset(n int, seed uint64) dataset {
	rng := rand.New(rand.NewPCG(seed, 2))
	ds := dataset{n: n, x: make([]float64, n*dsDim), y: make([]float64, n)}
	for i := range ds.x {
		ds.x[i] = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(7)-3))
	}
	for i := range ds.y {
		ds.y[i] = rng.NormFloat64()
	}
	return ds
}

// schema has x as a fixed-size list, x as flat columns x_0.., and y.
var dsSchema = arrow.NewSchema([]arrow.Field{
	field("x", arrow.FixedSizeListOf(dsDim, arrow.PrimitiveTypes.Float64)),
	field("x_0", arrow.PrimitiveTypes.Float64),
	field("x_1", arrow.PrimitiveTypes.Float64),
	field("x_2", arrow.PrimitiveTypes.Float64),
	field("y", arrow.PrimitiveTypes.Float64),
}, nil)

// records returns batches of the given sizes, covering all n rows (the
// last size is extended); release each.
func (ds dataset) records(mem memory.Allocator, sizes ...int) []arrow.RecordBatch {
	var recs []arrow.RecordBatch
	for row, b := 0, 0; row < ds.n || b == 0; b++ {
		size := ds.n - row
		if b < len(sizes)-1 {
			size = min(sizes[b], size)
		}
		rb := array.NewRecordBuilder(mem, dsSchema)
		lb := rb.Field(0).(*array.FixedSizeListBuilder)
		vb := lb.ValueBuilder().(*array.Float64Builder)
		for i := row; i < row+size; i++ {
			lb.Append(true)
			vb.AppendValues(ds.x[i*dsDim:(i+1)*dsDim], nil)
			for j := range dsDim {
				rb.Field(1 + j).(*array.Float64Builder).Append(ds.x[i*dsDim+j])
			}
			rb.Field(4).(*array.Float64Builder).Append(ds.y[i])
		}
		recs = append(recs, rb.NewRecordBatch())
		rb.Release()
		row += size
	}
	return recs
}

func (ds dataset) writeIPC(t *testing.T, mem memory.Allocator, path string, stream bool, sizes ...int) {
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
		w = ipc.NewWriter(f, ipc.WithSchema(dsSchema), ipc.WithAllocator(mem))
	} else if w, err = ipc.NewFileWriter(f, ipc.WithSchema(dsSchema), ipc.WithAllocator(mem)); err != nil {
		t.Fatal(err)
	}
	for _, rec := range ds.records(mem, sizes...) {
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

func (ds dataset) writeParquet(t *testing.T, mem memory.Allocator, path string, rowGroup int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	props := parquet.NewWriterProperties(parquet.WithAllocator(mem), parquet.WithMaxRowGroupLength(rowGroup))
	w, err := pqarrow.NewFileWriter(dsSchema, f, props, pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(mem), pqarrow.WithStoreSchema()))
	if err != nil {
		t.Fatal(err)
	}
	// One record per row group: arrow-go v18.8.0's pqarrow writer ignores
	// the offset of a sliced FixedSizeList when it splits a record across
	// row groups, writing the first rows' values into every row group.
	sizes := make([]int, (int64(ds.n)+rowGroup-1)/rowGroup)
	for i := range sizes {
		sizes[i] = int(rowGroup)
	}
	for _, rec := range ds.records(mem, sizes...) {
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

func (ds dataset) writeCSV(t *testing.T, path string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("x_0,x_1,x_2,y\n")
	for i := range ds.n {
		for j := range dsDim {
			b.WriteString(strconv.FormatFloat(ds.x[i*dsDim+j], 'g', -1, 64) + ",")
		}
		b.WriteString(strconv.FormatFloat(ds.y[i], 'g', -1, 64) + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeNpy writes vals as a float64 .npy file (format 1.0) of the given
// shape, its header written by hand as numpy does.
func writeNpy(t *testing.T, path string, shape string, vals []float64) {
	t.Helper()
	dict := fmt.Sprintf("{'descr': '<f8', 'fortran_order': False, 'shape': %s, }", shape)
	hlen := len(dict) + 1
	hlen += (64 - (10+hlen)%64) % 64
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&b, binary.LittleEndian, uint16(hlen))
	b.WriteString(dict + strings.Repeat(" ", hlen-len(dict)-1) + "\n")
	binary.Write(&b, binary.LittleEndian, vals)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// formats writes ds in every format into dir and returns, per format, the
// specs of x and y.
func (ds dataset) formats(t *testing.T, mem memory.Allocator, dir string) map[string][]stream.Spec {
	t.Helper()
	p := func(name string) string { return filepath.Join(dir, name) }
	ds.writeIPC(t, mem, p("d.arrow"), false, 40, 0, 7)
	ds.writeIPC(t, mem, p("d.arrows"), true, 13, 50)
	ds.writeParquet(t, mem, p("d.parquet"), 10)
	ds.writeCSV(t, p("d.csv"))
	writeNpy(t, p("x.npy"), fmt.Sprintf("(%d, %d)", ds.n, dsDim), ds.x)
	writeNpy(t, p("y.npy"), fmt.Sprintf("(%d,)", ds.n), ds.y)
	list := func(file string) []stream.Spec {
		return []stream.Spec{{File: file, Columns: []string{"x"}}, {File: file, Columns: []string{"y"}}}
	}
	flat := func(file string) []stream.Spec {
		return []stream.Spec{{File: file, Columns: []string{"x_*"}}, {File: file, Columns: []string{"y"}}}
	}
	whole := func(x, y string) []stream.Spec {
		sx, err := stream.ParseSpec(x)
		if err != nil {
			t.Fatal(err)
		}
		sy, err := stream.ParseSpec(y)
		if err != nil {
			t.Fatal(err)
		}
		return []stream.Spec{sx, sy}
	}
	return map[string][]stream.Spec{
		"ipc file list":      list(p("d.arrow")),
		"ipc file flat":      flat(p("d.arrow")),
		"ipc stream list":    list(p("d.arrows")),
		"ipc stream flat":    flat(p("d.arrows")),
		"parquet list":       list(p("d.parquet")),
		"parquet flat":       flat(p("d.parquet")),
		"csv flat":           flat(p("d.csv")),
		"npy":                whole(p("x.npy"), p("y.npy")),
		"npy and parquet":    {{File: p("x.npy"), Columns: []string{"*"}}, {File: p("d.parquet"), Columns: []string{"y"}}},
		"ipc file and npy y": {{File: p("d.arrow"), Columns: []string{"x_0", "x_1", "x_2"}}, {File: p("y.npy"), Columns: []string{arrowio.NpyColumn}}},
	}
}

// TestFormatsAgree loads the same data from every format: the numbers are
// identical (==), and so are those of a Reader's passes.
func TestFormatsAgree(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ds := newDataset(103, 1)
	for name, specs := range ds.formats(t, mem, t.TempDir()) {
		t.Run(name, func(t *testing.T) {
			tab, err := stream.Load(t.Context(), "", specs, stream.Options{Alloc: mem, BatchRows: 16})
			if err != nil {
				t.Fatal(err)
			}
			if tab.N != ds.n || tab.Spaces[0].Dim != dsDim || tab.Spaces[1].Dim != 1 {
				t.Fatalf("Load: N %d, dims %d, %d; want %d, %d, 1", tab.N, tab.Spaces[0].Dim, tab.Spaces[1].Dim, ds.n, dsDim)
			}
			if !slices.Equal(tab.Spaces[0].Data, ds.x) || !slices.Equal(tab.Spaces[1].Data, ds.y) {
				t.Errorf("Load: data differ from the written values")
			}
			x, y := readPasses(t, specs, stream.Options{Alloc: mem, BatchRows: 16}, 0, 17, 2)
			if !slices.Equal(x, ds.x) || !slices.Equal(y, ds.y) {
				t.Errorf("Reader: data differ from the written values")
			}
		})
	}
}

// readPasses reads passes passes of blocks of rows rows from row from, and
// returns the last pass's x and y concatenated; it fails if passes differ
// or a block is out of place.
func readPasses(t *testing.T, specs []stream.Spec, opts stream.Options, from int64, rows, passes int) (x, y []float64) {
	t.Helper()
	r, err := stream.NewReader(t.Context(), "", specs, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for pass := range passes {
		px, py, err := readPass(t, r, from, rows)
		if err != nil {
			t.Fatalf("pass %d: %v", pass, err)
		}
		if pass > 0 && (!slices.Equal(px, x) || !slices.Equal(py, y)) {
			t.Fatalf("pass %d differs from pass %d", pass, pass-1)
		}
		x, y = px, py
	}
	return x, y
}

// readPass reads one pass of r and checks the blocks' shape and order.
func readPass(t *testing.T, r *stream.Reader, from int64, rows int) (x, y []float64, err error) {
	t.Helper()
	p, err := r.NewPass(t.Context(), from, rows)
	if err != nil {
		return nil, nil, err
	}
	defer p.Close()
	row := from
	for {
		b, err := p.Next(t.Context())
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		if b.Row0 != row || b.N < 1 || b.N > rows || len(b.Spaces[0]) != b.N*b.Dims[0] || len(b.Spaces[1]) != b.N*b.Dims[1] {
			t.Fatalf("block at row %d: Row0 %d, N %d (max %d), %d and %d values, dims %v", row, b.Row0, b.N, rows, len(b.Spaces[0]), len(b.Spaces[1]), b.Dims)
		}
		if b.N < rows {
			// Only the last block may be short.
			if _, err := p.Next(t.Context()); err != io.EOF {
				t.Fatalf("short block of %d rows at row %d is not the last (next: %v)", b.N, row, err)
			}
		}
		row += int64(b.N)
		x = append(x, b.Spaces[0]...)
		y = append(y, b.Spaces[1]...)
		if b.N < rows {
			break
		}
	}
	if n := r.N(); n != row && from <= n {
		t.Fatalf("N = %d after a pass ending at row %d", n, row)
	}
	return x, y, nil
}

// TestReaderBlocks reads in blocks of various sizes, from various rows,
// over several passes, with and without dropping: the blocks concatenated
// equal Load's data.
func TestReaderBlocks(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	ds := newDataset(61, 2)
	clean := ds.formats(t, mem, filepath.Join(dir))

	// A copy with invalid values in several rows of both files.
	bad := newDataset(61, 2)
	for _, i := range []int{0, 1, 17, 30, 31, 60} {
		bad.x[i*dsDim+i%dsDim] = []float64{math.NaN(), math.Inf(1), math.Inf(-1)}[i%3]
	}
	for _, i := range []int{5, 30, 44} {
		bad.y[i] = math.NaN()
	}
	bdir := filepath.Join(dir, "bad")
	if err := os.Mkdir(bdir, 0o755); err != nil {
		t.Fatal(err)
	}
	dirty := bad.formats(t, mem, bdir)

	for _, tt := range []struct {
		name  string
		specs []stream.Spec
		drop  bool
	}{
		{"npy", clean["npy"], false},
		{"parquet flat", clean["parquet flat"], false},
		{"ipc stream and npy", clean["ipc file and npy y"], false},
		{"npy and parquet, dropping", dirty["npy and parquet"], true},
		{"ipc file and npy y, dropping", dirty["ipc file and npy y"], true},
		{"csv, dropping", dirty["csv flat"], true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opts := stream.Options{Alloc: mem, DropInvalid: tt.drop, BatchRows: 8}
			tab, err := stream.Load(t.Context(), "", tt.specs, opts)
			if err != nil {
				t.Fatal(err)
			}
			// The rows kept, computed here from the values written.
			src := ds
			if tt.drop {
				src = bad
			}
			var wantX, wantY []float64
			for i := range src.n {
				row := append(slices.Clone(src.x[i*dsDim:(i+1)*dsDim]), src.y[i])
				if !slices.ContainsFunc(row, func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }) {
					wantX = append(wantX, row[:dsDim]...)
					wantY = append(wantY, row[dsDim])
				}
			}
			if !slices.Equal(tab.Spaces[0].Data, wantX) || !slices.Equal(tab.Spaces[1].Data, wantY) {
				t.Fatalf("Load: %d rows differ from the %d valid rows written", tab.N, len(wantY))
			}
			if tt.drop && tab.Dropped != 8 {
				t.Fatalf("Load dropped %d rows, want 8", tab.Dropped)
			}
			r, err := stream.NewReader(t.Context(), "", tt.specs, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			n := int64(tab.N)
			for _, rows := range []int{1, 2, 3, 7, 16, 53, 200} {
				for _, from := range []int64{0, 5, 21, n - 1, n, n + 3} {
					wx := tab.Spaces[0].Data[min(from, n)*dsDim:]
					wy := tab.Spaces[1].Data[min(from, n):]
					for pass := range 2 {
						x, y, err := readPass(t, r, from, rows)
						if err != nil {
							t.Fatalf("rows %d from %d pass %d: %v", rows, from, pass, err)
						}
						if !slices.Equal(x, wx) || !slices.Equal(y, wy) {
							t.Fatalf("rows %d from %d pass %d: %d x and %d y values differ from Load's %d and %d",
								rows, from, pass, len(x), len(y), len(wx), len(wy))
						}
					}
				}
			}
			if r.N() != n || (tt.drop && r.Dropped() != 8) {
				t.Errorf("N, Dropped = %d, %d; want %d, 8", r.N(), r.Dropped(), n)
			}
		})
	}
}

// TestReaderChanged changes a file between passes: the next pass fails
// with an error naming the file.
func TestReaderChanged(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ds := newDataset(30, 3)
	for _, tt := range []struct {
		name   string
		specs  func(dir string) []stream.Spec
		change func(t *testing.T, dir string) string // returns the path changed
	}{
		{"npy truncated", func(dir string) []stream.Spec {
			return []stream.Spec{{File: filepath.Join(dir, "x.npy"), Columns: []string{"*"}}, {File: filepath.Join(dir, "d.csv"), Columns: []string{"y"}}}
		}, func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "x.npy")
			if err := os.Truncate(p, 200); err != nil {
				t.Fatal(err)
			}
			return p
		}},
		{"csv rewritten with fewer rows", func(dir string) []stream.Spec {
			return []stream.Spec{{File: filepath.Join(dir, "d.csv"), Columns: []string{"x_*"}}, {File: filepath.Join(dir, "y.npy"), Columns: []string{"*"}}}
		}, func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "d.csv")
			newDataset(29, 3).writeCSV(t, p)
			return p
		}},
		{"stream touched", func(dir string) []stream.Spec {
			return []stream.Spec{{File: filepath.Join(dir, "d.arrows"), Columns: []string{"x"}}, {File: filepath.Join(dir, "d.arrows"), Columns: []string{"y"}}}
		}, func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "d.arrows")
			if err := os.Chtimes(p, time.Time{}, time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			return p
		}},
		{"parquet replaced", func(dir string) []stream.Spec {
			return []stream.Spec{{File: filepath.Join(dir, "d.parquet"), Columns: []string{"x"}}, {File: filepath.Join(dir, "d.parquet"), Columns: []string{"y"}}}
		}, func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "d.parquet")
			q := filepath.Join(dir, "new.parquet")
			ds.writeParquet(t, memory.NewGoAllocator(), q, 7)
			if err := os.Rename(q, p); err != nil {
				t.Fatal(err)
			}
			return p
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			ds.formats(t, mem, dir)
			r, err := stream.NewReader(t.Context(), "", tt.specs(dir), stream.Options{Alloc: mem})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if _, _, err := readPass(t, r, 0, 7); err != nil {
				t.Fatal(err)
			}
			path := tt.change(t, dir)
			_, _, err = readPass(t, r, 0, 7)
			if !errors.Is(err, arrowio.ErrChanged) || !strings.HasPrefix(err.Error(), path+": ") {
				t.Errorf("pass after the change: err = %v, want ErrChanged naming %s", err, path)
			}
		})
	}
}

// TestReaderStdinSpill makes several passes over standard input, spilled
// to a temporary file that Close removes.
func TestReaderStdinSpill(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	ds := newDataset(57, 4)
	path := filepath.Join(dir, "d.arrows")
	ds.writeIPC(t, mem, path, true, 10, 20)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	specs := []stream.Spec{{File: "-", Columns: []string{"x"}}, {File: "-", Columns: []string{"y"}}}

	// Without Spill: one pass only.
	r, err := stream.NewReader(t.Context(), "", specs, stream.Options{Alloc: mem, Stdin: bytes.NewReader(data)})
	if err != nil {
		t.Fatal(err)
	}
	if r.Rereadable() {
		t.Error("Rereadable = true for stdin without Spill")
	}
	if _, _, err := readPass(t, r, 0, 9); err != nil {
		t.Fatal(err)
	}
	if _, _, err := readPass(t, r, 0, 9); !errors.Is(err, arrowio.ErrReadOnce) {
		t.Errorf("second pass without Spill: err = %v, want ErrReadOnce", err)
	}
	r.Close()

	opts := stream.Options{Alloc: mem, Stdin: bytes.NewReader(data), Spill: true, TempDir: tmp}
	x, y := readPasses(t, specs, opts, 0, 9, 3)
	if !slices.Equal(x, ds.x) || !slices.Equal(y, ds.y) {
		t.Errorf("spilled stdin: data differ from the written values")
	}
	if ents, err := os.ReadDir(tmp); err != nil || len(ents) != 0 {
		t.Errorf("temporary directory holds %v (err %v) after Close", ents, err)
	}
}

// TestReaderRowMismatch finds files of different lengths during a pass.
func TestReaderRowMismatch(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.npy"), filepath.Join(dir, "b.parquet")
	writeNpy(t, a, "(40,)", make([]float64, 40))
	newDataset(45, 5).writeParquet(t, mem, b, 10)
	r, err := stream.NewReader(t.Context(), "", []stream.Spec{{File: a, Columns: []string{"*"}}, {File: b, Columns: []string{"y"}}}, stream.Options{Alloc: mem})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, _, err = readPass(t, r, 0, 16)
	if !errors.Is(err, stream.ErrRowMismatch) || !strings.Contains(err.Error(), a+" has 40 rows, "+b+" has 45 rows") {
		t.Errorf("err = %v, want ErrRowMismatch with both counts", err)
	}
}

// TestLoadManyBlocks loads more rows than one block of ReadAll's pass
// over an input of unknown length (Arrow IPC, CSV: the first block's
// buffer kept, the others appended) and of known length (.npy, Parquet:
// one block, sized once): every format gives the written values.
func TestLoadManyBlocks(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ds := newDataset(16<<10+300, 3)
	for name, specs := range ds.formats(t, mem, t.TempDir()) {
		tab, err := stream.Load(t.Context(), "", specs, stream.Options{Alloc: mem})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if tab.N != ds.n || !slices.Equal(tab.Spaces[0].Data, ds.x) || !slices.Equal(tab.Spaces[1].Data, ds.y) {
			t.Errorf("%s: Load gives %d rows, or data that differ from the written values", name, tab.N)
		}
	}
}

// TestReaderWorkers checks that decoding the files on several goroutines
// (Options.Workers) gives the blocks of one goroutine, and the error of
// the first file in order where several files have an invalid value.
func TestReaderWorkers(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(7, 8))
	const n, px, py = 300, 5, 3
	x, y := make([]float64, n*px), make([]float64, n*py)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	for i := range y {
		y[i] = rng.NormFloat64()
	}
	write := func(name string, dim int, v []float64) string {
		p := filepath.Join(dir, name)
		writeNpy(t, p, fmt.Sprintf("(%d, %d)", n, dim), v)
		return p
	}
	xf, yf := write("x.npy", px, x), write("y.npy", py, y)
	read := func(workers int, files ...string) ([][]float64, error) {
		specs := make([]stream.Spec, len(files))
		for i, f := range files {
			specs[i] = stream.Spec{File: f, Columns: []string{"data"}}
		}
		r, err := stream.NewReader(t.Context(), "", specs, stream.Options{Workers: workers, BatchRows: 64})
		if err != nil {
			return nil, err
		}
		defer r.Close()
		return r.ReadAll(t.Context())
	}
	want, err := read(1, xf, yf, xf)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []int{2, 3, 8} {
		got, err := read(w, xf, yf, xf)
		if err != nil {
			t.Fatalf("Workers %d: %v", w, err)
		}
		for k := range want {
			if !slices.Equal(got[k], want[k]) {
				t.Errorf("Workers %d: space %d differs from one goroutine's", w, k)
			}
		}
	}
	x[100*px+1], y[90*py] = math.NaN(), math.Inf(1) // in one batch
	xb, yb := write("xbad.npy", px, x), write("ybad.npy", py, y)
	_, want1 := read(1, xb, yb)
	_, got1 := read(2, xb, yb)
	if want1 == nil || got1 == nil || want1.Error() != got1.Error() {
		t.Errorf("Workers 2: error %v, want %v", got1, want1)
	}
}
