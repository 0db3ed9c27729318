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
// time: only the pages of the current row group are held, never the whole
// file. The arrays handed out are allocated from Options.Alloc; the
// decoder's scratch buffers (pooled by parquet/file and freed by finalizers)
// come from a Go allocator, so that they are not charged to Options.Alloc.
type parquetFile struct {
	f   *file.Reader
	r   *pqarrow.FileReader
	sch *arrow.Schema
}

// openParquet takes ownership of f.
func openParquet(f *os.File, opts Options) (source, error) {
	props := parquet.NewReaderProperties(memory.NewGoAllocator())
	pf, err := file.NewParquetReader(f, file.WithReadProps(props))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	r, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: int64(opts.BatchRows)}, opts.Alloc)
	if err != nil {
		pf.Close()
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	sch, err := r.Schema()
	if err != nil {
		pf.Close()
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return &parquetFile{f: pf, r: r, sch: sch}, nil
}

func (s *parquetFile) schema() *arrow.Schema { return s.sch }

func (s *parquetFile) newReader(ctx context.Context) (array.RecordReader, error) {
	if s.f.NumRowGroups() == 0 || s.sch.NumFields() == 0 {
		return emptyReader{s.sch}, nil
	}
	// Reading is synchronous (Parallel is false): the caller checks for
	// cancellation between batches.
	r, err := s.r.GetRecordReader(ctx, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return r, nil
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
