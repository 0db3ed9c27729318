package arrowio_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/float16"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/dcor-stream/dcor-stream/arrowio"
)

// npyBytes returns a .npy file of format version major.0 holding vals (one
// value per element, converted to descr) with the given header fields.
// pad is added to the header length beyond numpy's 64-byte alignment, to
// make unaligned files.
func npyBytes(t *testing.T, major int, descr string, fortran bool, shape []int, vals []float64, pad int) []byte {
	t.Helper()
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = fmt.Sprint(d)
	}
	tuple := strings.Join(dims, ", ")
	if len(shape) == 1 {
		tuple += ","
	}
	order := "False"
	if fortran {
		order = "True"
	}
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }", descr, order, tuple)
	pre := 10
	if major > 1 {
		pre = 12
	}
	// numpy pads with spaces and ends with '\n' so that the data starts at
	// a multiple of 64.
	hlen := len(dict) + 1
	hlen += (64 - (pre+hlen)%64) % 64
	hlen += pad
	var b bytes.Buffer
	b.WriteString("\x93NUMPY")
	b.WriteByte(byte(major))
	b.WriteByte(0)
	if major == 1 {
		binary.Write(&b, binary.LittleEndian, uint16(hlen))
	} else {
		binary.Write(&b, binary.LittleEndian, uint32(hlen))
	}
	b.WriteString(dict)
	b.WriteString(strings.Repeat(" ", hlen-len(dict)-1))
	b.WriteByte('\n')
	for _, v := range vals {
		switch descr[1:] {
		case "f2":
			binary.Write(&b, binary.LittleEndian, float16.New(float32(v)).Uint16())
		case "f4":
			binary.Write(&b, binary.LittleEndian, float32(v))
		case "f8":
			binary.Write(&b, binary.LittleEndian, v)
		case "i4":
			binary.Write(&b, binary.LittleEndian, int32(v))
		case "i8":
			binary.Write(&b, binary.LittleEndian, int64(v))
		case "u1":
			b.WriteByte(byte(v))
		default:
			t.Fatalf("npyBytes: dtype %q", descr)
		}
	}
	return b.Bytes()
}

// npyValues returns n*d values that dtype descr holds exactly: small
// non-negative integers for integer dtypes, halves of either sign for
// floats.
func npyValues(descr string, n, d int) []float64 {
	v := make([]float64, n*d)
	for i := range v {
		v[i] = float64(i % 97)
		if descr[1] == 'f' {
			v[i] -= 40
			if i%3 == 0 {
				v[i] += 0.5
			}
		}
	}
	return v
}

// readFloats reads the only column of src, scalar or fixed-size list, as
// float64 values, and returns them with the number of batches.
func readFloats(t *testing.T, src *arrowio.Source) ([]float64, int) {
	t.Helper()
	rr, err := src.NewRecordReader(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	var out []float64
	batches := 0
	for rr.Next() {
		batches++
		col := rr.RecordBatch().Column(0)
		lo, hi := 0, col.Len()
		if l, ok := col.(*array.FixedSizeList); ok {
			w := l.DataType().(*arrow.FixedSizeListType).Len()
			lo, hi = l.Offset()*int(w), (l.Offset()+l.Len())*int(w)
			col = l.ListValues()
		}
		for i := lo; i < hi; i++ {
			switch c := col.(type) {
			case *array.Float16:
				out = append(out, float64(c.Value(i).Float32()))
			case *array.Float32:
				out = append(out, float64(c.Value(i)))
			case *array.Float64:
				out = append(out, c.Value(i))
			case *array.Int32:
				out = append(out, float64(c.Value(i)))
			case *array.Int64:
				out = append(out, float64(c.Value(i)))
			case *array.Uint8:
				out = append(out, float64(c.Value(i)))
			default:
				t.Fatalf("column of type %s", col.DataType())
			}
		}
	}
	if err := rr.Err(); err != nil {
		t.Fatal(err)
	}
	return out, batches
}

func TestNpy(t *testing.T) {
	tests := []struct {
		name  string
		major int
		descr string
		shape []int
		pad   int
		typ   string // want
	}{
		{"v1 f8 2-D", 1, "<f8", []int{10, 3}, 0, "fixed_size_list<item: float64>[3]"},
		{"v2 f4 2-D", 2, "<f4", []int{10, 3}, 0, "fixed_size_list<item: float32>[3]"},
		{"v3 f2 2-D", 3, "<f2", []int{10, 3}, 0, "fixed_size_list<item: float16>[3]"},
		{"v1 i4 2-D", 1, "<i4", []int{10, 2}, 0, "fixed_size_list<item: int32>[2]"},
		{"v1 i8 1-D", 1, "<i8", []int{10}, 0, "int64"},
		{"v1 f8 1-D", 1, "<f8", []int{7}, 0, "float64"},
		{"v1 u1 2-D", 1, "|u1", []int{10, 3}, 0, "fixed_size_list<item: uint8>[3]"},
		{"v1 f8 3-D flattened", 1, "<f8", []int{5, 2, 3}, 0, "fixed_size_list<item: float64>[6]"},
		{"v1 f8 one column", 1, "<f8", []int{10, 1}, 0, "fixed_size_list<item: float64>[1]"},
		{"v1 f8 unaligned", 1, "<f8", []int{10, 3}, 3, "fixed_size_list<item: float64>[3]"},
		{"v2 f4 unaligned", 2, "<f4", []int{10, 3}, 1, "fixed_size_list<item: float32>[3]"},
		{"v1 f8 empty", 1, "<f8", []int{0, 3}, 0, "fixed_size_list<item: float64>[3]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			n, d := tt.shape[0], 1
			for _, x := range tt.shape[1:] {
				d *= x
			}
			want := npyValues(tt.descr, n, d)
			path := filepath.Join(t.TempDir(), "acts.npy")
			if err := os.WriteFile(path, npyBytes(t, tt.major, tt.descr, false, tt.shape, want, tt.pad), 0o644); err != nil {
				t.Fatal(err)
			}
			src, err := arrowio.Open(t.Context(), path, arrowio.Options{Alloc: mem, BatchRows: 4})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			if src.Format() != arrowio.FormatNpy {
				t.Errorf("Format = %v, want npy", src.Format())
			}
			sch := src.Schema()
			if sch.NumFields() != 1 || sch.Field(0).Name != arrowio.NpyColumn || sch.Field(0).Type.String() != tt.typ {
				t.Fatalf("Schema = %v, want one column %q of type %s", sch, arrowio.NpyColumn, tt.typ)
			}
			for pass := range 2 {
				got, batches := readFloats(t, src)
				if len(got) != len(want) {
					t.Fatalf("pass %d: read %d values, want %d", pass, len(got), len(want))
				}
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("pass %d: value %d = %v, want %v", pass, i, got[i], want[i])
					}
				}
				if wantB := (n + 3) / 4; batches != wantB {
					t.Errorf("pass %d: %d batches of at most 4 rows, want %d", pass, batches, wantB)
				}
			}
		})
	}
}

func TestNpyErrors(t *testing.T) {
	good := func(t *testing.T) []byte { return npyBytes(t, 1, "<f8", false, []int{6, 2}, npyValues("<f8", 6, 2), 0) }
	tests := []struct {
		name string
		data func(t *testing.T) []byte
		want error
		msg  string
	}{
		{"fortran order", func(t *testing.T) []byte { return npyBytes(t, 1, "<f8", true, []int{6, 2}, npyValues("<f8", 6, 2), 0) },
			arrowio.ErrUnsupported, "Fortran"},
		{"big endian", func(t *testing.T) []byte {
			b := good(t)
			i := bytes.Index(b, []byte("<f8"))
			b[i] = '>'
			return b
		}, arrowio.ErrUnsupported, `dtype ">f8"`},
		{"object dtype", func(t *testing.T) []byte {
			b := good(t)
			i := bytes.Index(b, []byte("<f8"))
			copy(b[i:], "|O8")
			return b
		}, arrowio.ErrUnsupported, `dtype "|O8"`},
		{"truncated data", func(t *testing.T) []byte { b := good(t); return b[:len(b)-5] }, arrowio.ErrCorrupt, "truncated"},
		{"trailing bytes", func(t *testing.T) []byte { return append(good(t), 0) }, arrowio.ErrCorrupt, "trailing"},
		{"truncated header", func(t *testing.T) []byte { return good(t)[:40] }, arrowio.ErrCorrupt, "header"},
		{"preamble only", func(t *testing.T) []byte { return good(t)[:8] }, arrowio.ErrCorrupt, "preamble"},
		{"version 4", func(t *testing.T) []byte { b := good(t); b[6] = 4; return b }, arrowio.ErrUnsupported, "version 4.0"},
		{"bad header", func(t *testing.T) []byte {
			b := good(t)
			i := bytes.Index(b, []byte("'shape'"))
			copy(b[i:], "'shapf'")
			return b
		}, arrowio.ErrCorrupt, "'shape' is missing"},
		{"0-d", func(t *testing.T) []byte { return npyBytes(t, 1, "<f8", false, nil, []float64{1}, 0) }, arrowio.ErrUnsupported, "shape ()"},
		{"no values per row", func(t *testing.T) []byte { return npyBytes(t, 1, "<f8", false, []int{3, 0}, nil, 0) }, arrowio.ErrUnsupported, "no values"},
		{"wide shape", func(t *testing.T) []byte {
			return npyBytes(t, 1, "<f8", false, []int{2, 1 << 40}, nil, 0)
		}, arrowio.ErrUnsupported, "too many values"},
		{"huge shape", func(t *testing.T) []byte {
			return npyBytes(t, 1, "<f8", false, []int{1 << 40, 1 << 30}, nil, 0)
		}, arrowio.ErrCorrupt, "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			path := filepath.Join(t.TempDir(), "bad.npy")
			if err := os.WriteFile(path, tt.data(t), 0o644); err != nil {
				t.Fatal(err)
			}
			src, err := arrowio.Open(t.Context(), path, arrowio.Options{Alloc: mem})
			if err == nil {
				src.Close()
			}
			if !errors.Is(err, tt.want) || !strings.HasPrefix(err.Error(), path+": ") || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Open = %v, want an error naming %s, wrapping %v, saying %q", err, path, tt.want, tt.msg)
			}
		})
	}
}

// TestNpyStdin refuses a .npy file from a pipe, which must be read by
// offset.
func TestNpyStdin(t *testing.T) {
	b := npyBytes(t, 1, "<f8", false, []int{2}, []float64{1, math.Pi}, 0)
	_, err := arrowio.Open(t.Context(), "-", arrowio.Options{Stdin: bytes.NewReader(b)})
	if !errors.Is(err, arrowio.ErrUnsupported) || !strings.HasPrefix(err.Error(), "stdin: ") {
		t.Errorf("Open(stdin .npy) = %v, want ErrUnsupported naming stdin", err)
	}
}
