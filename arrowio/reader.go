package arrowio

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// checkedReader wraps the reader of one format: it validates every batch,
// turns a panic of arrow-go on corrupt data into an error, and names the
// file and the batch in errors.
type checkedReader struct {
	refs  atomic.Int64
	name  string
	r     array.RecordReader
	rec   arrow.RecordBatch // current batch, validated; owned by r
	batch int               // index of the next batch
	err   error
	atEnd func() error // optional: checks the file once the last batch is read
	// changed, optional, tells whether the file changed since it was
	// opened (an error wrapping ErrChanged): a batch that cannot be read
	// from a file that changed is reported as such, not as corrupt.
	changed func() error
}

func newCheckedReader(name string, r array.RecordReader) *checkedReader {
	c := &checkedReader{name: name, r: r}
	c.refs.Add(1)
	return c
}

func (c *checkedReader) Retain() { c.refs.Add(1) }

func (c *checkedReader) Release() {
	if c.refs.Add(-1) == 0 {
		c.rec = nil
		if c.r != nil {
			c.r.Release()
			c.r = nil
		}
	}
}

func (c *checkedReader) Schema() *arrow.Schema { return c.r.Schema() }

func (c *checkedReader) RecordBatch() arrow.RecordBatch { return c.rec }

// Record returns the current batch.
//
// Deprecated: Use [checkedReader.RecordBatch] instead.
func (c *checkedReader) Record() arrow.RecordBatch { return c.rec }

func (c *checkedReader) Err() error { return c.err }

// Next advances to the next batch. It recovers a panic raised by arrow-go on
// corrupt data and reports it through Err (see Open).
func (c *checkedReader) Next() (ok bool) {
	c.rec = nil
	if c.err != nil || c.r == nil {
		return false
	}
	defer func() {
		if p := recover(); p != nil {
			c.rec = nil
			c.err = c.wrap(fmt.Errorf("%v", p))
			ok = false
		}
	}()
	if !c.r.Next() {
		if err := c.r.Err(); err != nil && err != io.EOF {
			c.err = c.wrap(err)
		} else if c.atEnd != nil {
			c.err = c.atEnd()
		}
		return false
	}
	rec := c.r.RecordBatch()
	if err := validateBatch(c.r.Schema(), rec); err != nil {
		c.err = c.wrap(err)
		return false
	}
	c.rec = rec
	c.batch++
	return true
}

func (c *checkedReader) wrap(err error) error {
	if !errors.Is(err, ErrChanged) && c.changed != nil {
		if cerr := c.changed(); cerr != nil {
			return fmt.Errorf("%s: batch %d: %w (reading it: %v)", c.name, c.batch, cerr, err)
		}
	}
	return fmt.Errorf("%s: batch %d: %w", c.name, c.batch, corrupt(err))
}

// validateBatch checks that rec has the schema's columns and that each is
// structurally sound, so that indexing it cannot go out of bounds.
func validateBatch(schema *arrow.Schema, rec arrow.RecordBatch) error {
	if rec == nil {
		return fmt.Errorf("nil record batch")
	}
	if !rec.Schema().Equal(schema) {
		return fmt.Errorf("batch schema differs from the file schema")
	}
	if int(rec.NumCols()) != schema.NumFields() {
		return fmt.Errorf("batch has %d columns, schema %d", rec.NumCols(), schema.NumFields())
	}
	n := rec.NumRows()
	if n < 0 {
		return fmt.Errorf("negative row count %d", n)
	}
	for i, col := range rec.Columns() {
		if int64(col.Len()) != n {
			return fmt.Errorf("column %q has %d rows, batch %d", schema.Field(i).Name, col.Len(), n)
		}
		if err := array.ValidateFull(col); err != nil {
			return fmt.Errorf("column %q: %w", schema.Field(i).Name, err)
		}
	}
	return nil
}
