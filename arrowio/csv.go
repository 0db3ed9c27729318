package arrowio

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// csvNulls are the cell values read as null in a CSV file. "NaN", "Inf" and
// "-Inf" are numbers (strconv.ParseFloat reads them).
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
// columns: a column is float64 when every non-null cell parses with
// strconv.ParseFloat, utf8 otherwise. (arrow-go's inferring reader types a
// column from its first row only, which fails on "1" followed by "1.5".)
// Cells are read without the spaces around them, as R's format() and
// fixed-width writers pad numbers (arrow-go's reader reads " 1.5" as a
// string). Integers above 2^53 lose precision. Meant for small dumps: it is
// read twice, and the header must be one line.
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
		return scanCSV(skipBOM(bufio.NewReader(f)))
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

// scanCSV reads the whole of r and returns the schema of its columns.
func scanCSV(r io.Reader) (*arrow.Schema, error) {
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
	numeric := make([]bool, len(names))
	for i := range numeric {
		numeric[i] = true
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		for i, v := range rec {
			v = strings.TrimSpace(v)
			if numeric[i] && !isCSVNull(v) {
				// Out of range is a number (±Inf), refused as such later.
				if _, err := strconv.ParseFloat(v, 64); err != nil && !errors.Is(err, strconv.ErrRange) {
					numeric[i] = false
				}
			}
		}
	}
	fields := make([]arrow.Field, len(names))
	for i, name := range names {
		fields[i] = arrow.Field{Name: name, Type: arrow.BinaryTypes.String, Nullable: true}
		if numeric[i] {
			fields[i].Type = arrow.PrimitiveTypes.Float64
		}
	}
	return arrow.NewSchema(fields, nil), nil
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
			switch fb := b.Field(i).(type) {
			case *array.Float64Builder:
				if isCSVNull(v) {
					fb.AppendNull()
					continue
				}
				x, err := strconv.ParseFloat(v, 64)
				if err != nil && !errors.Is(err, strconv.ErrRange) {
					r.err = fmt.Errorf("column %q: row %d: %q is not a number (the file changed since it was opened?)", r.sch.Field(i).Name, r.row, v)
					return false
				}
				fb.Append(x)
			case *array.StringBuilder:
				if isCSVNull(v) {
					fb.AppendNull()
				} else {
					fb.Append(v)
				}
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
