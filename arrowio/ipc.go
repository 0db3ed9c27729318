package arrowio

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

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

// ipcFile is an Arrow IPC file, memory-mapped (see mmap_unix.go) or, where
// that fails, read into memory, and read through its footer: batch i is
// decoded on demand. Each message is verified (verify.go) before arrow-go
// decodes it.
type ipcFile struct {
	f     *os.File
	data  []byte
	unmap func() error // nil when data was read, not mapped
	opts  Options
	recs  []block
	r     *ipc.FileReader
}

// openIPCFile takes ownership of f.
func openIPCFile(f *os.File, size int64, opts Options) (source, error) {
	s := &ipcFile{f: f, opts: opts}
	data, unmap, err := mmapFile(f, size)
	if err != nil {
		f.Close()
		return nil, err
	}
	if data == nil {
		data = make([]byte, size)
		if _, err := f.ReadAt(data, 0); err != nil {
			f.Close()
			return nil, err
		}
	}
	s.data, s.unmap = data, unmap
	dicts, recs, err := verifyFooter(data)
	if err == nil {
		for _, b := range dicts {
			if err = verifyBlock(data, b, opts.MaxBodySize); err != nil {
				break
			}
		}
	}
	if err == nil {
		s.r, err = ipc.NewMappedFileReader(data, ipcOptions(opts)...)
	}
	if err != nil {
		s.close()
		return nil, corrupt(err)
	}
	s.recs = recs
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
	if s.unmap != nil {
		err = errors.Join(err, s.unmap())
		s.unmap = nil
	}
	s.data = nil
	return errors.Join(err, s.f.Close())
}

// ipcFileReader reads the batches of an ipcFile in order. It owns each
// batch it returns (RecordBatchAt transfers ownership), so several readers
// of one file do not disturb each other. The refs field is not atomic:
// readers are not shared between goroutines (see Source).
//
// Once it moves past a batch of a mapped file it tells the kernel that the
// batch's pages are no longer needed (dropPages), as npyReader does, so
// that a pass over a file larger than memory does not fill the resident
// set; a batch still retained by a caller stays valid, its pages read
// again from the file when touched (the mapping is private and never
// written: verify.go refuses data arrow-go would byte-swap in place).
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

// drop releases the current batch, and its pages if the file is mapped.
func (r *ipcFileReader) drop() {
	if r.rec == nil {
		return
	}
	r.rec.Release()
	r.rec = nil
	if r.f.unmap != nil {
		b := r.f.recs[r.i-1]
		dropPages(r.f.data, b.offset, b.offset+int64(b.metaLen)+b.bodyLen)
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
	if r.f.r.NumRecords() != len(r.f.recs) {
		r.err = fmt.Errorf("footer lists %d batches, arrow-go sees %d", len(r.f.recs), r.f.r.NumRecords())
		return false
	}
	if err := verifyBlock(r.f.data, r.f.recs[r.i], r.f.opts.MaxBodySize); err != nil {
		r.err = err
		return false
	}
	rec, err := r.f.r.RecordBatchAt(r.i)
	if err != nil {
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
	path   string        // regular file: reopened by each reader; "" for a pipe
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
	return ipc.NewReaderFromMessageReader(newMessageReader(r, opts), ipcOptions(opts)...)
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

func openStreamFile(path string, opts Options, marked bool) (source, error) {
	s := &ipcStream{path: path, opts: opts}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := newIPCStreamReader(bufio.NewReader(f), opts)
	if err != nil {
		return nil, streamError(err, marked)
	}
	s.sch = r.Schema()
	r.Release()
	return s, nil
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
	if s.path == "" {
		return s.newPipeReader()
	}
	f, err := os.Open(s.path)
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
