package arrowio

import "github.com/apache/arrow-go/v18/arrow"

// rowCounter is a source whose format records its number of rows before
// any row is read; ok is false when it cannot tell cheaply.
type rowCounter interface{ rows() (n int64, ok bool) }

// Rows returns the number of rows of the source when its format records
// it up front (.npy: the shape; Parquet: the footer; a local Arrow IPC
// file: the metadata of its batches, one small read each) and the file
// could hold them, and false otherwise (Arrow IPC streams and objects,
// CSV, standard input, a count the file's size cannot back), without
// reading any row. Readers of the whole input use it to size their
// buffers once: a false count would make them allocate for rows that are
// not there, so a count is only given when the bytes of the file can hold
// that many rows of its fixed-width columns (16 times over for Parquet,
// whose encodings compress; a Parquet file that compresses more is read
// as one of unknown length).
func (s *Source) Rows() (int64, bool) {
	if c, ok := s.src.(rowCounter); ok {
		return c.rows()
	}
	return 0, false
}

// plausible reports whether size bytes, expanded factor times, can hold n
// rows of the fixed-width columns of sch (at least one bit per row).
func plausible(n, size, factor int64, sch *arrow.Schema) bool {
	var bits int64
	for _, f := range sch.Fields() {
		bits += minBits(f.Type)
	}
	return n >= 0 && bits > 0 && size >= 0 && n <= size*factor*8/bits
}

// minBits is the least number of bits a value of type t takes in a batch:
// its width for a fixed-width type, 0 for the others.
func minBits(t arrow.DataType) int64 {
	switch t := t.(type) {
	case *arrow.FixedSizeListType:
		return int64(t.Len()) * minBits(t.Elem())
	case arrow.FixedWidthDataType:
		return int64(t.BitWidth())
	}
	return 0
}

// rows of a .npy file: Open checked the shape against the file's bytes.
func (s *npyFile) rows() (int64, bool) { return s.n, true }

func (s *parquetFile) rows() (int64, bool) {
	n := s.f.NumRows()
	return n, plausible(n, s.size, 16, s.sch)
}

// rows reads the metadata of every batch of a local file (an object would
// take a request per batch) and sums their lengths. A batch whose
// metadata does not verify, or is compressed, makes the count unknown (the
// pass that reads a bad batch reports the error).
func (s *ipcFile) rows() (int64, bool) {
	if _, local := s.in.(*localFile); !local || s.nrows < 0 {
		return 0, false
	}
	if s.nrows > 0 {
		return s.nrows, true
	}
	var n int64
	var meta []byte
	for _, b := range s.recs {
		if b.check(s.in.Size()) != nil {
			s.nrows = -1
			return 0, false
		}
		meta = append(meta[:0], make([]byte, b.metaLen)...)
		if _, err := s.in.ReadAt(meta, b.offset); err != nil {
			s.nrows = -1
			return 0, false
		}
		m, err := b.verifyMeta(meta)
		if err != nil || m.header != fbHeaderRecordBatch || m.compressed || !plausible(m.length, b.bodyLen, 1, s.r.Schema()) {
			s.nrows = -1
			return 0, false
		}
		n += m.length // each at most 8·bodyLen: no overflow
	}
	s.nrows = n
	return n, true
}
