package stream_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/dcor-stream/dcor-stream/arrowio"
	"github.com/dcor-stream/dcor-stream/stream"
)

// writeIPC writes batches of schema, each a JSON array of row objects, to
// path: an IPC stream if path ends in ".arrows", an IPC file otherwise.
func writeIPC(t *testing.T, mem memory.Allocator, path string, schema *arrow.Schema, batches ...string) {
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
	if strings.HasSuffix(path, ".arrows") {
		w = ipc.NewWriter(f, ipc.WithSchema(schema), ipc.WithAllocator(mem))
	} else {
		fw, err := ipc.NewFileWriter(f, ipc.WithSchema(schema), ipc.WithAllocator(mem))
		if err != nil {
			t.Fatal(err)
		}
		w = fw
	}
	for _, js := range batches {
		rec, _, err := array.RecordFromJSON(mem, schema, strings.NewReader(js))
		if err != nil {
			t.Fatalf("batch %s: %v", js, err)
		}
		err = w.Write(rec)
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// rowsJSON returns the JSON array of rows lo..hi-1, each made by row.
func rowsJSON(lo, hi int, row func(i int) string) string {
	var parts []string
	for i := lo; i < hi; i++ {
		parts = append(parts, row(i))
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func field(name string, dt arrow.DataType) arrow.Field {
	return arrow.Field{Name: name, Type: dt, Nullable: true}
}

var typesSchema = arrow.NewSchema([]arrow.Field{
	field("fsl32", arrow.FixedSizeListOf(3, arrow.PrimitiveTypes.Float32)),
	field("fsl64", arrow.FixedSizeListOf(2, arrow.PrimitiveTypes.Float64)),
	field("fsl16", arrow.FixedSizeListOf(2, arrow.FixedWidthTypes.Float16)),
	field("fsli32", arrow.FixedSizeListOf(2, arrow.PrimitiveTypes.Int32)),
	field("list64", arrow.ListOf(arrow.PrimitiveTypes.Float64)),
	field("llist8", arrow.LargeListOf(arrow.PrimitiveTypes.Int8)),
	field("u", arrow.PrimitiveTypes.Uint64),
	field("s", arrow.PrimitiveTypes.Int16),
	field("x_1", arrow.PrimitiveTypes.Float32),
	field("x_2", arrow.PrimitiveTypes.Float32),
	field("x_3", arrow.PrimitiveTypes.Float32),
	field("label", arrow.BinaryTypes.String),
}, nil)

// typesRow is row i of the types fixture; want gives the expected values.
func typesRow(i int) string {
	return fmt.Sprintf(`{"fsl32":[%d,%d.5,%d],"fsl64":[%d0000000000.25,%d],"fsl16":[%d.5,%d],"fsli32":[%d00000,%d],`+
		`"list64":[%d,%d],"llist8":[%d,%d,1],"u":%d,"s":%d,"x_1":%d,"x_2":%d,"x_3":%d,"label":"r%d"}`,
		i, i, -i, i, -i, i, -2*i, i, -i, i, 2*i, i, -i, uint64(1)<<52+uint64(i), -7*i, i+1, i+2, i+3, i)
}

func typesWant(name string, i int) []float64 {
	f := float64(i)
	switch name {
	case "fsl32":
		return []float64{f, f + 0.5, -f}
	case "fsl64":
		return []float64{f*1e10 + 0.25, -f}
	case "fsl16":
		return []float64{f + 0.5, -2 * f}
	case "fsli32":
		return []float64{f * 1e5, -f}
	case "list64":
		return []float64{f, 2 * f}
	case "llist8":
		return []float64{f, -f, 1}
	case "u,s":
		return []float64{f, -7 * f} // u is 2^52 + i, of 64 bits: minus its first value

	case "x_*", "x_?", "x_[1-3]":
		return []float64{f + 1, f + 2, f + 3}
	case "x_3,x_1":
		return []float64{f + 3, f + 1}
	}
	panic("no want for " + name)
}

// TestLoadTypes reads every supported column type from a file of three
// batches (one empty): values must be exact and contiguous across batches
// (64-bit integers minus their column's first value).
func TestLoadTypes(t *testing.T) {
	const n = 5
	for _, ext := range []string{".arrow", ".arrows"} {
		t.Run(ext, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			path := filepath.Join(t.TempDir(), "types"+ext)
			writeIPC(t, mem, path, typesSchema, rowsJSON(0, 2, typesRow), "[]", rowsJSON(2, n, typesRow))

			names := []string{"fsl32", "fsl64", "fsl16", "fsli32", "list64", "llist8", "u,s", "x_*", "x_?", "x_[1-3]", "x_3,x_1"}
			var specs []stream.Spec
			for _, name := range names {
				sp, err := stream.ParseSpec(name)
				if err != nil {
					t.Fatal(err)
				}
				specs = append(specs, sp)
			}
			tab, err := stream.Load(t.Context(), path, specs, stream.Options{Alloc: mem})
			if err != nil {
				t.Fatal(err)
			}
			if tab.N != n || tab.Dropped != 0 || !slices.Equal(tab.Files, []string{path}) {
				t.Errorf("N, Dropped, Files = %d, %d, %q, want %d, 0, [%q]", tab.N, tab.Dropped, tab.Files, n, path)
			}
			for k, name := range names {
				sp := tab.Spaces[k]
				var want []float64
				for i := range n {
					want = append(want, typesWant(name, i)...)
				}
				if sp.Dim != len(want)/n || !slices.Equal(sp.Data, want) {
					t.Errorf("space %q: Dim %d, Data %v, want %d, %v", name, sp.Dim, sp.Data, len(want)/n, want)
				}
				if sp.Name != name {
					t.Errorf("space %q: Name = %q", name, sp.Name)
				}
			}
			if got := tab.Spaces[7].Columns; !slices.Equal(got, []string{"x_1", "x_2", "x_3"}) {
				t.Errorf("x_* columns = %q", got)
			}
			if got := tab.Spaces[0].Columns; !slices.Equal(got, []string{"fsl32"}) {
				t.Errorf("fsl32 columns = %q", got)
			}
		})
	}
}

func TestLoadStar(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	num := filepath.Join(dir, "num.arrow")
	schema := arrow.NewSchema([]arrow.Field{field("b", arrow.PrimitiveTypes.Int64), field("a", arrow.PrimitiveTypes.Float64)}, nil)
	writeIPC(t, mem, num, schema, `[{"b":1,"a":2},{"b":3,"a":4}]`)
	vec := filepath.Join(dir, "vec.arrow")
	vschema := arrow.NewSchema([]arrow.Field{field("v", arrow.FixedSizeListOf(2, arrow.PrimitiveTypes.Float32))}, nil)
	writeIPC(t, mem, vec, vschema, `[{"v":[5,6]},{"v":[7,8]}]`)

	// A whole spec naming a file means all its columns; "*" likewise;
	// a file of one list column is that list.
	x, err := stream.ParseSpec(num)
	if err != nil {
		t.Fatal(err)
	}
	if want := (stream.Spec{File: num, Columns: []string{"*"}}); x.File != want.File || !slices.Equal(x.Columns, want.Columns) {
		t.Fatalf("ParseSpec(%q) = %+v, want %+v", num, x, want)
	}
	y, err := stream.ParseSpec(vec)
	if err != nil {
		t.Fatal(err)
	}
	tab, err := stream.Load(t.Context(), "", []stream.Spec{x, y, {Columns: []string{"*"}}}, stream.Options{Alloc: mem})
	if err == nil {
		t.Fatal("spec without file and no default file: no error")
	} else if !errors.Is(err, stream.ErrSpec) {
		t.Errorf("spec without file: err = %v, want ErrSpec", err)
	}
	tab, err = stream.Load(t.Context(), num, []stream.Spec{x, y, {Columns: []string{"*"}}}, stream.Options{Alloc: mem})
	if err != nil {
		t.Fatal(err)
	}
	check := func(k int, cols []string, dim int, data []float64) {
		t.Helper()
		sp := tab.Spaces[k]
		if !slices.Equal(sp.Columns, cols) || sp.Dim != dim || !slices.Equal(sp.Data, data) {
			t.Errorf("space %d = %q, %d, %v, want %q, %d, %v", k, sp.Columns, sp.Dim, sp.Data, cols, dim, data)
		}
	}
	// b is int64: minus its first value.
	check(0, []string{"b", "a"}, 2, []float64{0, 2, 2, 4})
	check(1, []string{"v"}, 2, []float64{5, 6, 7, 8})
	check(2, []string{"b", "a"}, 2, []float64{0, 2, 2, 4})
	if !slices.Equal(tab.Files, []string{num, vec}) {
		t.Errorf("Files = %q, want each file once: %q", tab.Files, []string{num, vec})
	}
}

func TestParseSpec(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a_x.csv")
	if err := os.WriteFile(file, []byte("a\n1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in   string
		want stream.Spec
	}{
		{"feat", stream.Spec{Columns: []string{"feat"}}},
		{"a,b,c", stream.Spec{Columns: []string{"a", "b", "c"}}},
		{"x_*", stream.Spec{Columns: []string{"x_*"}}},
		{"acts.arrow:feat", stream.Spec{File: "acts.arrow", Columns: []string{"feat"}}},
		{"C:/data/acts.arrow:x_*,y", stream.Spec{File: "C:/data/acts.arrow", Columns: []string{"x_*", "y"}}},
		{"-:feat", stream.Spec{File: "-", Columns: []string{"feat"}}},
		{"-", stream.Spec{File: "-", Columns: []string{"*"}}},
		{file, stream.Spec{File: file, Columns: []string{"*"}}},
		{file + ":a", stream.Spec{File: file, Columns: []string{"a"}}},
		{"s3://acts/x.npy", stream.Spec{File: "s3://acts/x.npy", Columns: []string{"*"}}},
		{"s3://acts/xy.arrow:x", stream.Spec{File: "s3://acts/xy.arrow", Columns: []string{"x"}}},
		{"gs://b/d/xy.parquet:a,b_*", stream.Spec{File: "gs://b/d/xy.parquet", Columns: []string{"a", "b_*"}}},
		{"azblob://c/xy.arrow?endpoint=http%3A//h%3A1:y", stream.Spec{File: "azblob://c/xy.arrow?endpoint=http%3A//h%3A1", Columns: []string{"y"}}},
	}
	for _, tt := range tests {
		got, err := stream.ParseSpec(tt.in)
		if err != nil || got.File != tt.want.File || !slices.Equal(got.Columns, tt.want.Columns) {
			t.Errorf("ParseSpec(%q) = %+v, %v, want %+v", tt.in, got, err, tt.want)
			continue
		}
		if again, err := stream.ParseSpec(got.String()); err != nil || again.File != got.File || !slices.Equal(again.Columns, got.Columns) {
			t.Errorf("ParseSpec(%q.String() = %q) = %+v, %v", tt.in, got.String(), again, err)
		}
	}
	for _, in := range []string{"", ":feat", "acts.arrow:", "a,,b", "a,", ",a", "x_[", "f:a,[b"} {
		if got, err := stream.ParseSpec(in); !errors.Is(err, stream.ErrSpec) {
			t.Errorf("ParseSpec(%q) = %+v, %v, want ErrSpec", in, got, err)
		}
	}
}

func TestLoadTwoFiles(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	a := filepath.Join(dir, "a.arrow")
	b := filepath.Join(dir, "b.arrows")
	writeIPC(t, mem, a, arrow.NewSchema([]arrow.Field{field("x", arrow.FixedSizeListOf(2, arrow.PrimitiveTypes.Float64))}, nil),
		rowsJSON(0, 3, func(i int) string { return fmt.Sprintf(`{"x":[%d,%d]}`, i, 10*i) }),
		rowsJSON(3, 4, func(i int) string { return fmt.Sprintf(`{"x":[%d,%d]}`, i, 10*i) }))
	// b has other batch boundaries.
	writeIPC(t, mem, b, arrow.NewSchema([]arrow.Field{field("y", arrow.PrimitiveTypes.Int32)}, nil),
		rowsJSON(0, 1, func(i int) string { return fmt.Sprintf(`{"y":%d}`, -i) }),
		rowsJSON(1, 4, func(i int) string { return fmt.Sprintf(`{"y":%d}`, -i) }))
	tab, err := stream.Load(t.Context(), a, []stream.Spec{{Columns: []string{"x"}}, {File: b, Columns: []string{"y"}}}, stream.Options{Alloc: mem})
	if err != nil {
		t.Fatal(err)
	}
	if tab.N != 4 || !slices.Equal(tab.Spaces[0].Data, []float64{0, 0, 1, 10, 2, 20, 3, 30}) || !slices.Equal(tab.Spaces[1].Data, []float64{0, -1, -2, -3}) {
		t.Errorf("Load = N %d, x %v, y %v", tab.N, tab.Spaces[0].Data, tab.Spaces[1].Data)
	}

	// Mismatched row counts.
	c := filepath.Join(dir, "c.arrow")
	writeIPC(t, mem, c, arrow.NewSchema([]arrow.Field{field("y", arrow.PrimitiveTypes.Int32)}, nil), `[{"y":1},{"y":2},{"y":3}]`)
	_, err = stream.Load(t.Context(), a, []stream.Spec{{Columns: []string{"x"}}, {File: c, Columns: []string{"y"}}}, stream.Options{Alloc: mem})
	if !errors.Is(err, stream.ErrRowMismatch) {
		t.Fatalf("mismatched rows: err = %v, want ErrRowMismatch", err)
	}
	for _, s := range []string{a, c, "4 rows", "3 rows"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}

func TestLoadColumnErrors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	path := filepath.Join(t.TempDir(), "types.arrow")
	writeIPC(t, mem, path, typesSchema, rowsJSON(0, 2, typesRow))
	strList := filepath.Join(t.TempDir(), "strlist.arrow")
	writeIPC(t, mem, strList, arrow.NewSchema([]arrow.Field{field("words", arrow.ListOf(arrow.BinaryTypes.String))}, nil), `[{"words":["a"]}]`)
	tests := []struct {
		spec    string
		want    error
		column  string
		message []string
	}{
		{"feet", stream.ErrColumn, "feet", []string{path, `column "feet": not found`, `"fsl32"`, `"label"`}},
		{"label", stream.ErrType, "label", []string{path, `column "label": has type utf8`}},
		{"x_1,label", stream.ErrType, "label", []string{`column "label"`}},
		{"*", stream.ErrColumn, "fsl32", []string{"list column"}},
		{"[lsux]*", stream.ErrColumn, "list64", []string{"list column"}},
		{"[qz]*", stream.ErrColumn, "", []string{`no column matches "[qz]*"`}},
		{"y_*", stream.ErrColumn, "", []string{`no column matches "y_*"`, `"x_1"`}},
		{"fsl32,x_1", stream.ErrColumn, "fsl32", []string{"list column"}},
		{"x_1,x_*", stream.ErrColumn, "x_1", []string{"selected twice"}},
		{strList + ":words", stream.ErrType, "words", []string{strList, "list<item: utf8"}},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			sp, err := stream.ParseSpec(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			_, err = stream.Load(t.Context(), path, []stream.Spec{sp}, stream.Options{Alloc: mem})
			if !errors.Is(err, tt.want) {
				t.Fatalf("Load(%q) error = %v, want %v", tt.spec, err, tt.want)
			}
			var se *stream.Error
			if !errors.As(err, &se) || se.Column != tt.column || se.Row != -1 {
				t.Errorf("Load(%q) error = %#v, want column %q and no row", tt.spec, err, tt.column)
			}
			for _, s := range tt.message {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Load(%q) error %q does not contain %q", tt.spec, err, s)
				}
			}
		})
	}
}

var invalidSchema = arrow.NewSchema([]arrow.Field{
	field("s", arrow.PrimitiveTypes.Float32),
	field("t", arrow.PrimitiveTypes.Int64),
	field("v", arrow.FixedSizeListOf(2, arrow.PrimitiveTypes.Float64)),
	field("h", arrow.FixedSizeListOf(2, arrow.FixedWidthTypes.Float16)),
	field("l", arrow.ListOf(arrow.PrimitiveTypes.Float32)),
}, nil)

// invalidFile writes 6 rows in batches of 3 and 3, with the value of one
// column of row 4 replaced: bad is `"column":value`.
func invalidFile(t *testing.T, mem memory.Allocator, path, bad string) {
	key, _, _ := strings.Cut(bad, ":")
	row := func(i int) string {
		fields := []string{
			fmt.Sprintf(`"s":%d`, i), fmt.Sprintf(`"t":%d`, i), fmt.Sprintf(`"v":[%d,1]`, i),
			fmt.Sprintf(`"h":[%d,2]`, i), fmt.Sprintf(`"l":[%d,3]`, i),
		}
		for k, f := range fields {
			if i == 4 && strings.HasPrefix(f, key+":") {
				fields[k] = bad
			}
		}
		return "{" + strings.Join(fields, ",") + "}"
	}
	writeIPC(t, mem, path, invalidSchema, rowsJSON(0, 3, row), rowsJSON(3, 6, row))
}

func TestLoadInvalid(t *testing.T) {
	tests := []struct {
		name, bad, spec, msg string
	}{
		{"null scalar", `"s":null`, "s,t", "null value"},
		{"null int", `"t":null`, "t", "null value"},
		{"NaN scalar", `"s":"NaN"`, "t,s", "NaN"},
		{"+Inf scalar", `"s":"+Inf"`, "s", "+Inf"},
		{"null fixed list", `"v":null`, "v", "null list"},
		{"null element", `"v":[1,null]`, "v", "null at element 1"},
		{"-Inf element", `"v":["-Inf",1]`, "v", "-Inf at element 0"},
		{"float16 NaN", `"h":[1,"NaN"]`, "h", "NaN at element 1"},
		{"null list", `"l":null`, "l", "null list"},
		{"NaN in list", `"l":[1,"NaN"]`, "l", "NaN at element 1"},
		{"null in list", `"l":[null,1]`, "l", "null at element 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			path := filepath.Join(t.TempDir(), "bad.arrow")
			invalidFile(t, mem, path, tt.bad)
			sp, err := stream.ParseSpec(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			column := strings.TrimPrefix(tt.bad[:strings.Index(tt.bad, ":")], `"`)
			column = strings.TrimSuffix(column, `"`)

			_, err = stream.Load(t.Context(), path, []stream.Spec{sp}, stream.Options{Alloc: mem})
			want := fmt.Sprintf("%s: column %q: row 4: %s (use -drop-invalid to drop such rows)", path, column, tt.msg)
			if !errors.Is(err, stream.ErrInvalidValue) || err.Error() != want {
				t.Fatalf("Load error = %v, want %q wrapping ErrInvalidValue", err, want)
			}
			var se *stream.Error
			if !errors.As(err, &se) || se.Row != 4 || se.Column != column || se.File != path {
				t.Errorf("Load error = %#v, want row 4 of column %q", err, column)
			}

			// The same spec alongside a clean space: row 4 goes from both.
			tab, err := stream.Load(t.Context(), path, []stream.Spec{sp, {Columns: []string{"t"}}}, stream.Options{Alloc: mem, DropInvalid: true})
			if err != nil {
				t.Fatal(err)
			}
			if tab.N != 5 || tab.Dropped != 1 {
				t.Fatalf("DropInvalid: N, Dropped = %d, %d, want 5, 1", tab.N, tab.Dropped)
			}
			if got, want := tab.Spaces[1].Data, []float64{0, 1, 2, 3, 5}; !slices.Equal(got, want) {
				t.Errorf("DropInvalid: t = %v, want %v", got, want)
			}
			sp0 := tab.Spaces[0]
			if len(sp0.Data) != 5*sp0.Dim {
				t.Errorf("DropInvalid: %d values of dim %d", len(sp0.Data), sp0.Dim)
			}
			for _, v := range sp0.Data {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Errorf("DropInvalid: data %v still has %v", sp0.Data, v)
					break
				}
			}
		})
	}
}

// TestDropJoint drops invalid rows of two files from every space.
func TestDropJoint(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	a := filepath.Join(dir, "a.arrow")
	b := filepath.Join(dir, "b.arrows")
	sch := arrow.NewSchema([]arrow.Field{field("x", arrow.PrimitiveTypes.Float64)}, nil)
	writeIPC(t, mem, a, sch, `[{"x":0},{"x":1},{"x":"NaN"}]`, `[{"x":3},{"x":4},{"x":5}]`)
	writeIPC(t, mem, b, sch, `[{"x":0},{"x":10},{"x":20},{"x":30},{"x":"-Inf"},{"x":50}]`)
	specs := []stream.Spec{{File: a, Columns: []string{"x"}}, {File: b, Columns: []string{"x"}}}
	tab, err := stream.Load(t.Context(), "", specs, stream.Options{Alloc: mem, DropInvalid: true})
	if err != nil {
		t.Fatal(err)
	}
	if tab.N != 4 || tab.Dropped != 2 ||
		!slices.Equal(tab.Spaces[0].Data, []float64{0, 1, 3, 5}) || !slices.Equal(tab.Spaces[1].Data, []float64{0, 10, 30, 50}) {
		t.Errorf("Load = N %d, Dropped %d, a %v, b %v; want 4, 2, [0 1 3 5], [0 10 30 50]",
			tab.N, tab.Dropped, tab.Spaces[0].Data, tab.Spaces[1].Data)
	}
	_, err = stream.Load(t.Context(), "", specs, stream.Options{Alloc: mem})
	var se *stream.Error
	if !errors.As(err, &se) || se.File != a || se.Row != 2 {
		t.Errorf("without DropInvalid: err = %v, want row 2 of %s", err, a)
	}
}

func TestListLength(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	path := filepath.Join(t.TempDir(), "ragged.arrow")
	sch := arrow.NewSchema([]arrow.Field{field("l", arrow.ListOf(arrow.PrimitiveTypes.Int32))}, nil)
	writeIPC(t, mem, path, sch, `[{"l":[1,2]},{"l":[3,4]}]`, `[{"l":[5,6]},{"l":[7]}]`)
	for _, drop := range []bool{false, true} {
		_, err := stream.Load(t.Context(), path, []stream.Spec{{Columns: []string{"l"}}}, stream.Options{Alloc: mem, DropInvalid: drop})
		want := fmt.Sprintf(`%s: column "l": row 3: list has 1 values, the rows before have 2`, path)
		if !errors.Is(err, stream.ErrListLength) || err.Error() != want {
			t.Errorf("DropInvalid=%v: err = %v, want %q", drop, err, want)
		}
	}

	// Leading null lists, dropped before the length is known.
	path = filepath.Join(t.TempDir(), "nulls.arrow")
	writeIPC(t, mem, path, sch, `[{"l":null},{"l":null}]`, `[{"l":[1,2,3]},{"l":null},{"l":[4,5,6]}]`)
	tab, err := stream.Load(t.Context(), path, []stream.Spec{{Columns: []string{"l"}}}, stream.Options{Alloc: mem, DropInvalid: true})
	if err != nil {
		t.Fatal(err)
	}
	if tab.N != 2 || tab.Dropped != 3 || tab.Spaces[0].Dim != 3 || !slices.Equal(tab.Spaces[0].Data, []float64{1, 2, 3, 4, 5, 6}) {
		t.Errorf("Load = N %d, Dropped %d, Dim %d, Data %v", tab.N, tab.Dropped, tab.Spaces[0].Dim, tab.Spaces[0].Data)
	}

	path = filepath.Join(t.TempDir(), "empty.arrow")
	writeIPC(t, mem, path, sch, `[{"l":[]}]`)
	if _, err := stream.Load(t.Context(), path, []stream.Spec{{Columns: []string{"l"}}}, stream.Options{Alloc: mem}); !errors.Is(err, stream.ErrListLength) {
		t.Errorf("empty list: err = %v, want ErrListLength", err)
	}
}

// TestDecoderSchemaMismatch feeds a Decoder a batch of another schema.
func TestDecoderSchemaMismatch(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	s1 := arrow.NewSchema([]arrow.Field{field("a", arrow.PrimitiveTypes.Float64)}, nil)
	s2 := arrow.NewSchema([]arrow.Field{field("a", arrow.PrimitiveTypes.Float32)}, nil)
	d, err := stream.NewDecoder("f.arrow", s1, []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	r1, _, err := array.RecordFromJSON(mem, s1, strings.NewReader(`[{"a":1},{"a":2}]`))
	if err != nil {
		t.Fatal(err)
	}
	defer r1.Release()
	r2, _, err := array.RecordFromJSON(mem, s2, strings.NewReader(`[{"a":3}]`))
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Release()
	data, err := d.Append(nil, r1, 0, nil)
	if err != nil || !slices.Equal(data, []float64{1, 2}) {
		t.Fatalf("Append = %v, %v", data, err)
	}
	_, err = d.Append(data, r2, 2, nil)
	var se *stream.Error
	if !errors.Is(err, stream.ErrSchemaMismatch) || !errors.As(err, &se) || se.Row != 2 || se.Column != "a" {
		t.Errorf("Append(other schema) error = %v, want ErrSchemaMismatch at row 2", err)
	}
}

// TestLoadCorrupt loads truncated and garbage files: an error naming the
// file, wrapping arrowio's sentinels, never a panic.
func TestLoadCorrupt(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	for _, ext := range []string{".arrow", ".arrows"} {
		good := filepath.Join(dir, "good"+ext)
		writeIPC(t, mem, good, typesSchema, rowsJSON(0, 3, typesRow), rowsJSON(3, 5, typesRow))
		data, err := os.ReadFile(good)
		if err != nil {
			t.Fatal(err)
		}
		for _, cut := range []int{3, 8, 100, len(data) / 3, len(data) / 2, len(data) - 8, len(data) - 1} {
			path := filepath.Join(dir, fmt.Sprintf("cut%d%s", cut, ext))
			if err := os.WriteFile(path, data[:cut], 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := stream.Load(t.Context(), path, []stream.Spec{{Columns: []string{"fsl32"}}}, stream.Options{Alloc: mem})
			if err == nil || !strings.HasPrefix(err.Error(), path+": ") ||
				!(errors.Is(err, arrowio.ErrCorrupt) || errors.Is(err, arrowio.ErrFormat)) {
				t.Errorf("%s cut at %d of %d bytes: err = %v, want a corrupt-file error naming it", ext, cut, len(data), err)
			}
		}
	}
	garbage := filepath.Join(dir, "garbage.arrow")
	if err := os.WriteFile(garbage, bytes.Repeat([]byte("garbage!"), 20), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Load(t.Context(), garbage, []stream.Spec{{Columns: []string{"x"}}}, stream.Options{Alloc: mem}); !errors.Is(err, arrowio.ErrFormat) {
		t.Errorf("garbage: err = %v, want ErrFormat", err)
	}
}

// TestLoadStdin reads two spaces from standard input, which can be read
// only once: Load must read it once for both.
func TestLoadStdin(t *testing.T) {
	for _, ext := range []string{".arrows", ".arrow"} {
		t.Run(ext, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			path := filepath.Join(t.TempDir(), "in"+ext)
			writeIPC(t, mem, path, typesSchema, rowsJSON(0, 2, typesRow), rowsJSON(2, 4, typesRow))
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			x, _ := stream.ParseSpec("-:fsl64")
			y, _ := stream.ParseSpec("x_3,x_1")
			tab, err := stream.Load(t.Context(), "-", []stream.Spec{x, y}, stream.Options{Alloc: mem, Stdin: bytes.NewReader(data)})
			if err != nil {
				t.Fatal(err)
			}
			var wantX, wantY []float64
			for i := range 4 {
				wantX = append(wantX, typesWant("fsl64", i)...)
				wantY = append(wantY, typesWant("x_3,x_1", i)...)
			}
			if tab.N != 4 || !slices.Equal(tab.Spaces[0].Data, wantX) || !slices.Equal(tab.Spaces[1].Data, wantY) || !slices.Equal(tab.Files, []string{"-"}) {
				t.Errorf("Load(stdin) = N %d, x %v, y %v, files %q", tab.N, tab.Spaces[0].Data, tab.Spaces[1].Data, tab.Files)
			}
			// Errors call it stdin.
			z, _ := stream.ParseSpec("-:nope")
			_, err = stream.Load(t.Context(), "", []stream.Spec{z}, stream.Options{Alloc: mem, Stdin: bytes.NewReader(data)})
			if err == nil || !strings.HasPrefix(err.Error(), `stdin: column "nope": not found`) {
				t.Errorf("Load(stdin, missing column) error = %v", err)
			}
		})
	}
}

func TestLoadCSV(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	ax := filepath.Join(dir, "a_x.csv")
	if err := os.WriteFile(ax, []byte("x1,x2\n1,2\n3,4.5\n5,NA\n7,8\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ay := filepath.Join(dir, "a_y.csv")
	if err := os.WriteFile(ay, []byte("id,y\nr0,10\nr1,11\nr2,12\nr3,13\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	x, err := stream.ParseSpec(ax) // the whole file
	if err != nil {
		t.Fatal(err)
	}
	y, err := stream.ParseSpec(ay + ":y")
	if err != nil {
		t.Fatal(err)
	}
	_, err = stream.Load(t.Context(), "", []stream.Spec{x, y}, stream.Options{Alloc: mem})
	want := ax + `: column "x2": row 2: null value (use -drop-invalid to drop such rows)`
	if !errors.Is(err, stream.ErrInvalidValue) || err.Error() != want {
		t.Errorf("CSV with NA: err = %v, want %q", err, want)
	}
	tab, err := stream.Load(t.Context(), "", []stream.Spec{x, y}, stream.Options{Alloc: mem, DropInvalid: true})
	if err != nil {
		t.Fatal(err)
	}
	// x1 and y are integers (int64): minus their first value.
	if tab.N != 3 || !slices.Equal(tab.Spaces[0].Data, []float64{0, 2, 2, 4.5, 6, 8}) || !slices.Equal(tab.Spaces[1].Data, []float64{0, 1, 3}) {
		t.Errorf("Load(csv) = N %d, x %v, y %v", tab.N, tab.Spaces[0].Data, tab.Spaces[1].Data)
	}
	all, _ := stream.ParseSpec(ay)
	if _, err := stream.Load(t.Context(), "", []stream.Spec{all}, stream.Options{Alloc: mem}); !errors.Is(err, stream.ErrType) ||
		!strings.Contains(err.Error(), `column "id"`) {
		t.Errorf("CSV with a string column as a whole: err = %v, want ErrType naming id", err)
	}
}

func TestLoadCancel(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	path := filepath.Join(t.TempDir(), "types.arrow")
	writeIPC(t, mem, path, typesSchema, rowsJSON(0, 2, typesRow))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := stream.Load(ctx, path, []stream.Spec{{Columns: []string{"u"}}}, stream.Options{Alloc: mem}); !errors.Is(err, context.Canceled) {
		t.Errorf("Load(cancelled) error = %v, want context.Canceled", err)
	}
}
