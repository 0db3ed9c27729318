package arrowio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/azureblob" // azblob://
	_ "gocloud.dev/blob/gcsblob"   // gs://
	_ "gocloud.dev/blob/s3blob"    // s3://
	"gocloud.dev/gcerrors"
)

// This file reads objects of object stores, through gocloud.dev/blob:
//
//	s3://bucket/key       Amazon S3 and S3-compatible stores (MinIO, Ceph)
//	gs://bucket/key       Google Cloud Storage
//	azblob://container/key Azure Blob Storage
//
// Each is configured by its cloud's standard environment, as its SDK reads
// it: for S3, credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY,
// AWS_PROFILE, the shared files, a role), AWS_REGION, AWS_ENDPOINT_URL_S3
// or AWS_ENDPOINT_URL for another store; for GCS, Application Default
// Credentials (GOOGLE_APPLICATION_CREDENTIALS); for Azure,
// AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY or
// AZURE_STORAGE_SAS_TOKEN, or a default Azure credential. Query
// parameters after the key are the bucket options of gocloud.dev's URL
// openers (s3://bucket/key?region=eu-west-1). With a custom S3 endpoint
// (the endpoint parameter, AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL),
// requests use path-style addressing (http://host/bucket/key), which
// MinIO and Ceph need, unless use_path_style=false is given.
//
// IPC files, Parquet and .npy are read by range: the footer, then each
// batch (IPC: one GET per batch, metadata and body; Parquet: the column
// chunks of a row group in requests of at most parquetBufferSize bytes;
// .npy: one GET per batch), never the whole object. IPC streams and CSV
// are read front to back, one GET per pass. docs/object-stores.md counts
// what a pass costs.

// objectSchemes are the URL schemes read as objects.
var objectSchemes = [...]string{"s3://", "gs://", "azblob://"}

// IsObjectURL reports whether path names an object of an object store
// (s3://, gs:// or azblob://) rather than a local file.
func IsObjectURL(path string) bool {
	for _, s := range objectSchemes {
		if strings.HasPrefix(path, s) {
			return true
		}
	}
	return false
}

// splitObjectURL splits an object URL into the URL of its bucket (with
// the query) and the object's key.
func splitObjectURL(raw string, getenv func(string) string) (bucketURL, key string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", err
	}
	key = strings.TrimPrefix(u.Path, "/")
	if u.Host == "" || key == "" {
		return "", "", fmt.Errorf("want %s://BUCKET/KEY", u.Scheme)
	}
	q := u.Query()
	if u.Scheme == "s3" {
		if !q.Has("use_path_style") && !q.Has("s3ForcePathStyle") &&
			(q.Has("endpoint") || getenv("AWS_ENDPOINT_URL_S3") != "" || getenv("AWS_ENDPOINT_URL") != "") {
			q.Set("use_path_style", "true")
		}
		// Ranged GETs carry no checksum of what they return, and the
		// SDK would say so on standard error for every request.
		if !q.Has("response_checksum_validation") {
			q.Set("response_checksum_validation", "when_required")
		}
	}
	b := url.URL{Scheme: u.Scheme, Host: u.Host, RawQuery: q.Encode()}
	return b.String(), key, nil
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
	bucket *blob.Bucket
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
func openObject(ctx context.Context, raw string, getenv func(string) string) (*objectFile, error) {
	bucketURL, key, err := splitObjectURL(raw, getenv)
	if err != nil {
		return nil, err
	}
	b, err := blob.OpenBucket(ctx, bucketURL)
	if err != nil {
		return nil, err
	}
	o := &objectFile{ctx: ctx, bucket: b, key: key}
	o.requests.Add(1)
	a, err := b.Attributes(ctx, key)
	if err != nil {
		b.Close()
		if gcerrors.Code(err) == gcerrors.NotFound {
			return nil, fmt.Errorf("no such object: %w", os.ErrNotExist)
		}
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
	case gcerrors.Code(err) == gcerrors.NotFound:
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
func (o *objectFile) check(r *blob.Reader) error {
	if r.Size() != o.size {
		return fmt.Errorf("%w: it was replaced while being read: size %d bytes, was %d", ErrChanged, r.Size(), o.size)
	}
	if m := r.ModTime(); !m.IsZero() && !o.mod.IsZero() && !m.Equal(o.mod) {
		return fmt.Errorf("%w: it was replaced while being read: modified at %v, was %v", ErrChanged, m, o.mod)
	}
	return nil
}

func (o *objectFile) readErr(err error) error {
	if gcerrors.Code(err) == gcerrors.NotFound {
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
	r, err := o.bucket.NewRangeReader(o.ctx, o.key, off, int64(len(p)), nil)
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
	r, err := o.bucket.NewReader(ctx, o.key, nil)
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
