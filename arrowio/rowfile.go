package arrowio

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strings"
)

// RowFile is a temporary NumPy .npy file of n rows of d float64 values
// (shape (n, d), little endian), written row by row at any row index
// (WriteRows), then read like any input (Source). Package stream writes
// the rows of a file in the order of another (sample-ID alignment) into
// one, so that later passes read them front to back.
//
// The file is removed from its directory as soon as it is created where
// the system allows it (Unix: the descriptor keeps the data, freed when
// the process ends, however it ends); elsewhere when its Source, or the
// RowFile, is closed. A RowFile is not safe for concurrent use; its zero
// value is not usable.
type RowFile struct {
	f    *os.File
	path string // to remove at close; "" if removed
	n    int64
	d    int
	off  int64 // offset of row 0
	buf  []byte
}

// CreateRowFile creates the file of n rows of d values in dir
// (os.TempDir() if empty). Rows not written read as zeros. Errors wrap
// ErrSpill.
func CreateRowFile(dir string, n int64, d int) (*RowFile, error) {
	if n < 0 || d < 1 {
		panic("arrowio: CreateRowFile: n < 0 or d < 1")
	}
	if dir == "" {
		dir = os.TempDir()
	}
	if _, ok := mulInt64(n, int64(d)*8); !ok {
		return nil, fmt.Errorf("%w: %d rows of %d values", ErrSpill, n, d)
	}
	f, err := os.CreateTemp(dir, "dcor-stream-rows-*.npy")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSpill, err)
	}
	w := &RowFile{f: f, path: f.Name(), n: n, d: d}
	if os.Remove(w.path) == nil {
		w.path = ""
	}
	hdr := npyHeaderBytes(fmt.Sprintf("{'descr': '<f8', 'fortran_order': False, 'shape': (%d, %d), }", n, d))
	w.off = int64(len(hdr))
	if _, err := f.WriteAt(hdr, 0); err != nil {
		w.Close()
		return nil, fmt.Errorf("%w: %s: %w", ErrSpill, f.Name(), err)
	}
	// Sized at once (sparse where the system allows), so that rows can be
	// written in any order.
	if err := f.Truncate(w.off + n*int64(d)*8); err != nil {
		w.Close()
		return nil, fmt.Errorf("%w: %s: %w", ErrSpill, f.Name(), err)
	}
	return w, nil
}

// npyHeaderBytes is the .npy 1.0 preamble and header of dict, padded with
// spaces to a multiple of 64 bytes, as numpy writes it.
func npyHeaderBytes(dict string) []byte {
	const pre = 10 // magic, version, header length
	total := (pre + len(dict) + 1 + 63) / 64 * 64
	b := make([]byte, pre, total)
	copy(b, npyMagic)
	b[6], b[7] = 1, 0
	binary.LittleEndian.PutUint16(b[8:], uint16(total-pre))
	b = append(b, dict...)
	b = append(b, strings.Repeat(" ", total-pre-len(dict)-1)...)
	return append(b, '\n')
}

// WriteRows writes len(vals)/d consecutive rows from row on: vals holds
// them row-major. It panics if len(vals) is not a multiple of d or the
// rows are outside [0, n). Errors wrap ErrSpill.
func (w *RowFile) WriteRows(row int64, vals []float64) error {
	if len(vals)%w.d != 0 || row < 0 || row+int64(len(vals)/w.d) > w.n {
		panic("arrowio: RowFile.WriteRows: rows out of range")
	}
	w.buf = w.buf[:0]
	for _, v := range vals {
		w.buf = binary.LittleEndian.AppendUint64(w.buf, math.Float64bits(v))
	}
	if _, err := w.f.WriteAt(w.buf, w.off+row*int64(w.d)*8); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrSpill, w.f.Name(), err)
	}
	return nil
}

// Source returns the file as a Source named name (for errors), once every
// row is written. The Source owns the file: closing it closes (and
// removes) the file; the RowFile must not be used after, even on error.
func (w *RowFile) Source(name string, opts Options) (*Source, error) {
	opts = opts.withDefaults()
	lf := &rowFileReader{localFile: newLocalFile(w.f, w.off+w.n*int64(w.d)*8), path: w.path}
	w.f = nil
	src, err := openNpy(lf, opts) // closes lf on error
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &Source{name: name, path: lf.localFile.f.Name(), format: FormatNpy, src: src}, nil
}

// Close closes and removes the file, unless Source took it.
func (w *RowFile) Close() error {
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	if w.path != "" {
		os.Remove(w.path)
	}
	return err
}

// rowFileReader reads a RowFile; Close removes it if it was not removed
// when created.
type rowFileReader struct {
	*localFile
	path string
}

func (r *rowFileReader) Close() error {
	err := r.localFile.Close()
	if r.path != "" {
		os.Remove(r.path)
	}
	return err
}
