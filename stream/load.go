// Package stream turns the columns of one or more input files into feature
// spaces: dense row-major float64 data, one row per sample, aligned across
// files by row order. It knows no file format: package arrowio opens the
// files and hands out Arrow record batches.
//
// A feature space is named by a Spec (see ParseSpec). Decoder converts the
// batches of one space; Reader hands out blocks of rows of every space,
// pass after pass, for data larger than memory; Load reads whole spaces
// into memory (one pass of a Reader).
package stream

import (
	"context"
	"io"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Options configures Load and NewReader. The zero value is ready to use.
type Options struct {
	Alloc memory.Allocator // optional; default memory.DefaultAllocator

	// Stdin is read for the file "-". Optional; default os.Stdin.
	Stdin io.Reader

	// DropInvalid drops the rows where any space has a null, NaN or ±Inf
	// value, from every space (also spaces of other files), and counts
	// them in Table.Dropped. When false such a value is an error.
	DropInvalid bool

	// BatchRows is the number of rows per Arrow batch of CSV, Parquet and
	// .npy input (see arrowio.Options.BatchRows); a Reader holds one batch
	// per file besides its block, so a memory budget should bound it.
	// Optional; default arrowio.DefaultBatchRows.
	BatchRows int

	// Spill makes standard input (an Arrow IPC stream) re-readable by a
	// Reader: the first pass copies it to a temporary file in TempDir,
	// which later passes read, and which Close, an error or the
	// cancellation of the ctx given to NewReader remove (see
	// arrowio.Options.Spill). Load reads once and needs no spill.
	Spill bool
	// TempDir is the directory of the spill file, and of the files
	// rewritten in sample-ID order (Key). Optional; default os.TempDir().
	TempDir string

	// Key, if not "", aligns the files by sample ID instead of row order:
	// it names the column of the IDs (integers or strings) in every file;
	// a .npy file's IDs are a .npy file beside it (PREFIX.KEY.npy or
	// PREFIX.ids.npy: see keyFile in key.go). Sample i is the i-th row of
	// the first file (that of the first spec) whose ID is in every file. NewReader reads and joins the IDs before any row
	// is decoded: an ID twice in a file, or in one file and not in
	// another, is an error wrapping ErrKey that counts them and shows a
	// few. Globs of the specs do not match the key column. See key.go for
	// the memory and the disk it takes.
	Key string
	// KeyDrop leaves out the samples whose ID is not in every file
	// (Reader.Key counts them) instead of failing.
	KeyDrop bool
	// Aligned, without Key, takes the rows of the files as aligned as
	// they are. Otherwise NewReader compares the sample IDs beside the
	// .npy files (PREFIX.ids.npy, as examples/pytorch writes: see
	// keyFile) of the inputs that have them, and if two differ (files
	// of differently shuffled exports) fails with an error wrapping
	// ErrKey that says to align them by Key "ids".
	Aligned bool

	// RawIntegers converts 64-bit integers as they are, instead of
	// minus their column's first value (see Decoder), for statistics that
	// are not translation invariant (-normalize-rows); one beyond 2^53
	// that float64 cannot hold exactly is then an error.
	RawIntegers bool

	// Workers is the number of files decoded at once (their columns
	// converted to float64 and checked), where no row is dropped
	// (DropInvalid false). Optional; default 1, one after the other.
	Workers int
}

// Space is one feature space held in memory. Load makes them; a Space owns
// its Data, which no Arrow memory backs.
type Space struct {
	Name    string   // the spec, as Spec.String gives it
	Columns []string // the resolved columns: one list column, or one per dimension
	Dim     int      // values per sample
	Data    []float64
	// Data is row-major: sample i is Data[i*Dim : (i+1)*Dim]; len(Data) = N*Dim.
	// A dimension of 64-bit integers holds them minus the dimension's
	// first value in the file, exactly (see Decoder; RawIntegers).
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

// ReadAll reads every row of r into memory in one pass from row 0: per
// space, its rows row-major (n·Dim values). Errors are those of the pass.
//
// The data is decoded once, into the slices returned: when every file
// records its number of rows (.npy, Parquet), they are allocated once at
// that size and the pass is one block, so that loading takes the data as
// float64 and nothing more; otherwise each block's buffer is kept and the
// later blocks appended to it, and the pass's blocks are bounded to about
// loadBlockBytes.
func (r *Reader) ReadAll(ctx context.Context) ([][]float64, error) {
	rows, known := r.rowsHint()
	block := loadBlockRows(r.decs)
	if known {
		block = int(max(1, rows))
	}
	p, err := r.NewPass(ctx, 0, block)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	if known {
		for k, d := range r.decs {
			if d.Dim() > 0 {
				p.block.Spaces[k] = make([]float64, 0, int(rows)*d.Dim())
			}
		}
	}
	data := make([][]float64, len(r.Spaces()))
	for {
		b, err := p.Next(ctx)
		if err == io.EOF {
			return data, nil
		}
		if err != nil {
			return nil, err
		}
		for k, x := range b.Spaces {
			if data[k] == nil {
				// The block's buffer becomes the space's data; the next
				// block decodes into a buffer of its own.
				data[k], p.block.Spaces[k] = x, nil
				continue
			}
			data[k] = append(data[k], x...)
		}
	}
}

// rowsHint returns the number of raw rows of the input when every file
// records it up front (the rows kept are at most that many).
func (r *Reader) rowsHint() (int64, bool) {
	var n int64
	for _, in := range r.files {
		m, ok := in.src.Rows()
		if !ok {
			return 0, false
		}
		n = max(n, m)
	}
	return n, len(r.files) > 0
}

// loadBlockBytes bounds the block of ReadAll's pass when the number of
// rows is not known up front.
const loadBlockBytes = 16 << 20

// loadBlockRows is the block size of ReadAll's pass over an input of
// unknown length: about loadBlockBytes of float64 rows, at most 16,384.
func loadBlockRows(decs []*Decoder) int {
	w := 0
	for _, d := range decs {
		w += max(1, d.Dim())
	}
	return max(1, min(16<<10, loadBlockBytes/(8*w)))
}

// Load reads the spaces named by specs into memory. A spec without File
// reads defaultFile. Each distinct file is opened once and read once, front
// to back, whatever the number of its spaces. Spaces from different files
// are aligned by row order: the files must have the same number of rows.
//
// Load is one pass of a Reader (NewReader), its blocks appended.
//
// Errors wrap one of this package's sentinels or one of arrowio's (a file
// that cannot be read, is corrupt or truncated); data errors are *Error
// values naming the file, the column and the row. Cancelling ctx stops
// Load between batches.
func Load(ctx context.Context, defaultFile string, specs []Spec, opts Options) (*Table, error) {
	opts.Spill = false // one pass
	r, err := NewReader(ctx, defaultFile, specs, opts)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data, err := r.ReadAll(ctx)
	if err != nil {
		return nil, err
	}
	t := &Table{N: int(r.N()), Dropped: int(r.Dropped()), Spaces: r.Spaces(), Files: r.Files()}
	if !opts.DropInvalid {
		t.Dropped = 0
	}
	for k := range t.Spaces {
		t.Spaces[k].Data = data[k]
		if len(data[k]) != t.N*t.Spaces[k].Dim {
			panic("stream: decoded data does not match the row count")
		}
	}
	return t, nil
}
