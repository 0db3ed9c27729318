package arrowio

// rowCounter is a source whose format records its number of rows before
// any row is read.
type rowCounter interface{ rows() int64 }

// Rows returns the number of rows of the source when its format records
// it up front (.npy: the shape; Parquet: the footer), and false otherwise
// (Arrow IPC, CSV, standard input), without reading any row. Readers of
// the whole input use it to size their buffers once.
func (s *Source) Rows() (int64, bool) {
	if c, ok := s.src.(rowCounter); ok {
		return c.rows(), true
	}
	return 0, false
}

func (s *npyFile) rows() int64 { return s.n }

func (s *parquetFile) rows() int64 { return s.f.NumRows() }
