package arrowio

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	arrowcsv "github.com/apache/arrow-go/v18/arrow/csv"
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
// Integers above 2^53 lose precision. Meant for small dumps: it is read
// twice, and the header must be one line.
type csvFile struct {
	path string
	opts Options
	sch  *arrow.Schema
}

func openCSV(path string, opts Options) (source, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sch, err := scanCSV(skipBOM(bufio.NewReader(f)))
	if err != nil {
		return nil, err
	}
	return &csvFile{path: path, opts: opts, sch: sch}, nil
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
			if numeric[i] && !isCSVNull(v) {
				if _, err := strconv.ParseFloat(v, 64); err != nil {
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
	f, err := os.Open(s.path)
	if err != nil {
		return nil, err
	}
	r := arrowcsv.NewReader(skipBOM(bufio.NewReader(f)), s.sch,
		arrowcsv.WithHeader(true),
		arrowcsv.WithChunk(s.opts.BatchRows),
		arrowcsv.WithNullReader(true, csvNulls...),
		arrowcsv.WithAllocator(s.opts.Alloc),
	)
	return &closingReader{RecordReader: r, c: f}, nil
}

func (s *csvFile) close() error { return nil }
