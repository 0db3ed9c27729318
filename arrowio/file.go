package arrowio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"unsafe"
)

// randomFile is an input read by offset: an IPC file, a .npy file or a
// Parquet file. Size is the size at Open; every offset the formats read
// lies below it (they check the offsets they find in the file against
// it). A read that finds fewer bytes than Size promised means the input
// changed: ReadAt then returns an error wrapping ErrChanged.
type randomFile interface {
	io.ReaderAt
	Size() int64
	Close() error
}

// localFile is a regular file read with pread (os.File.ReadAt).
//
// These files used to be memory-mapped. A mapping cannot survive the file
// being truncated by another process: touching a page past the new end
// raises SIGBUS, which the Go runtime turns into a fatal error, not a
// panic, unless the goroutine set debug.SetPanicOnFault; and the pages are
// touched after Next returns, by whoever decodes the batch (package
// stream), outside this package's API boundary. A read copies the bytes
// once into memory the batch owns, so a truncation is seen by the read
// that finds the bytes missing, and reported as an error naming the file
// and the batch. A pass copies what the decoder would have faulted in
// anyway; the in-memory load of a 307 MB IPC file took as long either way
// (see the commit that made the change).
type localFile struct {
	f    *os.File
	size int64
}

func newLocalFile(f *os.File, size int64) *localFile { return &localFile{f: f, size: size} }

func (l *localFile) Size() int64  { return l.size }
func (l *localFile) Close() error { return l.f.Close() }

// ReadAt reads len(p) bytes at off. Bytes below Size that are missing
// (the file was truncated since Open) give an error wrapping ErrChanged.
func (l *localFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := l.f.ReadAt(p, off)
	if err == nil || !errors.Is(err, io.EOF) || off+int64(n) >= l.size {
		return n, err
	}
	now := "cannot be read"
	if fi, serr := l.f.Stat(); serr == nil {
		now = fmt.Sprintf("has %d bytes", fi.Size())
	}
	return n, fmt.Errorf("%w: it was truncated while being read: it now %s, had %d when opened (reading %d bytes at offset %d)",
		ErrChanged, now, l.size, len(p), off)
}

// sectionReader gives the Read and Seek of parquet.ReaderAtSeeker over a
// randomFile, limited to its size at Open.
func sectionReader(f randomFile) *io.SectionReader { return io.NewSectionReader(f, 0, f.Size()) }

// recycler is the memory.Allocator of the batches read by offset (IPC
// file bodies, .npy batches): it keeps a few freed buffers and hands them
// out again, so that a pass reads each batch into a buffer of an earlier
// one instead of allocating (and zeroing) a fresh one and leaving the old
// to the garbage collector, which took a third of the time of a pass
// over a file in the page cache. Buffers come from the Go heap and are
// not zeroed: every byte of them is written by the read (or, for a
// compressed IPC buffer, by the decompressor) before it is used. A buffer
// never freed (a batch retained forever, or dropped by arrow-go after a
// panic) is simply collected. It is safe for concurrent use: a batch may
// be released on another goroutine.
type recycler struct {
	mu   sync.Mutex
	free [][]byte // at most recycleBuffers, by capacity
}

// recycleBuffers is how many freed buffers a recycler keeps: a pass
// holds one batch of a file while it reads the next into the buffer of
// the one before. So a file costs up to two batches of memory, the one
// in use and an idle one (with the metadata buffers, which are small).
const recycleBuffers = 2

func (r *recycler) Allocate(size int) []byte {
	r.mu.Lock()
	for i, b := range r.free {
		// Reuse a buffer big enough, but not wastefully so.
		if cap(b) >= size && cap(b)/2 <= size {
			r.free = append(r.free[:i], r.free[i+1:]...)
			r.mu.Unlock()
			return b[:size]
		}
	}
	r.mu.Unlock()
	// Aligned for any element type, as Arrow buffers must be.
	words := make([]uint64, (size+7)/8)
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(words))), len(words)*8)[:size]
}

func (r *recycler) Reallocate(size int, b []byte) []byte {
	if size <= cap(b) {
		return b[:size]
	}
	nb := r.Allocate(size)
	copy(nb, b)
	r.Free(b)
	return nb
}

func (r *recycler) Free(b []byte) {
	if cap(b) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.free) < recycleBuffers {
		r.free = append(r.free, b[:0])
		return
	}
	// Keep the biggest.
	small := 0
	for i, f := range r.free {
		if cap(f) < cap(r.free[small]) {
			small = i
		}
	}
	if cap(b) > cap(r.free[small]) {
		r.free[small] = b[:0]
	}
}

// seqFile is an input read front to back, any number of times: a CSV file
// or an IPC stream, in a local file (reopened by path) or an object (read
// again by a GET).
type seqFile interface {
	// open returns a reader of the whole input, from its first byte.
	open(ctx context.Context) (io.ReadCloser, error)
	close() error
}

// pathFile is a local file reopened by its path.
type pathFile string

func (p pathFile) open(ctx context.Context) (io.ReadCloser, error) { return os.Open(string(p)) }
func (p pathFile) close() error                                    { return nil }
