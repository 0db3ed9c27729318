package arrowio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// parquetFile is a Parquet file read through pqarrow, BatchRows rows at a
// time, row group after row group. Column chunks are read through a
// buffered stream of parquetBufferSize bytes, page by page: what is held is
// the pages being decoded and the current batch, never a whole row group
// (a writer's default row group holds the whole file) nor the whole file.
// The arrays handed out are allocated from Options.Alloc; the decoder's
// scratch buffers (pooled by parquet/file and freed by finalizers) come from
// a Go allocator, so that they are not charged to Options.Alloc. Some
// decoder buffers do come from Options.Alloc, and arrow-go v18.8.0 never
// frees one of them (the bit widths of its DELTA_BINARY_PACKED decoder):
// close frees what is left (see sweepAllocator).
//
// Before pqarrow reads a row group, the page headers of its column chunks
// are checked (see checkColumnChunk), once per row group and file, and no
// page may claim more compressed bytes than the file has.
type parquetFile struct {
	in      parquet.ReaderAtSeeker
	closer  io.Closer // closed with the source; may be nil
	size    int64
	f       *file.Reader
	r       *pqarrow.FileReader
	sch     *arrow.Schema
	mem     *sweepAllocator
	checked []bool // row group g's page headers were checked
}

// parquetBufferSize is the read buffer of each column chunk.
const parquetBufferSize = 1 << 20

// openParquet takes ownership of in.
func openParquet(in randomFile, opts Options) (source, error) {
	s, err := newParquet(sectionReader(in), opts)
	if err != nil {
		in.Close()
		return nil, err
	}
	s.closer = in
	return s, nil
}

// newParquet reads the footer of the Parquet file in. The caller closes
// in, or sets the returned source's closer.
func newParquet(in parquet.ReaderAtSeeker, opts Options) (*parquetFile, error) {
	size, err := in.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, err
	}
	if err := checkFooter(in, size); err != nil {
		return nil, err
	}
	props := parquet.NewReaderProperties(memory.NewGoAllocator())
	props.BufferedStreamEnabled = true
	props.BufferSize = parquetBufferSize
	// A page lies in the file: a corrupt header claiming more does not
	// get a buffer of that size.
	props.MaxCompressedPageSize = max(1, min(parquet.DefaultMaxCompressedPageSize, size))
	pf, err := file.NewParquetReader(in, file.WithReadProps(props))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	mem := &sweepAllocator{mem: opts.Alloc, live: make(map[*byte][]byte)}
	r, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: int64(opts.BatchRows)}, mem)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	sch, err := r.Schema()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return &parquetFile{in: in, size: size, f: pf, r: r, sch: sch, mem: mem, checked: make([]bool, pf.NumRowGroups())}, nil
}

func (s *parquetFile) schema() *arrow.Schema { return s.sch }

func (s *parquetFile) newReader(ctx context.Context) (array.RecordReader, error) {
	r, _, err := s.newReaderAt(ctx, 0)
	return r, err
}

// newReaderAt starts at the row group that holds row.
func (s *parquetFile) newReaderAt(ctx context.Context, row int64) (array.RecordReader, int64, error) {
	var groups []int
	first := int64(0)
	for g := range s.f.NumRowGroups() {
		n := s.f.MetaData().RowGroup(g).NumRows()
		if first+n <= row && groups == nil {
			first += n
			continue
		}
		groups = append(groups, g)
	}
	if len(groups) == 0 || s.sch.NumFields() == 0 {
		return emptyReader{s.sch}, first, nil
	}
	for _, g := range groups {
		if err := s.checkRowGroup(g); err != nil {
			return nil, 0, fmt.Errorf("row group %d: %w", g, err)
		}
	}
	// Reading is synchronous (Parallel is false): the caller checks for
	// cancellation between batches.
	r, err := s.r.GetRecordReader(ctx, nil, groups)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return r, first, nil
}

// checkRowGroup checks the page headers of the column chunks of row group
// g (see checkColumnChunk), unless that was done.
func (s *parquetFile) checkRowGroup(g int) error {
	if s.checked[g] {
		return nil
	}
	md := s.f.MetaData()
	rg := md.RowGroup(g)
	pad := md.WriterVersion().LessThan(metadata.Parquet816FixedVersion)
	for c := range min(rg.NumColumns(), md.Schema.NumColumns()) {
		col, err := rg.ColumnChunk(c)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		if col.CryptoMetadata() != nil {
			continue // encrypted: arrow-go refuses it without keys
		}
		// The bytes arrow-go reads the chunk's pages from (see
		// file.RowGroupReader.GetColumnPageReader), with the padding it
		// adds for files of old parquet-mr writers.
		start := col.DataPageOffset()
		if col.HasDictionaryPage() && col.DictionaryPageOffset() > 0 && start > col.DictionaryPageOffset() {
			start = col.DictionaryPageOffset()
		}
		length := col.TotalCompressedSize()
		if start < 0 || start >= s.size || length < 0 {
			continue // arrow-go refuses it
		}
		if pad {
			length += parquetChunkPadding
		}
		leaf := md.Schema.Column(c)
		cc := columnChunk{
			start:     start,
			end:       start + min(length, s.size-start),
			numValues: col.NumValues(),
			codec:     col.Compression(),
			valueBits: valueBits(leaf.PhysicalType(), leaf.TypeLength()),
		}
		if err := checkColumnChunk(s.in, cc); err != nil {
			return fmt.Errorf("column %d: %w", c, err)
		}
	}
	s.checked[g] = true
	return nil
}

// parquetChunkPadding is the padding arrow-go adds to column chunks of
// files written by parquet-mr 1.2.8 and older (PARQUET-816). (It adds at
// most what is left of the file; so does checkRowGroup.)
const parquetChunkPadding = 100

func (s *parquetFile) close() error {
	s.mem.sweep()
	err := s.f.Close()
	if s.closer != nil {
		err = errors.Join(err, s.closer.Close())
	}
	return err
}

// sweepAllocator allocates from mem and keeps the buffers not yet freed,
// so that sweep can free those arrow-go forgets. It is safe for concurrent
// use.
type sweepAllocator struct {
	mem  memory.Allocator
	mu   sync.Mutex
	live map[*byte][]byte // by first byte; empty buffers are not kept
}

func (a *sweepAllocator) Allocate(size int) []byte {
	b := a.mem.Allocate(size)
	a.track(nil, b)
	return b
}

func (a *sweepAllocator) Reallocate(size int, b []byte) []byte {
	nb := a.mem.Reallocate(size, b)
	a.track(b, nb)
	return nb
}

func (a *sweepAllocator) Free(b []byte) {
	a.track(b, nil)
	a.mem.Free(b)
}

// track replaces buffer old (if any) with buffer cur (if any).
func (a *sweepAllocator) track(old, cur []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(old) > 0 {
		delete(a.live, &old[0])
	}
	if len(cur) > 0 {
		a.live[&cur[0]] = cur
	}
}

// sweep frees every buffer not yet freed. Every batch must have been
// released: what is left belongs to arrow-go's dropped decoders (or to a
// reader that panicked on a corrupt page, see checkedReader).
func (a *sweepAllocator) sweep() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for p, b := range a.live {
		a.mem.Free(b)
		delete(a.live, p)
	}
}

// emptyReader is a reader without batches.
type emptyReader struct{ sch *arrow.Schema }

func (emptyReader) Retain()                        {}
func (emptyReader) Release()                       {}
func (r emptyReader) Schema() *arrow.Schema        { return r.sch }
func (emptyReader) Next() bool                     { return false }
func (emptyReader) RecordBatch() arrow.RecordBatch { return nil }
func (emptyReader) Record() arrow.RecordBatch      { return nil }
func (emptyReader) Err() error                     { return nil }
