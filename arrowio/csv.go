package arrowio

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// csvNulls are the cell values read as null in a CSV file. "NaN", "Inf" and
// "-Inf" are numbers (see numberSyntax).
var csvNulls = []string{"", "NA", "NULL", "null"}

var utf8BOM = []byte{0xef, 0xbb, 0xbf}

func isCSVNull(s string) bool {
	for _, n := range csvNulls {
		if s == n {
			return true
		}
	}
	return false
}

// csvFile is a CSV file with a header row. Open scans it once to type its
// columns: a column is int64 when every non-null cell is a decimal integer
// ([+-]digits) within int64, uint64 when they are within uint64, float64
// when every non-null cell is a decimal number ([+-]digits[.digits][e[+-]digits],
// or inf, infinity, nan in any case), utf8 otherwise, and also when a
// column of integers holds one beyond 64 bits (float64 would round it).
// Integers are read as integers so that they stay exact past 2^53 (package
// stream converts them). Go's syntax is not CSV's: strconv.ParseFloat
// would read 1_000, 0x1p-2 and 1_0.5 as numbers; here they are text. A
// utf8 column records the first cell that made it one (TextCell), for
// the error of a caller that wants a number. (arrow-go's inferring reader
// types a column from its first row only, which fails on "1" followed by
// "1.5".) Cells are read without the spaces around them, as R's format()
// and fixed-width writers pad numbers (arrow-go's reader reads " 1.5" as
// a string). Meant for small dumps: it is read twice, and the header must
// be one line.
type csvFile struct {
	in   seqFile
	opts Options
	sch  *arrow.Schema
}

// openCSV takes ownership of in.
func openCSV(ctx context.Context, in seqFile, opts Options) (source, error) {
	sch, err := func() (*arrow.Schema, error) {
		f, err := in.open(ctx)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return scanCSV(skipBOM(bufio.NewReader(f)), opts.TextColumns)
	}()
	if err != nil {
		in.close()
		return nil, err
	}
	return &csvFile{in: in, opts: opts, sch: sch}, nil
}

// skipBOM drops a leading UTF-8 byte order mark, as spreadsheet programs
// write one.
func skipBOM(r *bufio.Reader) *bufio.Reader {
	if head, err := r.Peek(len(utf8BOM)); err == nil && bytes.Equal(head, utf8BOM) {
		r.Discard(len(utf8BOM))
	}
	return r
}

// scanCSV reads the whole of r and returns the schema of its columns;
// the columns named in text are utf8 whatever their cells.
func scanCSV(r io.Reader, text []string) (*arrow.Schema, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: empty csv file, want a header row", ErrCorrupt)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	names := append([]string(nil), header...)
	for i, name := range names {
		names[i] = strings.TrimSpace(name)
	}
	// Per column: the narrowest type of its cells so far, and why it is
	// utf8 (the first cell that made it so).
	kinds := make([]csvKind, len(names))
	neg := make([]bool, len(names)) // an integer below 0
	why := make([]string, len(names))
	for row := 0; ; row++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		for i, v := range rec {
			v = strings.TrimSpace(v)
			if kinds[i] == csvText || isCSVNull(v) {
				continue
			}
			c, negative := cellKind(v)
			k := max(kinds[i], c)
			neg[i] = neg[i] || negative
			if k == csvUint && neg[i] {
				k = csvWide // below 0 and above 2^63-1: neither int64 nor uint64
			}
			switch {
			case k == csvText:
				why[i] = fmt.Sprintf("row %d: %q is not a number", row, v)
			case k == csvWide && kinds[i] < csvWide:
				why[i] = fmt.Sprintf("row %d: %s: the column's integers do not fit 64 bits (float64 would round them)", row, v)
			}
			kinds[i] = k
		}
	}
	fields := make([]arrow.Field, len(names))
	for i, name := range names {
		fields[i] = arrow.Field{Name: name, Type: arrow.BinaryTypes.String, Nullable: true}
		switch {
		case slices.Contains(text, name):
		case kinds[i] == csvInt:
			fields[i].Type = arrow.PrimitiveTypes.Int64
		case kinds[i] == csvUint:
			fields[i].Type = arrow.PrimitiveTypes.Uint64
		case kinds[i] == csvFloat:
			fields[i].Type = arrow.PrimitiveTypes.Float64
		default:
			fields[i].Metadata = arrow.NewMetadata([]string{textCellKey}, []string{why[i]})
		}
	}
	return arrow.NewSchema(fields, nil), nil
}

// csvKind is the type of a CSV column, from the narrowest: each cell
// widens it to at least its own kind.
type csvKind int

const (
	csvInt   csvKind = iota // decimal integers within int64
	csvUint                 // ... within uint64
	csvWide                 // decimal integers, one beyond 64 bits: utf8
	csvFloat                // decimal numbers
	csvText                 // anything else: utf8
)

// cellKind returns the kind of a non-null cell without its padding, and
// whether it is an integer below 0. (A column of integers beyond 64 bits
// and of other numbers is float64: the max of csvWide and csvFloat.)
func cellKind(v string) (csvKind, bool) {
	switch numberSyntax(v) {
	case 'i':
		if x, err := strconv.ParseInt(v, 10, 64); err == nil {
			return csvInt, x < 0
		}
		if _, err := strconv.ParseUint(strings.TrimPrefix(v, "+"), 10, 64); err == nil {
			return csvUint, false
		}
		return csvWide, v[0] == '-'
	case 'f':
		return csvFloat, false
	}
	return csvText, false
}

// numberSyntax returns 'i' for a decimal integer ([+-]digits), 'f' for
// another decimal number ([+-]digits[.digits][e[+-]digits], [+-].digits…,
// or inf, infinity, nan in any case, signed), 0 for anything else: what
// strconv.ParseFloat reads but for Go's own syntax (underscores between
// digits, hexadecimal), which is not CSV's.
func numberSyntax(s string) byte {
	t := s
	if t != "" && (t[0] == '+' || t[0] == '-') {
		t = t[1:]
	}
	switch strings.ToLower(t) {
	case "inf", "infinity", "nan":
		return 'f'
	}
	digits := func(i int) int {
		for i < len(t) && t[i] >= '0' && t[i] <= '9' {
			i++
		}
		return i
	}
	i := digits(0)
	mant := i
	if i == len(t) {
		if i == 0 {
			return 0
		}
		return 'i'
	}
	if t[i] == '.' {
		j := digits(i + 1)
		mant += j - i - 1
		i = j
	}
	if mant == 0 {
		return 0
	}
	if i < len(t) && (t[i] == 'e' || t[i] == 'E') {
		i++
		if i < len(t) && (t[i] == '+' || t[i] == '-') {
			i++
		}
		j := digits(i)
		if j == i {
			return 0
		}
		i = j
	}
	if i != len(t) {
		return 0
	}
	return 'f'
}

// textCellKey is the field metadata key of a CSV utf8 column's first
// cell that is not a number (see TextCell).
const textCellKey = "dcor-stream.csv.text-cell"

// TextCell returns why the CSV column f is utf8 rather than numeric, such
// as `row 3: "1_000" is not a number`, or "" if f says nothing (another
// format, a numeric column).
func TextCell(f arrow.Field) string {
	if i := f.Metadata.FindKey(textCellKey); i >= 0 {
		return f.Metadata.Values()[i]
	}
	return ""
}

func (s *csvFile) schema() *arrow.Schema { return s.sch }

func (s *csvFile) newReader(ctx context.Context) (array.RecordReader, error) {
	f, err := s.in.open(ctx)
	if err != nil {
		return nil, err
	}
	cr := csv.NewReader(skipBOM(bufio.NewReader(f)))
	cr.ReuseRecord = true
	if _, err := cr.Read(); err != nil { // the header, read by openCSV
		f.Close()
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return &csvReader{f: f, cr: cr, sch: s.sch, batch: max(1, s.opts.BatchRows), mem: s.opts.Alloc, refs: 1}, nil
}

func (s *csvFile) close() error { return s.in.close() }

// csvReader reads the rows of a csvFile in batches of its schema's types.
type csvReader struct {
	f     io.Closer
	cr    *csv.Reader
	sch   *arrow.Schema
	batch int
	mem   memory.Allocator
	row   int // data rows read, from 0
	rec   arrow.RecordBatch
	err   error
	refs  int // readers are not shared between goroutines (see Source)
}

func (r *csvReader) Retain() { r.refs++ }

func (r *csvReader) Release() {
	if r.refs--; r.refs == 0 {
		if r.rec != nil {
			r.rec.Release()
			r.rec = nil
		}
		r.f.Close()
	}
}

func (r *csvReader) Schema() *arrow.Schema          { return r.sch }
func (r *csvReader) RecordBatch() arrow.RecordBatch { return r.rec }

// Record returns the current batch.
//
// Deprecated: Use [csvReader.RecordBatch] instead.
func (r *csvReader) Record() arrow.RecordBatch { return r.rec }
func (r *csvReader) Err() error                { return r.err }

func (r *csvReader) Next() bool {
	if r.rec != nil {
		r.rec.Release()
		r.rec = nil
	}
	if r.err != nil {
		return false
	}
	mem := r.mem
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	b := array.NewRecordBuilder(mem, r.sch)
	defer b.Release()
	n := 0
	for ; n < r.batch; n++ {
		rec, err := r.cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			r.err = fmt.Errorf("%w: %w", ErrCorrupt, err)
			return false
		}
		if len(rec) != len(r.sch.Fields()) {
			r.err = fmt.Errorf("%w: row %d has %d fields, the header %d", ErrCorrupt, r.row, len(rec), len(r.sch.Fields()))
			return false
		}
		for i, v := range rec {
			v = strings.TrimSpace(v)
			if isCSVNull(v) {
				b.Field(i).AppendNull()
				continue
			}
			var err error
			switch fb := b.Field(i).(type) {
			case *array.Float64Builder:
				var x float64
				if numberSyntax(v) == 0 {
					err = strconv.ErrSyntax
				} else if x, err = strconv.ParseFloat(v, 64); errors.Is(err, strconv.ErrRange) {
					err = nil // ±Inf, refused as such later
				}
				fb.Append(x)
			case *array.Int64Builder:
				var x int64
				if numberSyntax(v) != 'i' {
					err = strconv.ErrSyntax
				} else {
					x, err = strconv.ParseInt(v, 10, 64)
				}
				fb.Append(x)
			case *array.Uint64Builder:
				var x uint64
				if numberSyntax(v) != 'i' {
					err = strconv.ErrSyntax
				} else {
					x, err = strconv.ParseUint(strings.TrimPrefix(v, "+"), 10, 64)
				}
				fb.Append(x)
			case *array.StringBuilder:
				fb.Append(v)
			}
			if err != nil {
				r.err = fmt.Errorf("column %q: row %d: %q is not a number of its type %s (the file changed since it was opened?)", r.sch.Field(i).Name, r.row, v, r.sch.Field(i).Type)
				return false
			}
		}
		r.row++
	}
	if n == 0 {
		return false
	}
	r.rec = b.NewRecordBatch()
	return true
}
