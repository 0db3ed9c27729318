package arrowio_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/dcor-stream/dcor-stream/arrowio"
)

// openCSVText writes data to a .csv file and opens it.
func openCSVText(t *testing.T, mem memory.Allocator, data string, opts arrowio.Options) *arrowio.Source {
	t.Helper()
	path := filepath.Join(t.TempDir(), "x.csv")
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	opts.Alloc = mem
	src, err := arrowio.Open(t.Context(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// cells returns the cells of src's column col, as Arrow prints them.
func cells(t *testing.T, src *arrowio.Source, col int) []string {
	t.Helper()
	rr, err := src.NewRecordReader(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	var out []string
	for rr.Next() {
		c := rr.RecordBatch().Column(col)
		for i := range c.Len() {
			out = append(out, c.ValueStr(i))
		}
	}
	if err := rr.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCSVTypes: a column of decimal integers is int64 (uint64 past
// 2^63-1), exact past 2^53, where float64 rounds 2^53+1 to 2^53; other
// decimal numbers make it float64; Go's own syntax (digit separators,
// hexadecimal floats), which strconv.ParseFloat reads, is not a number in
// CSV: the column is utf8, and TextCell names the row of the first such
// cell; integers that fit neither int64 nor uint64 make the column utf8
// too, rather than rounded.
func TestCSVTypes(t *testing.T) {
	tests := []struct {
		name  string
		cells []string // of column x, below the header
		typ   arrow.DataType
		want  []string // the cells read; nil: not checked
		why   string   // TextCell
	}{
		{"int64", []string{"9007199254740993", "-9007199254740993", "+7", "-0", "NA", "9223372036854775807"}, arrow.PrimitiveTypes.Int64,
			[]string{"9007199254740993", "-9007199254740993", "7", "0", "(null)", "9223372036854775807"}, ""},
		{"uint64", []string{"1", "18446744073709551615", "9223372036854775809"}, arrow.PrimitiveTypes.Uint64,
			[]string{"1", "18446744073709551615", "9223372036854775809"}, ""},
		{"float", []string{"1", "2.5", "1e3", ".5", "5.", "-inf", "NaN", "1E+02"}, arrow.PrimitiveTypes.Float64,
			[]string{"1", "2.5", "1000", "0.5", "5", "-Inf", "NaN", "100"}, ""},
		{"underscore", []string{"2", "1_000"}, arrow.BinaryTypes.String, nil, `row 1: "1_000" is not a number`},
		{"underscore fraction", []string{"1_0.5"}, arrow.BinaryTypes.String, nil, `row 0: "1_0.5" is not a number`},
		{"hex float", []string{"3", "4", "0x1p-2"}, arrow.BinaryTypes.String, nil, `row 2: "0x1p-2" is not a number`},
		{"hex", []string{"0x10"}, arrow.BinaryTypes.String, nil, `row 0: "0x10" is not a number`},
		{"neither int64 nor uint64", []string{"-1", "9223372036854775808"}, arrow.BinaryTypes.String, nil,
			"row 1: 9223372036854775808: the column's integers do not fit 64 bits (float64 would round them)"},
		{"beyond uint64", []string{"18446744073709551616"}, arrow.BinaryTypes.String, nil,
			"row 0: 18446744073709551616: the column's integers do not fit 64 bits (float64 would round them)"},
		{"beyond uint64, with decimals", []string{"18446744073709551616", "0.5"}, arrow.PrimitiveTypes.Float64, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			src := openCSVText(t, mem, "x,y\n"+strings.Join(tt.cells, ",0\n")+",0\n", arrowio.Options{BatchRows: 2})
			defer src.Close()
			f := src.Schema().Field(0)
			if !arrow.TypeEqual(f.Type, tt.typ) {
				t.Fatalf("column x: type %s, want %s", f.Type, tt.typ)
			}
			if got := arrowio.TextCell(f); got != tt.why {
				t.Errorf("TextCell = %q, want %q", got, tt.why)
			}
			if got := cells(t, src, 0); tt.want != nil && strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("cells %v, want %v", got, tt.want)
			}
		})
	}
}

// TestCSVTextColumns: Options.TextColumns keeps a column's text, whatever
// its cells, with no TextCell note.
func TestCSVTextColumns(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	src := openCSVText(t, mem, "id,x\n 01 ,1\n1.0000000000000001,2\n", arrowio.Options{TextColumns: []string{"id"}})
	defer src.Close()
	if f := src.Schema().Field(0); f.Type.ID() != arrow.STRING || arrowio.TextCell(f) != "" {
		t.Fatalf("column id: %s, TextCell %q; want utf8 and no note", f.Type, arrowio.TextCell(f))
	}
	if f := src.Schema().Field(1); f.Type.ID() != arrow.INT64 {
		t.Errorf("column x: %s, want int64", f.Type)
	}
	if got := cells(t, src, 0); strings.Join(got, " ") != "01 1.0000000000000001" {
		t.Errorf("cells %q, want the text without padding", got)
	}
}
