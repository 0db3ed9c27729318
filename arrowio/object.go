package arrowio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// This file reads objects of object stores:
//
//	s3://bucket/key       Amazon S3 and S3-compatible stores (MinIO, Ceph)
//	gs://bucket/key       Google Cloud Storage
//	azblob://container/key Azure Blob Storage
//
// through the Bucket registered for the URL's scheme (RegisterObjectStore).
// This package links no cloud SDK: package objstore registers the three
// stores, through gocloud.dev/blob, when a program imports it (the
// command does); how each is configured is said there.
//
// IPC files, Parquet and .npy are read by range: the footer, then each
// batch (IPC: one GET per batch, metadata and body; Parquet: the column
// chunks of a row group in requests of at most parquetBufferSize bytes;
// .npy: one GET per batch), never the whole object. IPC streams and CSV
// are read front to back, one GET per pass. docs/object-stores.md counts
// what a pass costs.

// objectSchemes are the URL schemes read as objects.
var objectSchemes = [...]string{"s3", "gs", "azblob"}

// IsObjectURL reports whether path names an object of an object store
// (s3://, gs:// or azblob://) rather than a local file, whether or not a
// store is registered for it.
func IsObjectURL(path string) bool {
	for _, s := range objectSchemes {
		if strings.HasPrefix(path, s+"://") {
			return true
		}
	}
	return false
}

// A Bucket is a bucket (or container) of an object store, as an
// ObjectStore opens it. Its methods are called concurrently.
type Bucket interface {
	// Attributes returns the size, ETag and modification time of the
	// object key. A missing object (or bucket) is an error wrapping
	// os.ErrNotExist.
	Attributes(ctx context.Context, key string) (ObjectAttributes, error)
	// NewRangeReader reads length bytes of the object key from offset
	// (length < 0: to its end), by one request. Errors are those of
	// Attributes.
	NewRangeReader(ctx context.Context, key string, offset, length int64) (ObjectReader, error)
	Close() error
}

// ObjectAttributes describe an object; a store that does not give the
// ETag or the modification time leaves it zero.
type ObjectAttributes struct {
	Size    int64
	ETag    string
	ModTime time.Time
}

// An ObjectReader reads the response to one request. Attributes are the
// object's as the response gives them (Size is the whole object's).
type ObjectReader interface {
	io.ReadCloser
	Attributes() ObjectAttributes
}

// An ObjectStore opens the bucket of an object URL
// (scheme://bucket/key?query) and returns it with the object's key.
// Errors need not repeat the URL: Open names it.
type ObjectStore func(ctx context.Context, url string) (b Bucket, key string, err error)

// stores are the object stores registered, by scheme. This is the one
// piece of package state, as for database/sql's drivers and image's
// formats: the stores register from their own package, so that a program
// reading local files links none of the cloud SDKs.
var stores struct {
	mu sync.RWMutex
	m  map[string]ObjectStore
}

// RegisterObjectStore makes Open read the objects of scheme ("s3", "gs"
// or "azblob") through open, replacing any store registered before. It
// panics for another scheme: IsObjectURL, and so the parsing of specs,
// must not depend on what a program registers.
func RegisterObjectStore(scheme string, open ObjectStore) {
	known := false
	for _, s := range objectSchemes {
		known = known || s == scheme
	}
	if !known || open == nil {
		panic("arrowio: RegisterObjectStore of an unknown scheme or a nil store")
	}
	stores.mu.Lock()
	defer stores.mu.Unlock()
	if stores.m == nil {
		stores.m = map[string]ObjectStore{}
	}
	stores.m[scheme] = open
}

// objectFile is an object of an object store: a randomFile read by
// ranged GETs, and a seqFile read by whole GETs. Every read checks that
// the object is still the one opened (the size and modification time of
// each response, where the store gives them); a changed or deleted object
// is an error wrapping ErrChanged.
//
// It keeps the context given to Open, because io.ReaderAt, through which
// arrow-go reads, has none: cancelling that context aborts its requests.
// It is safe for concurrent use.
type objectFile struct {
	ctx    context.Context
	bucket Bucket
	key    string
	size   int64
	etag   string
	mod    time.Time

	mu       sync.Mutex
	cache    []byte // bytes from cacheOff, fetched ahead
	cacheOff int64
	hintOff  int64 // the next reads fall in [hintOff, hintOff+hintLen)
	hintLen  int64

	requests atomic.Int64 // GETs and HEADs sent
	received atomic.Int64 // bytes of the GET responses
}

// readAhead is the least a ranged GET fetches: the small reads of
// headers that follow one another (a Parquet page header, then the start
// of its body, checked before pqarrow reads the page) come from one
// request. Bigger reads (pqarrow's column chunks, IPC blocks, .npy
// batches) are fetched as asked.
const readAhead = 16 << 10

// openObject opens the object named by the URL raw.
func openObject(ctx context.Context, raw string) (*objectFile, error) {
	scheme, _, _ := strings.Cut(raw, "://")
	stores.mu.RLock()
	open := stores.m[scheme]
	stores.mu.RUnlock()
	if open == nil {
		return nil, fmt.Errorf("%w: no object store is registered for %s:// in this program (import _ \"github.com/dcor-stream/dcor-stream/objstore\")", ErrUnsupported, scheme)
	}
	b, key, err := open(ctx, raw)
	if err != nil {
		return nil, err
	}
	o := &objectFile{ctx: ctx, bucket: b, key: key}
	o.requests.Add(1)
	a, err := b.Attributes(ctx, key)
	if err != nil {
		b.Close()
		return nil, err
	}
	o.size, o.etag, o.mod = a.Size, a.ETag, a.ModTime
	return o, nil
}

func (o *objectFile) Size() int64  { return o.size }
func (o *objectFile) Close() error { return o.bucket.Close() }
func (o *objectFile) close() error { return o.bucket.Close() }

// changed returns an error wrapping ErrChanged if the object is no longer
// the one opened: deleted, or of another ETag, size or modification time.
// It costs one HEAD request.
func (o *objectFile) changed() error {
	o.requests.Add(1)
	a, err := o.bucket.Attributes(o.ctx, o.key)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%w: the object was deleted", ErrChanged)
	case err != nil:
		return err
	case a.ETag != o.etag:
		return fmt.Errorf("%w: ETag %s, was %s", ErrChanged, a.ETag, o.etag)
	case a.Size != o.size:
		return fmt.Errorf("%w: size %d bytes, was %d", ErrChanged, a.Size, o.size)
	case !a.ModTime.Equal(o.mod):
		return fmt.Errorf("%w: modified at %v, was %v", ErrChanged, a.ModTime, o.mod)
	}
	return nil
}

// check returns an error wrapping ErrChanged if a response says the
// object is not the one opened.
func (o *objectFile) check(r ObjectReader) error {
	a := r.Attributes()
	if a.Size != o.size {
		return fmt.Errorf("%w: it was replaced while being read: size %d bytes, was %d", ErrChanged, a.Size, o.size)
	}
	if m := a.ModTime; !m.IsZero() && !o.mod.IsZero() && !m.Equal(o.mod) {
		return fmt.Errorf("%w: it was replaced while being read: modified at %v, was %v", ErrChanged, m, o.mod)
	}
	return nil
}

func (o *objectFile) readErr(err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w: the object was deleted while being read", ErrChanged)
	}
	return err
}

// willRead tells o that the next reads fall in [off, off+n): the first of
// them fetches it all in one request (an IPC block: metadata, then body).
func (o *objectFile) willRead(off, n int64) {
	o.mu.Lock()
	o.hintOff, o.hintLen = off, n
	o.mu.Unlock()
}

// ReadAt reads len(p) bytes at off by a ranged GET, or from what an
// earlier GET fetched ahead.
func (o *objectFile) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("negative offset %d", off)
	}
	if off >= o.size {
		return 0, io.EOF
	}
	end := min(off+int64(len(p)), o.size)
	o.mu.Lock()
	defer o.mu.Unlock()
	if off >= o.cacheOff && end <= o.cacheOff+int64(len(o.cache)) {
		n := copy(p, o.cache[off-o.cacheOff:end-o.cacheOff])
		if end == o.cacheOff+int64(len(o.cache)) && len(o.cache) > readAhead {
			o.cache = nil // a block read to its end: free it
		}
		return o.eof(n, p)
	}
	lo, hi := off, end
	if off >= o.hintOff && off < o.hintOff+o.hintLen {
		hi = max(hi, min(o.size, o.hintOff+o.hintLen))
	}
	if hi-lo < readAhead {
		hi = min(o.size, lo+readAhead)
	}
	if hi == end {
		// Straight into p.
		if err := o.get(p[:end-off], off); err != nil {
			return 0, err
		}
		return o.eof(int(end-off), p)
	}
	buf := make([]byte, hi-lo)
	if err := o.get(buf, lo); err != nil {
		o.cache = nil
		return 0, err
	}
	o.cache, o.cacheOff = buf, lo
	return o.eof(copy(p, buf[:end-lo]), p)
}

func (o *objectFile) eof(n int, p []byte) (int, error) {
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// get fills p with the bytes at off, by one ranged GET.
func (o *objectFile) get(p []byte, off int64) error {
	o.requests.Add(1)
	r, err := o.bucket.NewRangeReader(o.ctx, o.key, off, int64(len(p)))
	if err != nil {
		return o.readErr(err)
	}
	defer r.Close()
	if err := o.check(r); err != nil {
		return err
	}
	n, err := io.ReadFull(r, p)
	o.received.Add(int64(n))
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: it was truncated while being read: %d of the %d bytes at offset %d are there", ErrChanged, n, len(p), off)
	}
	return o.readErr(err)
}

// open returns a reader of the whole object (one GET).
func (o *objectFile) open(ctx context.Context) (io.ReadCloser, error) {
	o.requests.Add(1)
	r, err := o.bucket.NewRangeReader(ctx, o.key, 0, -1)
	if err != nil {
		return nil, o.readErr(err)
	}
	if err := o.check(r); err != nil {
		r.Close()
		return nil, err
	}
	return &countingReader{r: r, n: &o.received}, nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.ReadCloser
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingReader) Close() error { return c.r.Close() }
