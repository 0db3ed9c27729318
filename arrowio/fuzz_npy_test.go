package arrowio_test

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/dcor-stream/dcor-stream/arrowio"
)

var npyMagic = []byte("\x93NUMPY")

// FuzzNpyReader feeds arbitrary bytes, as a .npy file, to Open and the
// batch reader. Inputs that do not start with the .npy magic get it
// prepended, so that every input exercises the .npy decoder. Invariants:
//
//   - no panic, and an error wraps one of the package's sentinels and
//     names the file;
//   - heap allocation stays within npyAllocBound of the file size;
//   - on success the value bytes of the batches, in order, are exactly
//     the bytes after the header (the reader refuses a file whose data
//     does not have the size the header's shape promises), the row count
//     is the shape's first axis and the row width the product of the
//     others, when the header's shape is a plain tuple of integers;
//   - a reader started at a middle row starts there and reads the rest;
//   - nothing is left allocated from Options.Alloc.
//
// The seed corpus in testdata/fuzz/FuzzNpyReader holds small valid files
// of each format version, aligned and unaligned, and damaged copies.
func FuzzNpyReader(f *testing.F) {
	// Small valid files are in testdata/fuzz/FuzzNpyReader; these reach
	// the preamble checks.
	f.Add([]byte("\x93NUMPY\x01\x00"))
	f.Add([]byte("\x93NUMPY\x02\x00\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if !bytes.HasPrefix(data, npyMagic) {
			data = append(append([]byte(nil), npyMagic...), data...)
		}
		path := filepath.Join(t.TempDir(), "in.npy")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		opts := arrowio.Options{Alloc: mem, BatchRows: 3}

		var got [][]byte
		var rows int64
		var sch *arrow.Schema
		alloc := heapAlloc(func() {
			src, err := arrowio.Open(t.Context(), path, opts)
			if err != nil {
				checkFuzzErr(t, err, path)
				return
			}
			defer src.Close()
			sch = src.Schema()
			got, rows, err = npyRead(t, src)
			if err != nil {
				t.Fatalf("reading a .npy file that opened: %v", err)
			}
			if rows > 1 {
				// A reader started at a middle row reads the rest.
				mid := rows / 2
				tail, tailRows, err := npyReadAt(t, src, mid)
				if err != nil {
					t.Fatalf("reading from row %d: %v", mid, err)
				}
				all := bytes.Join(got, nil)
				if tailRows != rows-mid || !bytes.Equal(bytes.Join(tail, nil), all[int64(len(all))/rows*mid:]) {
					t.Errorf("from row %d: %d rows, want %d, or other values", mid, tailRows, rows-mid)
				}
			}
		})
		if lim := npyAllocBound(len(data)); alloc > lim {
			t.Errorf("reading a %d-byte file allocated %d bytes, want at most %d", len(data), alloc, lim)
		}
		if sch == nil {
			return
		}

		off, ok := npyDataOffset(data)
		if !ok {
			t.Fatalf("Open accepted a file without a whole preamble and header")
		}
		if want := data[off:]; !bytes.Equal(bytes.Join(got, nil), want) {
			t.Errorf("read %d bytes of values, the file has %d after its header, or other bytes", len(bytes.Join(got, nil)), len(want))
		}
		if shape, ok := npyShape(data[:off]); ok && len(shape) > 0 {
			width := int64(1)
			for _, d := range shape[1:] {
				width *= d
			}
			gotWidth := int64(1)
			if l, ok := sch.Field(0).Type.(*arrow.FixedSizeListType); ok {
				gotWidth = int64(l.Len())
			}
			if rows != shape[0] || gotWidth != width {
				t.Errorf("read %d rows of %d values, header shape %v", rows, gotWidth, shape)
			}
		}
	})
}

// npyRead reads every batch of src from the first and returns the bytes of
// their values, batch by batch, and the row count.
func npyRead(t *testing.T, src *arrowio.Source) ([][]byte, int64, error) {
	rr, err := src.NewRecordReader(t.Context())
	if err != nil {
		return nil, 0, err
	}
	return npyDrain(t, rr)
}

// npyReadAt is npyRead from row on; the reader must start exactly there.
func npyReadAt(t *testing.T, src *arrowio.Source, row int64) ([][]byte, int64, error) {
	rr, first, err := src.NewRecordReaderAt(t.Context(), row)
	if err != nil {
		return nil, 0, err
	}
	if first != row {
		t.Errorf("NewRecordReaderAt(%d) starts at row %d", row, first)
	}
	return npyDrain(t, rr)
}

func npyDrain(t *testing.T, rr array.RecordReader) ([][]byte, int64, error) {
	defer rr.Release()
	var out [][]byte
	var rows int64
	for rr.Next() {
		rec := rr.RecordBatch()
		if rec.NumCols() != 1 {
			t.Fatalf("batch of %d columns", rec.NumCols())
		}
		col := rec.Column(0)
		lo, hi := col.Data().Offset(), col.Data().Offset()+col.Len()
		if l, ok := col.(*array.FixedSizeList); ok {
			w := int(l.DataType().(*arrow.FixedSizeListType).Len())
			lo, hi = lo*w, hi*w
			col = l.ListValues()
			lo, hi = lo+col.Data().Offset(), hi+col.Data().Offset()
		}
		item := col.DataType().(arrow.FixedWidthDataType).Bytes()
		if col.NullN() != 0 {
			t.Errorf("batch with %d nulls", col.NullN())
		}
		out = append(out, bytes.Clone(col.Data().Buffers()[1].Bytes()[lo*item:hi*item]))
		rows += rec.NumRows()
	}
	return out, rows, rr.Err()
}

// npyDataOffset returns where the values of the .npy file b start, from
// its preamble, and whether b is long enough to hold it.
func npyDataOffset(b []byte) (int, bool) {
	if len(b) < 10 {
		return 0, false
	}
	off := 10 + int(binary.LittleEndian.Uint16(b[8:]))
	if b[6] != 1 {
		if len(b) < 12 {
			return 0, false
		}
		off = 12 + int(binary.LittleEndian.Uint32(b[8:]))
	}
	return off, off <= len(b)
}

var npyShapeRe = regexp.MustCompile(`['"]shape['"]\s*:\s*\(([0-9,\s]*)\)`)

// npyShape returns the shape in the header h when it is written the plain
// way numpy writes it, and "shape" appears nowhere else.
func npyShape(h []byte) ([]int64, bool) {
	m := npyShapeRe.FindAllSubmatch(h, -1)
	if len(m) != 1 || bytes.Count(h, []byte("shape")) != 1 {
		return nil, false
	}
	var shape []int64
	for _, s := range strings.Split(string(m[0][1]), ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		d, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, false
		}
		shape = append(shape, d)
	}
	return shape, true
}

// heapAlloc returns the bytes allocated on the Go heap while f runs (by
// every goroutine: the fuzz targets run one input at a time).
func heapAlloc(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// npyAllocBound is the most reading a .npy file of size bytes may
// allocate: a fixed allowance for bookkeeping, and a small multiple of
// the file (its header, and the batches of an unaligned file, which are
// copied).
func npyAllocBound(size int) uint64 {
	return 1<<20 + 4*uint64(size)
}

// TestNpyAllocBounded opens .npy files whose preamble or header claims far
// more than the file holds: each is refused (or, for an empty array of
// rows of at most Options.MaxRowValues, read) without allocating more than
// a small fixed amount.
func TestNpyAllocBounded(t *testing.T) {
	v2 := func(hlen uint32, rest string) []byte {
		b := append([]byte("\x93NUMPY\x02\x00"), binary.LittleEndian.AppendUint32(nil, hlen)...)
		return append(b, rest...)
	}
	tests := []struct {
		name string
		data func(t *testing.T) []byte
		ok   bool // Open succeeds
	}{
		{"huge shape", func(t *testing.T) []byte { return npyBytes(t, 1, "<f8", false, []int{1 << 40, 1 << 22}, nil, 0) }, false},
		{"2^31 rows", func(t *testing.T) []byte { return npyBytes(t, 1, "<f8", false, []int{1<<31 - 1}, nil, 0) }, false},
		{"2^62 rows", func(t *testing.T) []byte { return npyBytes(t, 2, "|u1", false, []int{1 << 62, 1}, nil, 0) }, false},
		{"widest row", func(t *testing.T) []byte { return npyBytes(t, 1, "<f8", false, []int{1, 1<<31 - 1}, nil, 0) }, false},
		// Valid, but wider than Options.MaxRowValues.
		{"no rows of the widest row", func(t *testing.T) []byte { return npyBytes(t, 1, "<f8", false, []int{0, 1<<31 - 1}, nil, 0) }, false},
		{"no rows of a row of 2^24 values", func(t *testing.T) []byte { return npyBytes(t, 1, "<f8", false, []int{0, 1 << 24}, nil, 0) }, true},
		{"header of 4 GiB", func(t *testing.T) []byte { return v2(1<<32-1, "{}") }, false},
		{"header of 1 MiB in a small file", func(t *testing.T) []byte { return v2(1<<20-64, "{'descr': '<f8'}") }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			data := tt.data(t)
			path := filepath.Join(t.TempDir(), "big.npy")
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			var err error
			rows := int64(-1)
			alloc := heapAlloc(func() {
				var src *arrowio.Source
				if src, err = arrowio.Open(t.Context(), path, arrowio.Options{Alloc: mem}); err != nil {
					return
				}
				defer src.Close()
				_, rows, err = npyRead(t, src)
			})
			if (err == nil) != tt.ok {
				t.Errorf("reading it: error %v, want success %t", err, tt.ok)
			}
			if tt.ok && rows != 0 {
				t.Errorf("read %d rows, want 0", rows)
			}
			checkFuzzErr(t, err, path)
			if lim := uint64(64 << 10); alloc > lim {
				t.Errorf("a %d-byte file allocated %d bytes, want at most %d", len(data), alloc, lim)
			}
		})
	}
}
