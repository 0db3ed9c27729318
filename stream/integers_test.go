package stream_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/dcor-stream/dcor-stream/stream"
)

// writeIntNpy writes v, the bits of 64-bit integers, as a 1-D .npy file of
// dtype descr ('<i8' or '<u8').
func writeIntNpy(t *testing.T, path, descr string, v []uint64) {
	t.Helper()
	i := make([]int64, len(v))
	for k, x := range v {
		i[k] = int64(x)
	}
	writeInt64Npy(t, path, i)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), "'<i8'", "'"+descr+"'", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// ks are small offsets, in no order.
var ks = []uint64{517, 3, 998, 0, 41, 41, 700, 12, 999, 250, 1, 66}

// TestIntegersExact: 64-bit integers far beyond 2^53 (2^62 + k, 2^63 + k
// unsigned, 2^53 + k, -2^63 + k) are read minus their column's first
// value, exactly: k - k_0, where float64 would round 2^62 + k to a
// multiple of 1024; the same values in every pass, from any row, for
// .npy, CSV and Arrow columns, scalar or list.
func TestIntegersExact(t *testing.T) {
	dir := t.TempDir()
	want := make([]float64, len(ks))
	for i, k := range ks {
		want[i] = float64(int64(k) - int64(ks[0]))
	}
	for _, tt := range []struct {
		name  string
		descr string
		base  uint64
	}{
		{"int64 2^62", "<i8", 1 << 62},
		{"int64 near 2^63", "<i8", 1<<63 - 1000},
		{"int64 -2^63", "<i8", 1 << 63}, // the bits of math.MinInt64
		{"int64 2^53", "<i8", 1 << 53},
		{"uint64 2^63", "<u8", 1 << 63},
		{"uint64 near 2^64", "<u8", 1<<64 - 1000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			x := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".npy")
			v := make([]uint64, len(ks))
			for i, k := range ks {
				v[i] = tt.base + k
			}
			writeIntNpy(t, x, tt.descr, v)
			y := filepath.Join(dir, "y.npy")
			writeNpy(t, y, fmt.Sprintf("(%d,)", len(ks)), want)
			specs := []stream.Spec{{File: x, Columns: []string{"*"}}, {File: y, Columns: []string{"*"}}}
			tab, err := stream.Load(t.Context(), "", specs, stream.Options{Alloc: mem})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(tab.Spaces[0].Data, want) {
				t.Fatalf("Load: %v, want %v", tab.Spaces[0].Data, want)
			}
			// Passes of 5 rows from row 7, read by offset: the centre is
			// still row 0's.
			opts := stream.Options{Alloc: mem, BatchRows: 3}
			got, _ := readPasses(t, specs, opts, 7, 5, 2)
			if !slices.Equal(got, want[7:]) {
				t.Errorf("passes from row 7: %v, want %v", got, want[7:])
			}
		})
	}
	t.Run("csv", func(t *testing.T) {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		var b strings.Builder
		b.WriteString("x,y\n")
		for _, k := range ks {
			fmt.Fprintf(&b, "%d,%d\n", uint64(1)<<53+k, k)
		}
		p := filepath.Join(dir, "big.csv")
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		specs := []stream.Spec{{File: p, Columns: []string{"x"}}, {File: p, Columns: []string{"y"}}}
		got, gy := readPasses(t, specs, stream.Options{Alloc: mem, BatchRows: 4}, 5, 3, 2)
		if !slices.Equal(got, want[5:]) || !slices.Equal(gy, want[5:]) {
			t.Errorf("csv passes from row 5: x %v, y %v, want %v", got, gy, want[5:])
		}
	})
	t.Run("arrow list, null first", func(t *testing.T) {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		p := filepath.Join(dir, "list.arrow")
		sch := arrow.NewSchema([]arrow.Field{field("v", arrow.FixedSizeListOf(2, arrow.PrimitiveTypes.Int64)), field("y", arrow.PrimitiveTypes.Float64)}, nil)
		// Row 0's list is null (dropped): the centres are row 1's.
		writeIPC(t, mem, p, sch, `[{"v":null,"y":0},{"v":[4611686018427387909,-4611686018427387904],"y":1}]`,
			`[{"v":[4611686018427387911,-4611686018427387903],"y":2}]`)
		tab, err := stream.Load(t.Context(), "", []stream.Spec{{File: p, Columns: []string{"v"}}, {File: p, Columns: []string{"y"}}}, stream.Options{Alloc: mem, DropInvalid: true})
		if err != nil {
			t.Fatal(err)
		}
		if w := []float64{0, 0, 2, 1}; !slices.Equal(tab.Spaces[0].Data, w) {
			t.Errorf("list: %v, want %v", tab.Spaces[0].Data, w)
		}
	})
}

// TestIntegersInexact: a 64-bit column whose values lie more than 2^53
// from its first value (or, with RawIntegers, beyond 2^53 at all) cannot
// be converted exactly: an error wrapping ErrInexact naming the file, the
// column and the row, with or without DropInvalid; never a rounded value.
func TestIntegersInexact(t *testing.T) {
	dir := t.TempDir()
	y := filepath.Join(dir, "y.npy")
	writeNpy(t, y, "(3,)", []float64{1, 2, 3})
	for _, tt := range []struct {
		name  string
		descr string
		v     []uint64
		raw   bool
		row   string
	}{
		{"span 2^60", "<i8", []uint64{0, 5, 1<<60 + 1}, false, "row 2"},
		{"span of int64", "<i8", []uint64{1<<63 - 1, 1 << 63, 0}, false, "row 1"}, // MaxInt64, then MinInt64
		{"uint64 span", "<u8", []uint64{3, 1<<64 - 1, 4}, false, "row 1"},
		{"raw 2^62+1", "<i8", []uint64{1, 1<<62 + 1, 2}, true, "row 1"},
	} {
		for _, drop := range []bool{false, true} {
			t.Run(fmt.Sprint(tt.name, " drop=", drop), func(t *testing.T) {
				mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
				defer mem.AssertSize(t, 0)
				x := filepath.Join(dir, "x.npy")
				writeIntNpy(t, x, tt.descr, tt.v)
				_, err := stream.Load(t.Context(), "", []stream.Spec{{File: x, Columns: []string{"*"}}, {File: y, Columns: []string{"*"}}},
					stream.Options{Alloc: mem, RawIntegers: tt.raw, DropInvalid: drop})
				var se *stream.Error
				if !errors.Is(err, stream.ErrInexact) || !errors.As(err, &se) || se.File != x || se.Column != "data" ||
					!strings.Contains(err.Error(), tt.row+": integer ") {
					t.Errorf("err = %v, want ErrInexact naming %s, column data, %s", err, x, tt.row)
				}
			})
		}
	}
	// Exact as they are: 2^62 with RawIntegers.
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	x := filepath.Join(dir, "x.npy")
	writeIntNpy(t, x, "<i8", []uint64{1 << 62, 0, 1 << 61})
	tab, err := stream.Load(t.Context(), "", []stream.Spec{{File: x, Columns: []string{"*"}}, {File: y, Columns: []string{"*"}}}, stream.Options{Alloc: mem, RawIntegers: true})
	if err != nil {
		t.Fatal(err)
	}
	if w := []float64{1 << 62, 0, 1 << 61}; !slices.Equal(tab.Spaces[0].Data, w) {
		t.Errorf("raw: %v, want %v", tab.Spaces[0].Data, w)
	}
}
