package arrowio_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/dcor-stream/dcor-stream/arrowio"
)

var parquetMagic = []byte("PAR1")

// fuzzMaxRows bounds the rows a fuzz input is read for: a few bytes of
// Parquet (a run-length encoded page of nulls) can hold billions of rows,
// which is a valid file, but not one to read to the end in a fuzz target.
const fuzzMaxRows = 1 << 12

// FuzzParquetReader feeds arbitrary bytes, as a Parquet file, to Open and
// the batch reader. Inputs that do not start with the Parquet magic get
// it prepended, so that every input reaches pqarrow. Invariants:
//
//   - no panic (arrowio recovers pqarrow's and reports ErrCorrupt), and an
//     error wraps one of the package's sentinels and names the file;
//   - heap allocation stays within parquetAllocBound of the file size;
//   - every batch is validated and has the source's schema (the wrapper
//     checks this; the target checks the row counts);
//   - reading again from the row group holding a middle row starts at or
//     before that row and gives the same rows as the first pass;
//   - nothing is left allocated from Options.Alloc.
//
// At most fuzzMaxRows rows are read per pass. The seeds are small files
// written by pqarrow (parquetSeeds) and, in testdata/fuzz/FuzzParquetReader,
// damaged copies and regressions.
func FuzzParquetReader(f *testing.F) {
	for _, b := range parquetSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !bytes.HasPrefix(data, parquetMagic) {
			data = append(append([]byte(nil), parquetMagic...), data...)
		}
		path := filepath.Join(t.TempDir(), "in.parquet")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		opts := arrowio.Options{Alloc: mem, BatchRows: 64}
		alloc := heapAlloc(func() {
			src, err := arrowio.Open(t.Context(), path, opts)
			if err != nil {
				checkFuzzErr(t, err, path)
				return
			}
			defer src.Close()
			rr, err := src.NewRecordReader(t.Context())
			if err != nil {
				checkFuzzErr(t, err, path)
				return
			}
			rows, err := parquetRows(t, rr)
			checkFuzzErr(t, err, path)
			if err != nil || len(rows) < 2 {
				return
			}
			mid := int64(len(rows) / 2)
			rr, first, err := src.NewRecordReaderAt(t.Context(), mid)
			if err != nil {
				t.Fatalf("NewRecordReaderAt(%d) after a whole pass: %v", mid, err)
			}
			if first < 0 || first > mid {
				t.Fatalf("NewRecordReaderAt(%d) starts at row %d", mid, first)
			}
			again, err := parquetRows(t, rr)
			if err != nil {
				t.Fatalf("reading again from row %d: %v", first, err)
			}
			for i := range min(len(again), len(rows)-int(first)) {
				if again[i] != rows[int(first)+i] {
					t.Fatalf("row %d: %s, then %s from row %d", int(first)+i, rows[int(first)+i], again[i], first)
				}
			}
		})
		if lim := parquetAllocBound(len(data)); alloc > lim {
			t.Errorf("reading a %d-byte file allocated %d bytes, want at most %d", len(data), alloc, lim)
		}
	})
}

// parquetAllocBound is the most reading a Parquet file of size bytes may
// allocate: arrow-go's buffers (1 MiB per column chunk read, a page
// header buffer growing to 4 MiB), pages of up to minPageLimit whatever
// their size, and what a page may decompress to: up to 65536 times its
// size (see maxExpansion in parquet_check.go).
func parquetAllocBound(size int) uint64 {
	return 24<<20 + 65536*uint64(size)
}

// parquetRows reads at most fuzzMaxRows rows of rr, each as a string of
// its values, and releases rr.
func parquetRows(t *testing.T, rr array.RecordReader) ([]string, error) {
	defer rr.Release()
	var rows []string
	var b strings.Builder
	for len(rows) < fuzzMaxRows && rr.Next() {
		rec := rr.RecordBatch()
		if !rec.Schema().Equal(rr.Schema()) {
			t.Fatalf("batch schema %v, reader schema %v", rec.Schema(), rr.Schema())
		}
		for i := range int(rec.NumRows()) {
			b.Reset()
			for _, col := range rec.Columns() {
				if col.Len() != int(rec.NumRows()) {
					t.Fatalf("column of %d rows in a batch of %d", col.Len(), rec.NumRows())
				}
				b.WriteString(col.ValueStr(i))
				b.WriteByte('|')
			}
			rows = append(rows, b.String())
		}
	}
	return rows, rr.Err()
}

// parquetSeeds returns small Parquet files, as pqarrow writes them: flat
// columns with nulls in several row groups; a FixedSizeList column;
// a variable-length list with dictionary encoding and data page v2; and
// the compression codecs. Each row group is written as one record
// (arrow-go v18.8.0 corrupts a FixedSizeList column when one record spans
// row groups).
func parquetSeeds(tb testing.TB) [][]byte {
	f64, f32, i32 := arrow.PrimitiveTypes.Float64, arrow.PrimitiveTypes.Float32, arrow.PrimitiveTypes.Int32
	flat := arrow.NewSchema([]arrow.Field{
		{Name: "x", Type: f64},
		{Name: "y", Type: f64, Nullable: true},
		{Name: "label", Type: i32},
	}, nil)
	fixed := arrow.NewSchema([]arrow.Field{
		{Name: "v", Type: arrow.FixedSizeListOf(3, f64)},
		{Name: "z", Type: f32, Nullable: true},
	}, nil)
	list := arrow.NewSchema([]arrow.Field{
		{Name: "l", Type: arrow.ListOf(f64), Nullable: true},
	}, nil)
	dict := []parquet.WriterProperty{parquet.WithDictionaryDefault(true), parquet.WithDataPageVersion(parquet.DataPageV2)}
	return [][]byte{
		writeParquetSeed(tb, flat, 3, 4, parquet.WithDictionaryDefault(false)),
		writeParquetSeed(tb, fixed, 2, 3, parquet.WithDictionaryDefault(false), parquet.WithCompression(compress.Codecs.Snappy)),
		writeParquetSeed(tb, list, 2, 3, append(dict, parquet.WithCompression(compress.Codecs.Zstd))...),
		writeParquetSeed(tb, flat, 1, 5, parquet.WithCompression(compress.Codecs.Gzip), parquet.WithStats(false)),
		writeParquetSeed(tb, fixed, 1, 2, parquet.WithCompression(compress.Codecs.Lz4Raw), parquet.WithDataPageVersion(parquet.DataPageV2)),
		writeParquetSeed(tb, flat, 1, 2, parquet.WithCompression(compress.Codecs.Brotli)),
	}
}

// writeParquetSeed writes groups row groups of rows rows of schema sch,
// one record per row group, with small integer-valued data and a null in
// every third row of the nullable columns.
func writeParquetSeed(tb testing.TB, sch *arrow.Schema, groups, rows int, props ...parquet.WriterProperty) []byte {
	tb.Helper()
	mem := memory.NewGoAllocator()
	var buf bytes.Buffer
	props = append(props, parquet.WithAllocator(mem), parquet.WithMaxRowGroupLength(int64(rows)))
	w, err := pqarrow.NewFileWriter(sch, &buf, parquet.NewWriterProperties(props...), pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(mem)))
	if err != nil {
		tb.Fatal(err)
	}
	for g := range groups {
		b := array.NewRecordBuilder(mem, sch)
		for i := range rows {
			r := g*rows + i
			for c, fb := range b.Fields() {
				null := sch.Field(c).Nullable && r%3 == 2
				switch fb := fb.(type) {
				case *array.Float64Builder:
					if null {
						fb.AppendNull()
					} else {
						fb.Append(float64(r*(c+1)) - 2.5)
					}
				case *array.Float32Builder:
					if null {
						fb.AppendNull()
					} else {
						fb.Append(float32(r) / 2)
					}
				case *array.Int32Builder:
					fb.Append(int32(r % 2))
				case *array.FixedSizeListBuilder:
					fb.Append(true)
					for j := range 3 {
						fb.ValueBuilder().(*array.Float64Builder).Append(float64(3*r + j))
					}
				case *array.ListBuilder:
					if null {
						fb.AppendNull()
						continue
					}
					fb.Append(true)
					for j := range r % 4 {
						fb.ValueBuilder().(*array.Float64Builder).Append(float64(j % 2))
					}
				default:
					tb.Fatalf("writeParquetSeed: builder %T", fb)
				}
			}
		}
		rec := b.NewRecordBatch()
		if err := w.Write(rec); err != nil {
			tb.Fatal(err)
		}
		rec.Release()
		b.Release()
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// TestParquetAllocBounded opens small Parquet files whose first page
// header claims a page far larger than the file: each is refused without
// allocating more than a small fixed amount (arrow-go would allocate the
// claimed size before reading the page).
func TestParquetAllocBounded(t *testing.T) {
	// The first seed's first page header starts at byte 4: 15 00 (type
	// DATA_PAGE), 15 40 (uncompressed size 32), 15 40 (compressed size
	// 32), each size a zigzag varint.
	seed := parquetSeeds(t)[0]
	if !bytes.HasPrefix(seed, []byte("PAR1\x15\x00\x15\x40\x15\x40")) {
		t.Fatalf("the first seed does not start with the page header this test edits: % x", seed[:10])
	}
	// withSizes replaces the two sizes.
	withSizes := func(uncompressed, compressed int32) []byte {
		b := append([]byte(nil), seed[:4]...)
		b = append(b, 0x15, 0x00, 0x15)
		b = binary.AppendUvarint(b, uint64(uncompressed)<<1)
		b = append(b, 0x15)
		b = binary.AppendUvarint(b, uint64(compressed)<<1)
		return append(b, seed[10:]...)
	}
	for _, tt := range []struct {
		name                     string
		uncompressed, compressed int32
	}{
		{"uncompressed page of 256 MiB", 256<<20 - 1, 32},
		{"compressed page of 64 MiB", 32, 64<<20 - 1},
		{"both", 256<<20 - 1, 64<<20 - 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			data := withSizes(tt.uncompressed, tt.compressed)
			path := filepath.Join(t.TempDir(), "big.parquet")
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			var err error
			alloc := heapAlloc(func() {
				var src *arrowio.Source
				if src, err = arrowio.Open(t.Context(), path, arrowio.Options{Alloc: mem}); err != nil {
					return
				}
				defer src.Close()
				var rr array.RecordReader
				if rr, err = src.NewRecordReader(t.Context()); err != nil {
					return
				}
				_, err = parquetRows(t, rr)
			})
			if !errors.Is(err, arrowio.ErrCorrupt) {
				t.Errorf("reading it: %v, want an error wrapping ErrCorrupt", err)
			}
			checkFuzzErr(t, err, path)
			if lim := uint64(16 << 20); alloc > lim {
				t.Errorf("a %d-byte file allocated %d bytes, want at most %d", len(data), alloc, lim)
			}
		})
	}
}

// compact writes the Thrift compact protocol, for hand-made Parquet files
// that pqarrow would not write.
type compact struct {
	b    []byte
	last []int16 // id of the last field of each open struct
}

// Thrift compact type codes.
const (
	ctI32    = 5
	ctI64    = 6
	ctBinary = 8
	ctList   = 9
	ctStruct = 12
)

func (c *compact) field(id int16, typ byte) {
	if len(c.last) == 0 {
		c.last = []int16{0}
	}
	top := &c.last[len(c.last)-1]
	if d := id - *top; d > 0 && d <= 15 {
		c.b = append(c.b, byte(d)<<4|typ)
	} else {
		c.b = append(c.b, typ)
		c.b = binary.AppendVarint(c.b, int64(id))
	}
	*top = id
}

func (c *compact) i32(id int16, v int32) {
	c.field(id, ctI32)
	c.b = binary.AppendVarint(c.b, int64(v))
}
func (c *compact) i64(id int16, v int64) { c.field(id, ctI64); c.b = binary.AppendVarint(c.b, v) }
func (c *compact) str(id int16, s string) {
	c.field(id, ctBinary)
	c.b = binary.AppendUvarint(c.b, uint64(len(s)))
	c.b = append(c.b, s...)
}

// list starts a list field of n elements of type typ.
func (c *compact) list(id int16, typ byte, n int) {
	c.field(id, ctList)
	if n < 15 {
		c.b = append(c.b, byte(n)<<4|typ)
	} else {
		c.b = append(c.b, 0xf0|typ)
		c.b = binary.AppendUvarint(c.b, uint64(n))
	}
}

// begin starts a struct: a field of one (id > 0) or a list element (id 0).
func (c *compact) begin(id int16) {
	if id > 0 {
		c.field(id, ctStruct)
	}
	c.last = append(c.last, 0)
}

func (c *compact) end() {
	c.b = append(c.b, 0)
	c.last = c.last[:len(c.last)-1]
}

// dictParquet returns a Parquet file of one required DOUBLE column "x" in
// one row group: a PLAIN dictionary page whose header says it holds
// dictLen values (it holds the values of dict), and a data page of rows
// rows, all index idx (RLE_DICTIONARY, one RLE run).
func dictParquet(dict []float64, dictLen, idx int32, rows int) []byte {
	return handParquet(dict, dictLen, idx, rows, 1)
}

// handParquet is dictParquet with the root of the schema claiming
// children children (it has 1).
func handParquet(dict []float64, dictLen, idx int32, rows int, children int32) []byte {
	page := func(typ int32, hdrField int16, body []byte, fields func(c *compact)) []byte {
		var c compact
		c.i32(1, typ)
		c.i32(2, int32(len(body)))
		c.i32(3, int32(len(body)))
		c.begin(hdrField)
		fields(&c)
		c.end()
		c.end()
		return append(c.b, body...)
	}
	var dictBody []byte
	for _, v := range dict {
		dictBody = binary.LittleEndian.AppendUint64(dictBody, math.Float64bits(v))
	}
	dictPage := page(2, 7, dictBody, func(c *compact) {
		c.i32(1, dictLen)
		c.i32(2, 0) // PLAIN
	})
	width := bits.Len32(uint32(max(dictLen-1, 1)))
	dataBody := []byte{byte(width)}
	dataBody = binary.AppendUvarint(dataBody, uint64(rows)<<1) // an RLE run
	for i := range (width + 7) / 8 {
		dataBody = append(dataBody, byte(idx>>(8*i)))
	}
	dataPage := page(0, 5, dataBody, func(c *compact) {
		c.i32(1, int32(rows))
		c.i32(2, 8) // RLE_DICTIONARY
		c.i32(3, 3) // RLE
		c.i32(4, 3)
	})
	const start = 4
	chunk := int64(len(dictPage) + len(dataPage))
	var m compact
	m.i32(1, 1)
	m.list(2, ctStruct, 2)
	m.begin(0)
	m.str(4, "schema")
	m.i32(5, children)
	m.end()
	m.begin(0)
	m.i32(1, 5) // DOUBLE
	m.i32(3, 0) // REQUIRED
	m.str(4, "x")
	m.end()
	m.i64(3, int64(rows))
	m.list(4, ctStruct, 1)
	m.begin(0)
	m.list(1, ctStruct, 1)
	m.begin(0)
	m.i64(2, start)
	m.begin(3)
	m.i32(1, 5)
	m.list(2, ctI32, 2)
	m.b = binary.AppendVarint(m.b, 0)
	m.b = binary.AppendVarint(m.b, 8)
	m.list(3, ctBinary, 1)
	m.b = append(m.b, 1, 'x')
	m.i32(4, 0) // UNCOMPRESSED
	m.i64(5, int64(rows))
	m.i64(6, chunk)
	m.i64(7, chunk)
	m.i64(9, start+int64(len(dictPage)))
	m.i64(11, start)
	m.end()
	m.end()
	m.i64(2, chunk)
	m.i64(3, int64(rows))
	m.end()
	m.end()

	b := []byte("PAR1")
	b = append(b, dictPage...)
	b = append(b, dataPage...)
	b = append(b, m.b...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(m.b)))
	return append(b, "PAR1"...)
}

// TestParquetDictionaryClaim reads a hand-made file whose dictionary page
// says it holds 2^31-1 DOUBLE values (it holds 3, in 24 bytes) and whose
// data page uses index 2^31-2: arrow-go v18.8.0 would allocate 16 GiB for
// the dictionary before finding it short. arrowio refuses the file from
// the page header, allocating little. The same file with an honest count
// reads.
func TestParquetDictionaryClaim(t *testing.T) {
	for _, tt := range []struct {
		name         string
		dictLen, idx int32
		want         string // a row of the file; "" for an error
	}{
		{"honest", 3, 2, "3.5|"},
		{"2^31-1 values claimed", 1<<31 - 1, 1<<31 - 2, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			data := dictParquet([]float64{1.5, 2.5, 3.5}, tt.dictLen, tt.idx, 5)
			path := filepath.Join(t.TempDir(), "dict.parquet")
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			var rows []string
			var err error
			alloc := heapAlloc(func() {
				var src *arrowio.Source
				if src, err = arrowio.Open(t.Context(), path, arrowio.Options{Alloc: mem}); err != nil {
					return
				}
				defer src.Close()
				var rr array.RecordReader
				if rr, err = src.NewRecordReader(t.Context()); err != nil {
					return
				}
				rows, err = parquetRows(t, rr)
			})
			if tt.want != "" {
				if err != nil || len(rows) != 5 || rows[0] != tt.want {
					t.Errorf("read %q, %v; want 5 rows %q", rows, err, tt.want)
				}
			} else if !errors.Is(err, arrowio.ErrCorrupt) || !strings.Contains(err.Error(), "dictionary page") {
				t.Errorf("reading it: %v, want ErrCorrupt about the dictionary page", err)
			}
			checkFuzzErr(t, err, path)
			if lim := uint64(4 << 20); alloc > lim {
				t.Errorf("a %d-byte file allocated %d bytes, want at most %d", len(data), alloc, lim)
			}
		})
	}
}

// TestParquetFooterClaims opens small Parquet files whose footer claims
// more than it holds: a schema root with 2^31-1 children (arrow-go would
// allocate 32 GiB for them) and a key-value list of 100M entries, as the
// fuzzer found (800 MB). Each is refused at Open, allocating little.
func TestParquetFooterClaims(t *testing.T) {
	for _, tt := range []struct {
		name string
		data []byte
		want string
	}{
		{"2^31-1 children", handParquet([]float64{1}, 1, 0, 2, 1<<31-1), "children"},
		{"list of 100M key-values", corpusInput(t, "regression-footer-list-claims-100M-elements"), "footer"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "footer.parquet")
			if err := os.WriteFile(path, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			var err error
			alloc := heapAlloc(func() {
				var src *arrowio.Source
				if src, err = arrowio.Open(t.Context(), path, arrowio.Options{}); err == nil {
					src.Close()
				}
			})
			if !errors.Is(err, arrowio.ErrCorrupt) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open = %v, want ErrCorrupt saying %q", err, tt.want)
			}
			if lim := uint64(1 << 20); alloc > lim {
				t.Errorf("a %d-byte file allocated %d bytes, want at most %d", len(tt.data), alloc, lim)
			}
		})
	}
}

// corpusInput returns the file FuzzParquetReader makes of the input in
// its corpus file name (the input, with the Parquet magic prepended if it
// lacks it).
func corpusInput(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzParquetReader", name))
	if err != nil {
		t.Fatal(err)
	}
	lit, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "go test fuzz v1\n[]byte(")
	if !ok || !strings.HasSuffix(lit, ")") {
		t.Fatalf("%s: not a corpus file of one []byte", name)
	}
	s, err := strconv.Unquote(strings.TrimSuffix(lit, ")"))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if !strings.HasPrefix(s, "PAR1") {
		s = "PAR1" + s
	}
	return []byte(s)
}
