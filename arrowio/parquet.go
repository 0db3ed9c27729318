package arrowio

import (
	"context"
	"fmt"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// parquetFile is a Parquet file read through pqarrow, BatchRows rows at a
// time, row group after row group. Column chunks are read through a
// buffered stream of parquetBufferSize bytes, page by page: what is held is
// the pages being decoded and the current batch, never a whole row group
// (a writer's default row group holds the whole file) nor the whole file.
// The arrays handed out are allocated from Options.Alloc; the decoder's
// scratch buffers (pooled by parquet/file and freed by finalizers) come from
// a Go allocator, so that they are not charged to Options.Alloc.
type parquetFile struct {
	f   *file.Reader
	r   *pqarrow.FileReader
	sch *arrow.Schema
}

// parquetBufferSize is the read buffer of each column chunk.
const parquetBufferSize = 1 << 20

// openParquet takes ownership of f.
func openParquet(f *os.File, opts Options) (source, error) {
	s, err := newParquet(f, opts)
	if err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

// newParquet reads the footer of the Parquet file r. On success the
// returned source closes in if it is an io.Closer.
func newParquet(in parquet.ReaderAtSeeker, opts Options) (*parquetFile, error) {
	props := parquet.NewReaderProperties(memory.NewGoAllocator())
	props.BufferedStreamEnabled = true
	props.BufferSize = parquetBufferSize
	pf, err := file.NewParquetReader(in, file.WithReadProps(props))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	r, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: int64(opts.BatchRows)}, opts.Alloc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	sch, err := r.Schema()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return &parquetFile{f: pf, r: r, sch: sch}, nil
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
	// Reading is synchronous (Parallel is false): the caller checks for
	// cancellation between batches.
	r, err := s.r.GetRecordReader(ctx, nil, groups)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return r, first, nil
}

func (s *parquetFile) close() error { return s.f.Close() }

// emptyReader is a reader without batches.
type emptyReader struct{ sch *arrow.Schema }

func (emptyReader) Retain()                        {}
func (emptyReader) Release()                       {}
func (r emptyReader) Schema() *arrow.Schema        { return r.sch }
func (emptyReader) Next() bool                     { return false }
func (emptyReader) RecordBatch() arrow.RecordBatch { return nil }
func (emptyReader) Record() arrow.RecordBatch      { return nil }
func (emptyReader) Err() error                     { return nil }
