// Package arrowio opens tabular input files and hands out their rows as
// Arrow record batches. It is the only package of dcor-stream that knows
// file formats:
//
//   - Arrow IPC file ("ARROW1" magic): random access through its footer,
//     each batch read by offset when asked for, re-readable any number of
//     times;
//   - Arrow IPC stream (continuation marker 0xFFFFFFFF, or the legacy format
//     without it): read front to back; re-readable when it is a regular
//     file, read once when it is standard input or a pipe;
//   - Parquet ("PAR1" magic): read row group by row group through pqarrow,
//     never the whole file at once; the page headers of a row group are
//     checked before pqarrow reads it, so that a corrupt size or count
//     cannot make arrow-go allocate far more than the file holds (see
//     checkColumnChunk);
//   - CSV (recognised by the .csv extension): a header row, then one sample
//     per line; columns whose every non-empty value is a decimal integer
//     are read as int64 (or uint64), other columns of decimal numbers as
//     float64, others as utf8 (see csvFile);
//   - NumPy .npy ("\x93NUMPY" magic, format 1.0, 2.0, 3.0; little-endian
//     float16/32/64 or integers; C order): read by offset, one column
//     named NpyColumn (see npyFile).
//
// Any of these may be an object of an object store instead of a local
// file: s3://bucket/key, gs://bucket/key or azblob://container/key (see
// IsObjectURL and object.go; the stores are registered by package
// objstore), read by ranged requests where the format is read by offset,
// and by one request per pass otherwise.
//
// A pipe (standard input) holding an IPC stream is read once, or, with
// Options.Spill, copied to a temporary file as it is read so that it can
// be read again. A regular file that changes while it is read (size,
// modification time, identity) is an error wrapping ErrChanged. Files are
// not memory-mapped (see localFile): a file truncated while it is read is
// such an error too, never a fault.
//
// Every batch handed out has been checked structurally (buffer sizes, list
// offsets, null counts) with array.ValidateFull, so that later code may index
// it without bounds surprises. Errors name the file. A truncated or corrupt
// file gives an error wrapping ErrCorrupt, never a panic.
//
// Memory: a Source takes a memory.Allocator (see Options.Alloc) and
// releases everything it allocates from it once every reader is released
// and the Source closed.
package arrowio

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Sentinel errors. Errors returned by this package wrap one of them (with
// %w) together with the name of the file and, where known, the cause.
var (
	// ErrFormat reports an input whose format is not recognised.
	ErrFormat = errors.New("unrecognised input format (want Arrow IPC file or stream, Parquet, NumPy .npy, or a .csv file)")
	// ErrCorrupt reports a truncated or corrupt input.
	ErrCorrupt = errors.New("corrupt or truncated input")
	// ErrUnsupported reports a recognised input that this package cannot read.
	ErrUnsupported = errors.New("unsupported input")
	// ErrReadOnce reports a second reader asked of a source that can be
	// read only once (standard input, a pipe, without Options.Spill).
	ErrReadOnce = errors.New("input can be read only once (a pipe that is not spilled to a temporary file)")
	// ErrSpill reports a failure to copy a pipe to its temporary file
	// (Options.Spill), such as a full disk.
	ErrSpill = errors.New("cannot spill input to a temporary file")
	// ErrChanged reports a file whose size, modification time or identity
	// changed since Open (an object: its ETag, size or modification
	// time), or that was truncated while being read: it cannot be read
	// consistently.
	ErrChanged = errors.New("file changed since it was opened")
)

// Format is the format of a Source.
type Format int

// The formats a Source can have.
const (
	FormatIPCFile Format = iota + 1
	FormatIPCStream
	FormatParquet
	FormatCSV
	FormatNpy
)

// String returns a short lower-case name of f, such as "arrow ipc file".
func (f Format) String() string {
	switch f {
	case FormatIPCFile:
		return "arrow ipc file"
	case FormatIPCStream:
		return "arrow ipc stream"
	case FormatParquet:
		return "parquet"
	case FormatCSV:
		return "csv"
	case FormatNpy:
		return "npy"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// Stdin is the path that names standard input.
const Stdin = "-"

// Default limits; see Options.
const (
	DefaultMaxMetadataSize int64 = 64 << 20
	DefaultMaxBodySize     int64 = 1 << 30
	DefaultBatchRows             = 64 << 10
	// DefaultMaxRowValues is 2^24: a row of that many float64 values
	// is 128 MiB, and it is as many as a whole sequence of 4,096 tokens
	// of a 4,096-wide language model layer, flattened into one sample.
	DefaultMaxRowValues = 1 << 24
)

// Options configures Open. The zero value is ready to use.
type Options struct {
	// Alloc allocates the batches of CSV and Parquet input. Optional;
	// default memory.DefaultAllocator.
	//
	// IPC input does not use it: the batches of an IPC file or stream
	// point into message bodies read onto the Go heap (as are
	// decompressed buffers). The reason is a leak
	// in arrow-go v18.8.0: when it panics on a corrupt batch (recovered
	// here), it keeps a reference to the message body, which a tracking
	// allocator would then never get back; the garbage collector does.
	Alloc memory.Allocator

	// Stdin is read when the path is "-". Optional; default os.Stdin.
	Stdin io.Reader

	// MaxMetadataSize and MaxBodySize bound the size of one IPC message's
	// metadata and body, so that a corrupt length field cannot make the
	// reader allocate without bound. Optional; defaults
	// DefaultMaxMetadataSize and DefaultMaxBodySize.
	MaxMetadataSize int64
	MaxBodySize     int64

	// BatchRows is the number of rows per batch for CSV, Parquet and .npy
	// input (IPC input keeps the writer's batches; a .npy batch also holds
	// at most 8 MiB). Optional; default DefaultBatchRows.
	BatchRows int

	// TextColumns are CSV columns read as utf8 whatever their cells, so
	// that their text is kept (package stream compares sample IDs by
	// theirs: 9007199254740993 is not 9007199254740992, which float64
	// cannot tell apart). Optional; other formats ignore it.
	TextColumns []string

	// MaxRowValues bounds the values per row that a column may declare:
	// the length of a FixedSizeList column (the product of the lengths
	// for nested ones), the width of a .npy array (the product of its
	// axes after the first). Open refuses a wider column with an error
	// naming it and wrapping ErrUnsupported. A schema declares its
	// widths whatever the data: a 746-byte file can declare a list of
	// 2^31-1 values per row with no row at all, and a reader that sizes
	// per-row scratch memory from the schema would ask for gigabytes.
	// This bound is a backstop; a program that allocates per-row
	// memory (for several rows at a time, per worker) checks the widths
	// (Schema, or stream's Space.Dim) against its own budget. Data that
	// the declared width cannot fit (a values buffer shorter than rows ×
	// width) is corrupt, reported by the reader's Next. Optional;
	// default DefaultMaxRowValues.
	MaxRowValues int

	// Spill makes an Arrow IPC stream read from a pipe (standard input)
	// re-readable: its first reader copies it, as it reads, to a temporary
	// file in TempDir, and later readers read that copy. The copy is
	// removed by Close, when writing it fails (a full disk: the error wraps
	// ErrSpill), and when the ctx given to Open is done; on Unix it is
	// unlinked as soon as created, so that it vanishes however the process
	// ends. Spill has no effect on regular files, which are re-read in
	// place.
	Spill bool
	// TempDir is the directory of the spill file. Optional; default
	// os.TempDir().
	TempDir string

	createTemp func(dir string) (tempFile, error) // tests: a failing file
}

func (o Options) withDefaults() Options {
	if o.Alloc == nil {
		o.Alloc = memory.DefaultAllocator
	}
	if o.Stdin == nil {
		o.Stdin = os.Stdin
	}
	if o.MaxMetadataSize <= 0 {
		o.MaxMetadataSize = DefaultMaxMetadataSize
	}
	if o.MaxBodySize <= 0 {
		o.MaxBodySize = DefaultMaxBodySize
	}
	if o.BatchRows <= 0 {
		o.BatchRows = DefaultBatchRows
	}
	if o.MaxRowValues <= 0 {
		o.MaxRowValues = DefaultMaxRowValues
	}
	return o
}

// source is what each format implements. Errors it returns need not name
// the file: Source adds that.
type source interface {
	schema() *arrow.Schema
	// newReader returns a fresh reader positioned at the first batch.
	newReader(ctx context.Context) (array.RecordReader, error)
	close() error
}

// Source is an opened input. Its zero value is not usable; get one from Open.
// A Source is not safe for concurrent use. Call Close when done.
type Source struct {
	name   string
	path   string
	format Format
	src    source
	fi     os.FileInfo // a regular file: its state at Open; nil for a pipe
	obj    *objectFile // an object: its state at Open; else nil
	closed bool
}

// seeker is implemented by the formats that can start reading at a row.
type seeker interface {
	// newReaderAt returns a reader whose first batch starts at row first
	// <= row (first = row clamped to [0, n] if the format can start
	// anywhere).
	newReaderAt(ctx context.Context, row int64) (rr array.RecordReader, first int64, err error)
}

// Open opens the input at path ("-" is standard input; an object URL
// such as s3://bucket/key is an object, see IsObjectURL), recognising its
// format from its first bytes (Arrow IPC file, Arrow IPC stream, Parquet,
// .npy) or, failing that, from a .csv extension. It reads the schema, so
// a file that is not readable at all is reported here, and refuses a
// column wider than Options.MaxRowValues. A missing file or object is an
// error wrapping os.ErrNotExist. An object keeps ctx for its requests
// (io.ReaderAt, through which arrow-go reads, has no context): cancelling
// ctx aborts them.
//
// Open recovers a panic raised by arrow-go while decoding a corrupt file
// and returns it as an error wrapping ErrCorrupt; this is the package's API
// boundary and the only place where it recovers (the same holds for the
// readers' Next).
func Open(ctx context.Context, path string, opts Options) (s *Source, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	name := DisplayName(path)
	defer func() {
		if p := recover(); p != nil {
			s = nil
			err = fmt.Errorf("%s: %w: %v", name, ErrCorrupt, p)
		}
	}()
	var fi os.FileInfo
	if path != Stdin && !IsObjectURL(path) {
		// Stat before reading, so that a change while Open reads is seen.
		if fi, err = os.Stat(path); err == nil && !fi.Mode().IsRegular() {
			fi = nil
		}
	}
	src, format, obj, err := open(ctx, path, opts)
	if err == nil {
		if err = checkWidths(src.schema(), opts.MaxRowValues); err != nil {
			src.close()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &Source{name: name, path: path, format: format, src: src, fi: fi, obj: obj}, nil
}

// DisplayName returns the name under which errors refer to path: path
// itself, or "stdin" for "-".
func DisplayName(path string) string {
	if path == Stdin {
		return "stdin"
	}
	return path
}

// Name returns the name errors use for the source: its path, or "stdin".
func (s *Source) Name() string { return s.name }

// Format returns the format recognised by Open.
func (s *Source) Format() Format { return s.format }

// Schema returns the schema of every batch of the source.
func (s *Source) Schema() *arrow.Schema { return s.src.schema() }

// Rereadable reports whether NewRecordReader can be called more than once:
// true for regular files, and for pipes with Options.Spill.
func (s *Source) Rereadable() bool {
	if st, ok := s.src.(*ipcStream); ok && st.file == nil {
		return st.spill != nil
	}
	return true
}

// CheckUnchanged returns an error wrapping ErrChanged if the file is no
// longer the one opened: another file at its path, or another size or
// modification time (for an object, another ETag, size or modification
// time: one HEAD request). It returns nil for pipes and standard input.
// Readers call it when they are made and when they reach the end, so that
// a pass over a file that changed fails instead of mixing old and new
// rows. (A same-size rewrite that keeps the modification time is not seen:
// comparing passes by content is the caller's.)
func (s *Source) CheckUnchanged() error {
	if err := s.changed(); err != nil {
		return fmt.Errorf("%s: %w", s.name, err)
	}
	return nil
}

// changed is CheckUnchanged without the name of the file.
func (s *Source) changed() error {
	if s.obj != nil {
		return s.obj.changed()
	}
	if s.fi == nil {
		return nil
	}
	fi, err := os.Stat(s.path)
	switch {
	case err != nil:
		return fmt.Errorf("%w: %w", ErrChanged, err)
	case !os.SameFile(fi, s.fi):
		return fmt.Errorf("%w: another file now has its name", ErrChanged)
	case fi.Size() != s.fi.Size():
		return fmt.Errorf("%w: size %d bytes, was %d", ErrChanged, fi.Size(), s.fi.Size())
	case !fi.ModTime().Equal(s.fi.ModTime()):
		return fmt.Errorf("%w: modified at %v, was %v", ErrChanged, fi.ModTime(), s.fi.ModTime())
	}
	return nil
}

// NewRecordReader returns a reader over all batches of the source, from the
// first. Each batch has been validated (see the package doc); it is valid
// until the next call to Next, as for every array.RecordReader. Reader
// errors (Err) name the file and the batch index and wrap ErrCorrupt.
// Release the reader when done, before closing the Source.
//
// IPC files, Parquet, CSV and IPC streams in regular files can be read any
// number of times; standard input and pipes only once (the second call
// returns an error wrapping ErrReadOnce).
func (s *Source) NewRecordReader(ctx context.Context) (rr array.RecordReader, err error) {
	rr, _, err = s.NewRecordReaderAt(ctx, 0)
	return rr, err
}

// NewRecordReaderAt is NewRecordReader starting at or before row: the
// reader's first batch starts at row first <= row. Formats that can start
// anywhere (.npy) give first = row (clamped to the row count), Parquet the
// start of the row group holding row, the others 0. The caller skips the
// rows first..row-1.
func (s *Source) NewRecordReaderAt(ctx context.Context, row int64) (rr array.RecordReader, first int64, err error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	if s.closed {
		return nil, 0, fmt.Errorf("%s: source is closed", s.name)
	}
	if err := s.CheckUnchanged(); err != nil {
		return nil, 0, err
	}
	defer func() {
		if p := recover(); p != nil {
			rr = nil
			err = fmt.Errorf("%s: %w: %v", s.name, ErrCorrupt, p)
		}
	}()
	var r array.RecordReader
	if sk, ok := s.src.(seeker); ok && row > 0 {
		r, first, err = sk.newReaderAt(ctx, row)
	} else {
		r, err = s.src.newReader(ctx)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", s.name, err)
	}
	c := newCheckedReader(s.name, r)
	c.atEnd = s.CheckUnchanged
	c.changed = s.changed
	return c, first, nil
}

// Close releases the resources of the source and closes its file. Every
// reader, and every batch retained from one, should have been released
// before (for the allocator's accounting; the batches of IPC and .npy
// files stay valid, being on the Go heap). Close is idempotent.
func (s *Source) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if err := s.src.close(); err != nil {
		return fmt.Errorf("%s: close: %w", s.name, err)
	}
	return nil
}

// RowValues returns the values per row that a column of type dt holds,
// as far as its type says: 1 for a scalar, the length of a fixed-size list
// (times that of a fixed-size list inside it), and -1 for a list of
// variable length, whose rows say. It saturates at math.MaxInt64.
func RowValues(dt arrow.DataType) int64 {
	w := int64(1)
	for {
		switch t := dt.(type) {
		case *arrow.FixedSizeListType:
			n, ok := mulInt64(w, int64(t.Len()))
			if !ok {
				return math.MaxInt64
			}
			w, dt = n, t.Elem()
		case arrow.ListLikeType:
			return -1
		default:
			return w
		}
	}
}

// checkWidths refuses a column of schema declaring more than limit values
// per row (see Options.MaxRowValues).
func checkWidths(schema *arrow.Schema, limit int) error {
	for _, f := range schema.Fields() {
		if w := RowValues(f.Type); w > int64(limit) {
			return fmt.Errorf("column %q: declares %d values per row, more than the %d allowed: %w", f.Name, w, limit, ErrUnsupported)
		}
	}
	return nil
}

// corrupt marks err as a sign of a corrupt input, unless it already says
// what is wrong (ErrCorrupt, ErrUnsupported).
func corrupt(err error) error {
	if errors.Is(err, ErrCorrupt) || errors.Is(err, ErrUnsupported) || errors.Is(err, ErrSpill) || errors.Is(err, ErrChanged) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrCorrupt, err)
}

const magicLen = 8

var (
	arrowMagic   = []byte("ARROW1")
	parquetMagic = []byte("PAR1")
	continuation = []byte{0xff, 0xff, 0xff, 0xff}
)

// open recognises the format of path and opens it. For an object
// (IsObjectURL) it also returns the object, to check it for changes.
func open(ctx context.Context, path string, opts Options) (source, Format, *objectFile, error) {
	if path == Stdin {
		src, format, err := openPipe(ctx, bufio.NewReader(opts.Stdin), nil, opts)
		return src, format, nil, err
	}
	if IsObjectURL(path) {
		o, err := openObject(ctx, path)
		if err != nil {
			return nil, 0, nil, err
		}
		head := make([]byte, min(magicLen, o.size))
		if len(head) > 0 {
			if _, err := o.ReadAt(head, 0); err != nil {
				o.close()
				return nil, 0, nil, err
			}
		}
		key, _, _ := strings.Cut(path, "?")
		src, format, err := openFormat(ctx, head, key, o, o, opts)
		return src, format, o, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, nil, err
	}
	if fi.IsDir() {
		f.Close()
		return nil, 0, nil, fmt.Errorf("is a directory")
	}
	if !fi.Mode().IsRegular() {
		// A pipe or device: read it front to back, once.
		src, format, err := openPipe(ctx, bufio.NewReader(f), f, opts)
		return src, format, nil, err
	}
	head := make([]byte, magicLen)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		f.Close()
		return nil, 0, nil, err
	}
	lf := newLocalFile(f, fi.Size())
	src, format, err := openFormat(ctx, head[:n], path, lf, multiFile{lf, pathFile(path)}, opts)
	return src, format, nil, err
}

// multiFile is a local file read by offset (rf) or by path (sf).
type multiFile struct {
	rf *localFile
	sf pathFile
}

func (m multiFile) open(ctx context.Context) (io.ReadCloser, error) { return m.sf.open(ctx) }
func (m multiFile) close() error                                    { return m.rf.Close() }

// openFormat opens the input whose first bytes are head, as rf (read by
// offset) or sf (read front to back): both are the same input, and
// whichever the format does not use is closed. name gives the extension.
func openFormat(ctx context.Context, head []byte, name string, rf randomFile, sf seqFile, opts Options) (source, Format, error) {
	isCSV := strings.EqualFold(filepath.Ext(name), ".csv")
	switch {
	case len(head) == 0:
		sf.close()
		return nil, 0, fmt.Errorf("empty file: %w", ErrFormat)
	case bytes.HasPrefix(head, arrowMagic):
		src, err := openIPCFile(rf, opts)
		return src, FormatIPCFile, err
	case bytes.HasPrefix(head, parquetMagic):
		src, err := openParquet(rf, opts)
		return src, FormatParquet, err
	case bytes.HasPrefix(head, npyMagic):
		src, err := openNpy(rf, opts)
		return src, FormatNpy, err
	case isCSV:
		src, err := openCSV(ctx, sf, opts)
		return src, FormatCSV, err
	case looksLikeStream(head, opts):
		src, err := openStreamFile(ctx, sf, opts, bytes.HasPrefix(head, continuation))
		return src, FormatIPCStream, err
	}
	sf.close()
	return nil, 0, ErrFormat
}

// openPipe opens an input that can be read only once. closer, if not nil,
// is closed with the source.
func openPipe(ctx context.Context, r *bufio.Reader, closer io.Closer, opts Options) (source, Format, error) {
	closeNow := func() {
		if closer != nil {
			closer.Close()
		}
	}
	head, err := r.Peek(magicLen)
	if err != nil && !errors.Is(err, io.EOF) {
		closeNow()
		return nil, 0, err
	}
	switch {
	case len(head) == 0:
		closeNow()
		return nil, 0, fmt.Errorf("empty input: %w", ErrFormat)
	case bytes.HasPrefix(head, arrowMagic):
		// An IPC file is its magic, padded to 8 bytes, then the IPC
		// stream format, then a footer: read it as a stream.
		if _, err := r.Discard(magicLen); err != nil {
			closeNow()
			return nil, 0, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		src, err := openStreamOnce(ctx, r, closer, opts, true)
		return src, FormatIPCFile, err
	case bytes.HasPrefix(head, parquetMagic):
		closeNow()
		return nil, 0, fmt.Errorf("parquet needs random access, it cannot be read from a pipe: %w", ErrUnsupported)
	case bytes.HasPrefix(head, npyMagic):
		closeNow()
		return nil, 0, fmt.Errorf(".npy is read by offset, it cannot be read from a pipe: %w", ErrUnsupported)
	case looksLikeStream(head, opts):
		src, err := openStreamOnce(ctx, r, closer, opts, bytes.HasPrefix(head, continuation))
		return src, FormatIPCStream, err
	}
	closeNow()
	return nil, 0, fmt.Errorf("%w (csv is recognised by its .csv extension, so it cannot come from a pipe)", ErrFormat)
}

// looksLikeStream reports whether head can start an Arrow IPC stream: the
// continuation marker, or (legacy format before Arrow 0.15) a positive
// little-endian int32 metadata length within the limit.
func looksLikeStream(head []byte, opts Options) bool {
	if len(head) < 4 {
		return false
	}
	if bytes.HasPrefix(head, continuation) {
		return true
	}
	n := int32(binary.LittleEndian.Uint32(head))
	return n >= 8 && int64(n) <= opts.MaxMetadataSize
}
