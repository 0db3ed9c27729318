package arrowio

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// ipcOptions returns the options of arrow-go's IPC readers. They allocate
// (only for compressed buffers) from the Go heap, not from Options.Alloc:
// see Options.Alloc.
func ipcOptions(opts Options) []ipc.Option {
	return []ipc.Option{
		ipc.WithAllocator(memory.NewGoAllocator()),
		ipc.WithMetadataSizeLimit(opts.MaxMetadataSize),
		ipc.WithBodySizeLimit(opts.MaxBodySize),
	}
}

// ipcFile is an Arrow IPC file read by offset through its footer: batch i
// is read (one pread of its metadata, one of its body, into memory the
// batch owns) and decoded on demand by arrow-go's FileReader. Every byte
// arrow-go reads passes through checkedAt, which verifies each message
// (verify.go) before arrow-go decodes it.
type ipcFile struct {
	in   randomFile
	mem  recycler // the message bodies: see recycler
	at   *checkedAt
	opts Options
	recs []block
	r    *ipc.FileReader
	// nrows caches rows(): 0 before it is counted (or none), -1 unknown.
	nrows int64
}

// openIPCFile takes ownership of in.
func openIPCFile(in randomFile, opts Options) (source, error) {
	s, err := newIPCFile(in, opts)
	if err != nil {
		in.Close()
		return nil, err
	}
	return s, nil
}

func newIPCFile(in randomFile, opts Options) (*ipcFile, error) {
	size := in.Size()
	trailer := make([]byte, fileTrailer)
	if size >= fileTrailer {
		if _, err := in.ReadAt(trailer, size-fileTrailer); err != nil {
			return nil, corrupt(err)
		}
	}
	off, n, err := footerRange(trailer, size)
	if err != nil {
		return nil, corrupt(err)
	}
	tail := make([]byte, n+fileTrailer)
	if _, err := in.ReadAt(tail, off); err != nil {
		return nil, corrupt(err)
	}
	dicts, recs, err := verifyFooter(tail[:n])
	if err != nil {
		return nil, corrupt(err)
	}
	s := &ipcFile{in: in, opts: opts, recs: recs}
	s.at = &checkedAt{in: in, size: size, limit: opts.MaxBodySize, tailOff: off, tail: tail, dicts: dicts}
	opt := append(ipcOptions(opts), ipc.WithFooterOffset(size), ipc.WithAllocator(&s.mem))
	if s.r, err = ipc.NewFileReader(io.NewSectionReader(s.at, 0, size), opt...); err != nil {
		if s.at.err != nil {
			err = s.at.err // without arrow-go's wrapping
		}
		return nil, corrupt(err)
	}
	s.at.schema = s.r.Schema()
	if s.r.NumRecords() != len(recs) {
		return nil, corrupt(fmt.Errorf("footer lists %d batches, arrow-go sees %d", len(recs), s.r.NumRecords()))
	}
	return s, nil
}

func (s *ipcFile) schema() *arrow.Schema { return s.r.Schema() }

func (s *ipcFile) newReader(ctx context.Context) (array.RecordReader, error) {
	return &ipcFileReader{f: s, refs: 1}, nil
}

func (s *ipcFile) close() error {
	var err error
	if s.r != nil {
		err = s.r.Close()
		s.r = nil
	}
	return errors.Join(err, s.in.Close())
}

// checkedAt is the io.ReaderAt through which arrow-go's FileReader reads an
// IPC file. It serves the footer from the copy verified by Open, and reads
// every message itself, checking it before arrow-go decodes it: the
// metadata with block.verifyMeta when arrow-go reads the metadata of the
// block expected next (a dictionary while Open runs, then the block set by
// ipcFileReader.Next), the body with message.checkBody when arrow-go reads
// it. The bytes checked are the bytes arrow-go decodes, whatever happens to
// the file meanwhile. Any other read is refused.
//
// arrow-go reads a block's metadata and body each with one ReadAt (through
// io.ReadFull on an io.SectionReader), which is what this relies on.
type checkedAt struct {
	in      io.ReaderAt
	size    int64 // of the file at Open
	limit   int64 // Options.MaxBodySize
	tailOff int64
	tail    []byte  // the footer and trailer, from tailOff to the end
	dicts   []block // the dictionary blocks, read by ipc.NewFileReader
	next    block   // the record batch block that arrow-go reads next
	cur     *block  // the block whose verified metadata was read last
	msg     message // its message
	// schema, once known (after ipc.NewFileReader), is what record
	// batches are checked against (checkLayout).
	schema *arrow.Schema
	// err is the error of the last block that failed a check, which
	// arrow-go returns wrapped in messages of its own.
	err error
}

func (c *checkedAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.readAt(p, off)
	if err != nil {
		c.err = err
	}
	return n, err
}

func (c *checkedAt) readAt(p []byte, off int64) (int, error) {
	end := off + int64(len(p))
	if off >= c.tailOff && off <= c.size && end <= c.size {
		return copy(p, c.tail[off-c.tailOff:]), nil
	}
	if c.cur != nil && off == c.cur.offset+int64(c.cur.metaLen) && int64(len(p)) == c.cur.bodyLen {
		b := c.cur
		c.cur = nil
		if _, err := c.in.ReadAt(p, off); err != nil {
			return 0, err
		}
		if err := c.msg.checkBody(p, c.limit); err != nil {
			return 0, fmt.Errorf("%w: block at offset %d: %w", ErrCorrupt, b.offset, err)
		}
		return len(p), nil
	}
	c.cur = nil
	b, ok := c.expected(off)
	if !ok || int64(len(p)) != int64(b.metaLen) {
		return 0, fmt.Errorf("%w: unexpected read of %d bytes at offset %d", ErrCorrupt, len(p), off)
	}
	if err := b.check(c.size); err != nil {
		return 0, corrupt(err)
	}
	if h, ok := c.in.(interface{ willRead(off, n int64) }); ok {
		// An object: fetch metadata and body in one request.
		h.willRead(b.offset, int64(b.metaLen)+b.bodyLen)
	}
	if _, err := c.in.ReadAt(p, off); err != nil {
		return 0, err
	}
	m, err := b.verifyMeta(p)
	if err == nil && c.schema != nil {
		err = checkLayout(c.schema, &m)
	}
	if err != nil {
		return 0, corrupt(err)
	}
	c.cur, c.msg = &b, m
	return len(p), nil
}

// expected returns the block whose metadata starts at off: the next
// record batch, or a dictionary.
func (c *checkedAt) expected(off int64) (block, bool) {
	if c.next.metaLen > 0 && c.next.offset == off {
		return c.next, true
	}
	for _, d := range c.dicts {
		if d.offset == off {
			return d, true
		}
	}
	return block{}, false
}

// ipcFileReader reads the batches of an ipcFile in order. It owns each
// batch it returns (RecordBatchAt transfers ownership), so several readers
// of one file do not disturb each other. The refs field is not atomic:
// readers are not shared between goroutines (see Source).
type ipcFileReader struct {
	f    *ipcFile
	refs int
	i    int
	rec  arrow.RecordBatch
	err  error
}

func (r *ipcFileReader) Retain() { r.refs++ }

func (r *ipcFileReader) Release() {
	r.refs--
	if r.refs == 0 {
		r.drop()
	}
}

// drop releases the current batch.
func (r *ipcFileReader) drop() {
	if r.rec != nil {
		r.rec.Release()
		r.rec = nil
	}
}

func (r *ipcFileReader) Schema() *arrow.Schema          { return r.f.r.Schema() }
func (r *ipcFileReader) RecordBatch() arrow.RecordBatch { return r.rec }

// Record returns the current batch.
//
// Deprecated: Use [ipcFileReader.RecordBatch] instead.
func (r *ipcFileReader) Record() arrow.RecordBatch { return r.rec }
func (r *ipcFileReader) Err() error                { return r.err }

func (r *ipcFileReader) Next() bool {
	r.drop()
	if r.err != nil || r.i >= len(r.f.recs) {
		return false
	}
	at := r.f.at
	at.next, at.cur, at.err = r.f.recs[r.i], nil, nil
	rec, err := r.f.r.RecordBatchAt(r.i)
	at.next, at.cur = block{}, nil
	if err != nil {
		if at.err != nil {
			err = at.err // without arrow-go's wrapping
		}
		r.err = err
		return false
	}
	r.i++
	r.rec = rec
	return true
}

// ipcStream is an Arrow IPC stream. In a regular file it is re-read by
// opening the file again; from a pipe it is read once.
//
// With Options.Spill, a pipe is copied to a temporary file as its first
// reader reads it (see spill), and later readers read the copy.
type ipcStream struct {
	file   seqFile       // a file or object: reopened by each reader; nil for a pipe
	opts   Options       //
	sch    *arrow.Schema //
	pipe   *ipc.Reader   // pipe: the first reader, nil once handed out
	closer io.Closer     // pipe: closed with the source; nil for stdin
	used   bool          // pipe: the first reader was handed out
	spill  *spill        // pipe with Options.Spill: the copy; else nil
	first  *spillFirst   // pipe with Options.Spill: the first reader
}

// newIPCStreamReader returns an ipc.Reader whose messages are verified
// (verify.go) and bounded by the size limits of opts (ipc.NewReader would
// not even pass the limits on to its message reader).
func newIPCStreamReader(r io.Reader, opts Options) (*ipc.Reader, error) {
	// On error NewReaderFromMessageReader releases itself, hence the
	// message reader.
	mr := newMessageReader(r, opts)
	rr, err := ipc.NewReaderFromMessageReader(mr, ipcOptions(opts)...)
	if err != nil {
		return nil, err
	}
	mr.schema = rr.Schema()
	return rr, nil
}

// streamError classifies an error reading the start of a stream: with the
// continuation marker the input was a stream and is corrupt; without it, it
// was only a guess at the legacy format.
func streamError(err error, marked bool) error {
	if marked || errors.Is(err, ErrUnsupported) {
		return corrupt(err)
	}
	return fmt.Errorf("%w: not a legacy arrow ipc stream either: %w", ErrFormat, err)
}

// openStreamFile takes ownership of in.
func openStreamFile(ctx context.Context, in seqFile, opts Options, marked bool) (source, error) {
	sch, err := func() (*arrow.Schema, error) {
		f, err := in.open(ctx)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r, err := newIPCStreamReader(bufio.NewReader(f), opts)
		if err != nil {
			return nil, streamError(err, marked)
		}
		defer r.Release()
		return r.Schema(), nil
	}()
	if err != nil {
		in.close()
		return nil, err
	}
	return &ipcStream{file: in, opts: opts, sch: sch}, nil
}

// openStreamOnce takes ownership of closer. With opts.Spill it copies the
// stream to a temporary file as it is read (see spill); ctx being done
// then removes the copy.
func openStreamOnce(ctx context.Context, r io.Reader, closer io.Closer, opts Options, marked bool) (source, error) {
	var sp *spill
	if opts.Spill {
		var err error
		if sp, err = newSpill(ctx, r, opts); err != nil {
			if closer != nil {
				closer.Close()
			}
			return nil, err
		}
		r = sp
	}
	rr, err := newIPCStreamReader(r, opts)
	if err != nil {
		if closer != nil {
			closer.Close()
		}
		if sp != nil {
			sp.close()
			if sp.err != nil {
				return nil, sp.err
			}
		}
		return nil, streamError(err, marked)
	}
	return &ipcStream{opts: opts, sch: rr.Schema(), pipe: rr, closer: closer, spill: sp}, nil
}

func (s *ipcStream) schema() *arrow.Schema { return s.sch }

func (s *ipcStream) newReader(ctx context.Context) (array.RecordReader, error) {
	if s.file == nil {
		return s.newPipeReader()
	}
	f, err := s.file.open(ctx)
	if err != nil {
		return nil, err
	}
	r, err := newIPCStreamReader(bufio.NewReader(f), s.opts)
	if err != nil {
		f.Close()
		return nil, corrupt(err)
	}
	if !r.Schema().Equal(s.sch) {
		r.Release()
		f.Close()
		return nil, fmt.Errorf("%w: schema changed since the file was opened", ErrCorrupt)
	}
	return &closingReader{RecordReader: r, c: f}, nil
}

// newPipeReader hands out the first reader of a pipe, then (with a spill)
// readers of the copy.
func (s *ipcStream) newPipeReader() (array.RecordReader, error) {
	if !s.used {
		s.used = true
		r := s.pipe
		s.pipe = nil
		if s.spill == nil {
			return r, nil
		}
		s.first = &spillFirst{Reader: r, refs: 1}
		return s.first, nil
	}
	if s.spill == nil {
		return nil, ErrReadOnce
	}
	if !s.spill.done {
		if !s.first.eos && s.first.refs > 0 {
			return nil, fmt.Errorf("the first reader of a spilled pipe must be read to the end or released before the next")
		}
		var rest *messageReader
		if !s.first.eos {
			rest = newMessageReader(s.spill, s.opts)
		}
		if err := s.spill.finish(rest); err != nil {
			return nil, err
		}
	}
	rd, err := s.spill.reader()
	if err != nil {
		return nil, err
	}
	r, err := newIPCStreamReader(rd, s.opts)
	if err != nil {
		return nil, corrupt(err)
	}
	if !r.Schema().Equal(s.sch) {
		r.Release()
		return nil, fmt.Errorf("%w: the temporary copy has another schema", ErrCorrupt)
	}
	return r, nil
}

// spillFirst is the first reader of a spilled pipe: it notes whether it
// reached the end of the stream, after which the copy is complete.
type spillFirst struct {
	*ipc.Reader
	refs int // readers are not shared between goroutines (see Source)
	eos  bool
}

func (r *spillFirst) Retain() {
	r.refs++
	r.Reader.Retain()
}

func (r *spillFirst) Release() {
	r.refs--
	r.Reader.Release()
}

func (r *spillFirst) Next() bool {
	if r.Reader.Next() {
		return true
	}
	if err := r.Reader.Err(); err == nil || errors.Is(err, io.EOF) {
		r.eos = true
	}
	return false
}

func (s *ipcStream) close() error {
	if s.pipe != nil {
		s.pipe.Release()
		s.pipe = nil
	}
	var err error
	if s.spill != nil {
		err = s.spill.close()
	}
	if s.closer != nil {
		err = errors.Join(err, s.closer.Close())
		s.closer = nil
	}
	if s.file != nil {
		err = errors.Join(err, s.file.close())
	}
	return err
}

// closingReader closes c when the reader is released for the last time.
type closingReader struct {
	array.RecordReader
	c    io.Closer
	refs int // readers are not shared between goroutines (see Source)
}

func (r *closingReader) Retain() {
	r.refs++
	r.RecordReader.Retain()
}

func (r *closingReader) Release() {
	r.RecordReader.Release()
	if r.refs == 0 {
		r.c.Close()
		return
	}
	r.refs--
}
