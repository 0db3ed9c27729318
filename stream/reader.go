package stream

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"golang.org/x/sync/errgroup"

	"github.com/dcor-stream/dcor-stream/arrowio"
)

// Reader reads the feature spaces named by K specs, from one or more
// aligned files, as blocks of consecutive rows: pass after pass (NewPass),
// each pass from a chosen row to the end. It is the one code path of this
// package: Load is a single pass of a Reader.
//
// Rows are counted after dropping (Options.DropInvalid): row r is the r-th
// row whose values are valid in every space. The dropped set is the same in
// every pass, since it depends on the data only; a pass that reaches the
// end records the dropped rows (8 bytes each), so that later passes can
// start at a row without decoding the rows before it.
//
// Alignment: every file of a pass must end at the same row (else an error
// wrapping ErrRowMismatch names the files and their row counts), and in
// every pass as in the first; a file whose size, modification time or
// identity changed since NewReader is an error wrapping arrowio.ErrChanged
// (checked when each pass starts and when each file ends).
//
// Memory per pass: one block of rows (rows·Σ Dim float64 values), the
// current batch of each file, and one flag per row of a block; never n·d.
//
// A Reader is not safe for concurrent use; at most one pass is open at a
// time. Call Close when done. Its zero value is not usable.
type Reader struct {
	opts    Options
	specs   []Spec
	files   []*input
	decs    []*Decoder
	pass    *Pass
	raw     int64   // rows of every file; -1 until a pass reached the end
	n       int64   // rows after dropping; -1 until known
	dropped []int64 // raw indices of the dropped rows, sorted; valid if dropKnown
	known   bool    // dropped holds every dropped row
	columns [][]string
	key     *KeyReport // Options.Key
}

// input is one distinct file of a Reader.
type input struct {
	path   string
	src    *arrowio.Source
	spaces []int // indices of the specs read from this file
}

// NewReader opens the files named by specs (a spec without File reads
// defaultFile; each distinct file is opened once) and resolves every spec
// before any data is read. Errors are those of Load.
func NewReader(ctx context.Context, defaultFile string, specs []Spec, opts Options) (*Reader, error) {
	if opts.Alloc == nil {
		opts.Alloc = memory.DefaultAllocator
	}
	if len(specs) == 0 {
		return nil, fmt.Errorf("no spaces to load: %w", ErrSpec)
	}
	r := &Reader{opts: opts, specs: specs, raw: -1, n: -1, decs: make([]*Decoder, len(specs))}
	byPath := make(map[string]*input)
	for k, sp := range specs {
		p := sp.File
		if p == "" {
			p = defaultFile
		}
		if p == "" {
			return nil, fmt.Errorf("spec %q names no file and no default file is given: %w", sp, ErrSpec)
		}
		if stdinAlias(p) {
			p = arrowio.Stdin
		}
		in := byPath[p]
		if in == nil {
			in = &input{path: p}
			byPath[p] = in
			r.files = append(r.files, in)
		}
		in.spaces = append(in.spaces, k)
	}
	// The IDs of Options.Key are read before the rows: standard input is
	// read twice.
	aopts := arrowio.Options{Alloc: opts.Alloc, Stdin: opts.Stdin, BatchRows: opts.BatchRows, Spill: opts.Spill || opts.Key != "", TempDir: opts.TempDir}
	for _, in := range r.files {
		src, err := arrowio.Open(ctx, in.path, aopts)
		if err != nil {
			r.Close()
			return nil, err
		}
		in.src = src
		skip := opts.Key
		if src.Format() == arrowio.FormatNpy {
			skip = ""
		}
		for _, k := range in.spaces {
			d, err := newDecoder(src.Name(), src.Schema(), specs[k].Columns, skip)
			if err != nil {
				r.Close()
				return nil, err
			}
			d.raw = opts.RawIntegers
			r.decs[k] = d
		}
		if err := r.learnCentres(ctx, in); err != nil {
			r.Close()
			return nil, err
		}
	}
	r.columns = make([][]string, len(specs))
	for k, d := range r.decs {
		r.columns[k] = d.Columns()
	}
	if opts.Key != "" {
		if err := r.align(ctx, aopts); err != nil {
			r.Close()
			return nil, err
		}
	} else if !opts.Aligned {
		if err := r.checkSidecars(ctx, aopts); err != nil {
			r.Close()
			return nil, err
		}
	}
	return r, nil
}

// stdinAlias reports whether p names standard input by a path of the
// system ("/dev/stdin", "/dev/fd/0", "/proc/self/fd/0") while it is a
// pipe: such a spec reads "-", for a second open of the pipe, under
// another name, would find it drained by the first. (A regular file on
// standard input is read by its path, as any file.)
func stdinAlias(p string) bool {
	switch p {
	case "/dev/stdin", "/dev/fd/0", "/proc/self/fd/0":
		fi, err := os.Stdin.Stat()
		return err == nil && !fi.Mode().IsRegular()
	}
	return false
}

// learnCentres reads the first batches of in, as far as its spaces of
// 64-bit integers need to fix their centres (Decoder.learn), so that every
// pass subtracts the same ones. A file that can be read only once learns
// them in its one pass.
func (r *Reader) learnCentres(ctx context.Context, in *input) error {
	var need []*Decoder
	for _, k := range in.spaces {
		if d := r.decs[k]; d.ints {
			need = append(need, d)
		}
	}
	if len(need) == 0 || !in.src.Rereadable() {
		return nil
	}
	rr, err := in.src.NewRecordReader(ctx)
	if err != nil {
		return err
	}
	defer rr.Release()
	for len(need) > 0 && rr.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		need = slices.DeleteFunc(need, func(d *Decoder) bool { return d.learn(rr.RecordBatch()) })
	}
	return rr.Err()
}

// Close ends the open pass, if any, and closes the files (removing a
// temporary copy of standard input). It is idempotent.
func (r *Reader) Close() error {
	var err error
	if r.pass != nil {
		r.pass.Close()
	}
	for _, in := range r.files {
		if in.src != nil {
			if cerr := in.src.Close(); err == nil {
				err = cerr
			}
			in.src = nil
		}
	}
	return err
}

// Spaces returns the spaces without data: name, columns and Dim. The Dim
// of a List column is 0 until a pass has read one of its values.
func (r *Reader) Spaces() []Space {
	out := make([]Space, len(r.specs))
	for k, sp := range r.specs {
		out[k] = Space{Name: sp.String(), Columns: r.columns[k], Dim: r.decs[k].Dim()}
	}
	return out
}

// Files returns the distinct files, in order of first use ("-" for
// standard input).
func (r *Reader) Files() []string {
	var out []string
	for _, in := range r.files {
		if !slices.Contains(out, in.path) { // a file rewritten in ID order is one input per space
			out = append(out, in.path)
		}
	}
	return out
}

// Rereadable reports whether more than one pass can be made: false if a
// file is standard input or a pipe without Options.Spill.
func (r *Reader) Rereadable() bool {
	for _, in := range r.files {
		if !in.src.Rereadable() {
			return false
		}
	}
	return true
}

// N returns the number of rows after dropping, once a pass has reached the
// end; -1 before.
func (r *Reader) N() int64 { return r.n }

// Dropped returns the number of rows dropped by Options.DropInvalid, once a
// pass from row 0 has reached the end; -1 before.
func (r *Reader) Dropped() int64 {
	if !r.known {
		return -1
	}
	return int64(len(r.dropped))
}

// Block is a block of consecutive rows of every space: rows Row0 to
// Row0+N-1, counted after dropping. Spaces[k] holds the N rows of space k,
// row-major, N·Dims[k] values. A Block and its slices are valid until the
// next call to Next or Close of its Pass; copy what is kept longer.
type Block struct {
	Row0   int64
	N      int
	Dims   []int
	Spaces [][]float64
}

// Pass is one pass of a Reader over its files, handing out blocks of rows
// in order. Close it when done (Reader.Close does too).
type Pass struct {
	r      *Reader
	rows   int
	cur    []cursor // one per file
	skip   int64    // valid rows still to skip before the first block
	pos    int64    // row (after dropping) of the next row to hand out
	base   int64    // raw row of the start of the pass
	drops  []int64  // raw indices of the rows dropped in this pass
	block  Block
	flags  []bool
	done   bool
	err    error
	closed bool
}

// cursor is the position of a pass in one file.
type cursor struct {
	in   *input
	rr   array.RecordReader
	rec  arrow.RecordBatch // current batch, owned by rr; nil before the first
	off  int               // next row of rec
	raw  int64             // raw row of the file at rec[off]
	done bool              // rr has no more batches
}

// NewPass starts a pass handing out blocks of rows rows (the last may be
// shorter), the first starting at row from (after dropping; 0 for all the
// data). Starting later than row 0 costs little when the formats can seek
// (.npy, Parquet by row group) and, with DropInvalid, once a pass from 0
// has reached the end; otherwise the rows before are read and discarded.
//
// A pass other than the first needs re-readable files (see Rereadable).
// NewPass panics if rows < 1, from < 0, or a pass is open.
func (r *Reader) NewPass(ctx context.Context, from int64, rows int) (*Pass, error) {
	if rows < 1 || from < 0 {
		panic("stream: NewPass: rows < 1 or from < 0")
	}
	if r.pass != nil {
		panic("stream: NewPass: a pass is open")
	}
	p := &Pass{r: r, rows: rows, cur: make([]cursor, len(r.files)), flags: make([]bool, rows)}
	p.block.Dims = make([]int, len(r.decs))
	p.block.Spaces = make([][]float64, len(r.decs))
	// Where to start reading: the raw row of row from, if the dropped
	// rows are known (or none are dropped); else the start.
	start := int64(0)
	if !r.opts.DropInvalid {
		start = from
	} else if r.known {
		start = from
		for _, d := range r.dropped {
			if d > start {
				break
			}
			start++
		}
	}
	if r.raw >= 0 && start > r.raw {
		start = r.raw
	}
	p.base = start
	if start == 0 {
		p.skip = from
	} else {
		p.pos = from
	}
	r.pass = p
	for i, in := range r.files {
		rr, first, err := in.src.NewRecordReaderAt(ctx, start)
		if err != nil {
			p.Close()
			return nil, err
		}
		c := &p.cur[i]
		c.in, c.rr, c.raw = in, rr, first
		// Move to start without decoding.
		for c.raw < start {
			if !p.advance(c) {
				break
			}
			m := int64(c.rec.NumRows()) - int64(c.off)
			take := min(m, start-c.raw)
			c.off += int(take)
			c.raw += take
		}
		if c.rr != nil && c.done {
			if err := c.rr.Err(); err != nil {
				p.Close()
				return nil, err
			}
		}
	}
	return p, nil
}

// advance makes c.rec a batch with rows left, reading the next batches as
// needed; it returns false at the end of the file (or on a read error, in
// c.rr.Err()).
func (p *Pass) advance(c *cursor) bool {
	for !c.done && (c.rec == nil || c.off >= int(c.rec.NumRows())) {
		if !c.rr.Next() {
			c.done, c.rec = true, nil
			break
		}
		c.rec, c.off = c.rr.RecordBatch(), 0
	}
	return !c.done
}

// Next returns the next block, or io.EOF after the last. Errors are those
// of Load (data errors name the file, the column and the row), plus
// ErrRowMismatch for files that end at different rows or at another row
// than in the first pass, and arrowio.ErrChanged.
func (p *Pass) Next(ctx context.Context) (*Block, error) {
	if p.err != nil {
		return nil, p.err
	}
	if p.closed {
		return nil, fmt.Errorf("stream: pass is closed")
	}
	if p.done {
		return nil, io.EOF
	}
	b, err := p.next(ctx)
	if err != nil {
		p.err = err
		if err != io.EOF {
			return nil, err
		}
	}
	return b, err
}

func (p *Pass) next(ctx context.Context) (*Block, error) {
	r := p.r
	b := &p.block
	filled := 0
	for filled < p.rows {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// Every file at a batch with rows left, or all at their end.
		c := p.rows - filled
		ended := 0
		for i := range p.cur {
			cu := &p.cur[i]
			if !p.advance(cu) {
				if err := cu.rr.Err(); err != nil {
					return nil, err
				}
				ended++
				continue
			}
			c = min(c, int(cu.rec.NumRows())-cu.off)
		}
		if ended > 0 {
			if ended < len(p.cur) {
				return nil, p.mismatch()
			}
			if err := p.end(); err != nil {
				return nil, err
			}
			break
		}
		if p.skip > 0 {
			c = int(min(int64(c), p.skip))
		}
		kept, err := p.decode(filled, c)
		if err != nil {
			return nil, err
		}
		if p.skip > 0 {
			p.skip -= int64(kept) // the rows are discarded: filled stays
			p.pos += int64(kept)
			continue
		}
		filled += kept
	}
	if filled == 0 {
		if r.n == 0 {
			return nil, p.noRows(r.raw)
		}
		p.done = true
		return nil, io.EOF
	}
	b.Row0, b.N = p.pos, filled
	p.pos += int64(filled)
	for k, d := range r.decs {
		b.Dims[k] = d.Dim()
		b.Spaces[k] = b.Spaces[k][:filled*d.Dim()]
	}
	return b, nil
}

// decodeFile converts the next c raw rows of file i into rows filled.. of
// the block's spaces of that file.
func (p *Pass) decodeFile(i, filled, c int, mark func(int)) error {
	r := p.r
	b := &p.block
	cu := &p.cur[i]
	sl := cu.rec.NewSlice(int64(cu.off), int64(cu.off+c))
	defer sl.Release()
	for _, k := range cu.in.spaces {
		d := r.decs[k]
		if d.dim == 0 {
			// Earlier rows of a List column were all null, hence
			// dropped: none is in the block.
			d.pending = 0
		}
		var err error
		b.Spaces[k], err = d.Append(b.Spaces[k][:filled*d.dim], sl, cu.raw, mark)
		if err != nil {
			return err
		}
	}
	cu.off += c
	cu.raw += int64(c)
	return nil
}

// decode converts the next c raw rows of every file into rows filled.. of
// the block, drops the invalid ones, and returns how many were kept.
func (p *Pass) decode(filled, c int) (int, error) {
	r := p.r
	b := &p.block
	flags := p.flags[:c]
	clear(flags)
	var mark func(int)
	if r.opts.DropInvalid {
		mark = func(i int) { flags[i] = true }
	}
	if w := min(r.opts.Workers, len(p.cur)); w > 1 && mark == nil {
		// The files on up to Workers goroutines: each file's spaces have
		// decoders and buffers of their own. The error is that of the
		// first file in order, as one by one (the pass ends on it).
		errs := make([]error, len(p.cur))
		var g errgroup.Group
		// CPU and page-fault bound: one goroutine per worker.
		g.SetLimit(w)
		for i := range p.cur {
			g.Go(func() error {
				errs[i] = p.decodeFile(i, filled, c, nil)
				return nil
			})
		}
		g.Wait()
		for _, err := range errs {
			if err != nil {
				return 0, err
			}
		}
	} else {
		for i := range p.cur {
			if err := p.decodeFile(i, filled, c, mark); err != nil {
				return 0, err
			}
		}
	}
	kept := c
	if r.opts.DropInvalid {
		kept = 0
		raw0 := p.cur[0].raw - int64(c)
		for i, bad := range flags {
			if bad {
				p.drops = append(p.drops, raw0+int64(i))
				continue
			}
			if kept != i {
				for k, d := range r.decs {
					w := d.dim
					x := b.Spaces[k]
					copy(x[(filled+kept)*w:(filled+kept+1)*w], x[(filled+i)*w:(filled+i+1)*w])
				}
			}
			kept++
		}
	}
	return kept, nil
}

// end checks a pass that reached the end of every file and records what it
// learnt: the row count and, for a pass from the start, the dropped rows.
func (p *Pass) end() error {
	r := p.r
	raw := p.cur[0].raw
	if r.raw >= 0 && raw != r.raw {
		return fmt.Errorf("%w: %s has %d rows in this pass, %d in the first: it changed", ErrRowMismatch, p.cur[0].in.src.Name(), raw, r.raw)
	}
	r.raw = raw
	if p.base == 0 && r.opts.DropInvalid && !r.known {
		r.dropped, r.known = p.drops, true
	}
	switch {
	case !r.opts.DropInvalid:
		r.known, r.n = true, raw
	case p.base == 0:
		r.n = p.pos // every row was handed out or skipped
	}
	return nil
}

// noRows is the error of a pass from the first row that kept no row of
// the raw rows of every file.
func (p *Pass) noRows(raw int64) error {
	var names []string
	for _, c := range p.cur {
		if !slices.Contains(names, c.in.src.Name()) {
			names = append(names, c.in.src.Name())
		}
	}
	if raw == 0 {
		return fmt.Errorf("%s: no rows: %w", strings.Join(names, ", "), ErrNoRows)
	}
	return fmt.Errorf("%s: every one of the %d rows has a null, NaN or ±Inf value, and -drop-invalid dropped them all: %w", strings.Join(names, ", "), raw, ErrNoRows)
}

// mismatch returns the error for files ending at different rows, with the
// row count of each (reading the rest of the longer files to count).
func (p *Pass) mismatch() error {
	counts := make([]int64, len(p.cur))
	for i := range p.cur {
		cu := &p.cur[i]
		n := cu.raw
		for p.advance(cu) {
			n += cu.rec.NumRows() - int64(cu.off)
			cu.off = int(cu.rec.NumRows())
		}
		if err := cu.rr.Err(); err != nil {
			return err
		}
		counts[i] = n
	}
	for i := 1; i < len(counts); i++ {
		if counts[i] != counts[0] {
			return fmt.Errorf("%w: %s has %d rows, %s has %d rows: spaces from different files are aligned by row",
				ErrRowMismatch, p.cur[0].in.src.Name(), counts[0], p.cur[i].in.src.Name(), counts[i])
		}
	}
	return fmt.Errorf("%w: files end at different rows", ErrRowMismatch)
}

// Close releases the readers of the pass; the Reader can then start
// another. It is idempotent.
func (p *Pass) Close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	for i := range p.cur {
		if p.cur[i].rr != nil {
			p.cur[i].rr.Release()
			p.cur[i].rr, p.cur[i].rec = nil, nil
		}
	}
	if p.r.pass == p {
		p.r.pass = nil
	}
	return nil
}
