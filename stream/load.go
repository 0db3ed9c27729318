// Package stream turns the columns of one or more input files into feature
// spaces: dense row-major float64 data, one row per sample, aligned across
// files by row order. It knows no file format: package arrowio opens the
// files and hands out Arrow record batches.
//
// A feature space is named by a Spec (see ParseSpec). Decoder converts the
// batches of one space; Load reads whole spaces into memory.
package stream

import (
	"context"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/dcor-stream/dcor-stream/arrowio"
)

// Options configures Load. The zero value is ready to use.
type Options struct {
	Alloc memory.Allocator // optional; default memory.DefaultAllocator

	// Stdin is read for the file "-". Optional; default os.Stdin.
	Stdin io.Reader

	// DropInvalid drops the rows where any space has a null, NaN or ±Inf
	// value, from every space (also spaces of other files), and counts
	// them in Table.Dropped. When false such a value is an error.
	DropInvalid bool
}

// Space is one feature space held in memory. Load makes them; a Space owns
// its Data, which no Arrow memory backs.
type Space struct {
	Name    string   // the spec, as Spec.String gives it
	Columns []string // the resolved columns: one list column, or one per dimension
	Dim     int      // values per sample
	Data    []float64
	// Data is row-major: sample i is Data[i*Dim : (i+1)*Dim]; len(Data) = N*Dim.
}

// Table is the result of Load: N samples seen in every space, sample i
// being row i of each. It needs no cleanup.
type Table struct {
	N       int     // samples, after dropping
	Spaces  []Space // in the order of the specs
	Dropped int     // rows dropped by Options.DropInvalid
	Files   []string
	// Files are the distinct files read, in order of first use ("-" for
	// standard input).
}

// Load reads the spaces named by specs into memory. A spec without File
// reads defaultFile. Each distinct file is opened once and read once, front
// to back, whatever the number of its spaces. Spaces from different files
// are aligned by row order: the files must have the same number of rows.
//
// Errors wrap one of this package's sentinels or one of arrowio's (a file
// that cannot be read, is corrupt or truncated); data errors are *Error
// values naming the file, the column and the row. Cancelling ctx stops
// Load between batches.
func Load(ctx context.Context, defaultFile string, specs []Spec, opts Options) (*Table, error) {
	if opts.Alloc == nil {
		opts.Alloc = memory.DefaultAllocator
	}
	if len(specs) == 0 {
		return nil, fmt.Errorf("no spaces to load: %w", ErrSpec)
	}

	// Group the specs by file, keeping the order of first use.
	var files []*input
	byPath := make(map[string]*input)
	fileOf := make([]*input, len(specs))
	for k, sp := range specs {
		p := sp.File
		if p == "" {
			p = defaultFile
		}
		if p == "" {
			return nil, fmt.Errorf("spec %q names no file and no default file is given: %w", sp, ErrSpec)
		}
		in := byPath[p]
		if in == nil {
			in = &input{path: p}
			byPath[p] = in
			files = append(files, in)
		}
		in.spaces = append(in.spaces, k)
		fileOf[k] = in
	}

	// Open every file and resolve every spec before reading any data, so
	// that a typo in the last spec does not wait for the first file.
	defer func() {
		for _, in := range files {
			if in.src != nil {
				in.src.Close()
			}
		}
	}()
	decs := make([]*Decoder, len(specs))
	for _, in := range files {
		src, err := arrowio.Open(ctx, in.path, arrowio.Options{Alloc: opts.Alloc, Stdin: opts.Stdin})
		if err != nil {
			return nil, err
		}
		in.src = src
		for _, k := range in.spaces {
			d, err := NewDecoder(src.Name(), src.Schema(), specs[k].Columns)
			if err != nil {
				return nil, err
			}
			decs[k] = d
		}
	}

	data := make([][]float64, len(specs))
	for _, in := range files {
		if err := in.read(ctx, decs, data, opts.DropInvalid); err != nil {
			return nil, err
		}
	}
	n := files[0].rows
	for _, in := range files[1:] {
		if in.rows != n {
			return nil, fmt.Errorf("%w: %s has %d rows, %s has %d rows: spaces from different files are aligned by row",
				ErrRowMismatch, files[0].src.Name(), n, in.src.Name(), in.rows)
		}
	}

	// Drop the invalid rows of any file from every space.
	var drop []bool
	dropped := 0
	for _, in := range files {
		if in.invalid == nil {
			continue
		}
		if drop == nil {
			drop = make([]bool, n)
		}
		for i, bad := range in.invalid {
			if bad && !drop[i] {
				drop[i] = true
				dropped++
			}
		}
	}

	t := &Table{N: int(n) - dropped, Dropped: dropped, Spaces: make([]Space, len(specs))}
	for _, in := range files {
		t.Files = append(t.Files, in.path)
	}
	for k, sp := range specs {
		d := decs[k]
		x := data[k]
		if len(x) != int(n)*d.Dim() {
			panic("stream: decoded data does not match the row count")
		}
		if dropped > 0 {
			x = compact(x, d.Dim(), drop)
		}
		t.Spaces[k] = Space{Name: sp.String(), Columns: d.Columns(), Dim: d.Dim(), Data: x}
	}
	return t, nil
}

// input is one distinct file of Load.
type input struct {
	path    string
	src     *arrowio.Source
	spaces  []int  // indices of the specs read from this file
	rows    int64  // rows read
	invalid []bool // rows with an invalid value, when dropping; nil if none
}

// read reads the file once, appending each of its spaces to data[k].
func (in *input) read(ctx context.Context, decs []*Decoder, data [][]float64, dropInvalid bool) error {
	rr, err := in.src.NewRecordReader(ctx)
	if err != nil {
		return err
	}
	defer rr.Release()
	var mark func(int)
	var flags []bool
	if dropInvalid {
		mark = func(i int) { flags[int(in.rows)+i] = true }
	}
	for rr.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec := rr.RecordBatch()
		if dropInvalid {
			flags = append(flags, make([]bool, rec.NumRows())...)
		}
		for _, k := range in.spaces {
			if data[k], err = decs[k].Append(data[k], rec, in.rows, mark); err != nil {
				return err
			}
		}
		in.rows += rec.NumRows()
	}
	if err := rr.Err(); err != nil {
		return err
	}
	for _, bad := range flags {
		if bad {
			in.invalid = flags
			break
		}
	}
	return nil
}

// compact removes the rows i with drop[i] from the row-major x of width w,
// in place.
func compact(x []float64, w int, drop []bool) []float64 {
	out := x[:0]
	for i, bad := range drop {
		if !bad {
			out = append(out, x[i*w:(i+1)*w]...)
		}
	}
	return out
}
