package arrowio_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/dcor-stream/dcor-stream/arrowio"
)

// FuzzArrowIPCReader feeds arbitrary bytes to Open and the batch reader,
// as a file (IPC file read by offset, or IPC stream) and as standard input.
// Invariants: no panic (and no fatal out-of-memory: the size limits are
// small); an error wraps one of the package's sentinels and names the
// input; a successful read validates every batch, gives the same rows when
// the file is read again, and from standard input (an IPC stream), and
// leaks nothing. Inputs starting with the
// Parquet magic are skipped: their decoding is pqarrow's, not this
// target's.
//
// The seed corpus in testdata/fuzz/FuzzArrowIPCReader holds a small IPC
// file and stream, and damaged copies of them.
func FuzzArrowIPCReader(f *testing.F) {
	f.Add([]byte("ARROW1\x00\x00"))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if bytes.HasPrefix(data, []byte("PAR1")) {
			t.Skip("parquet")
		}
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		opts := arrowio.Options{Alloc: mem, MaxMetadataSize: 1 << 16, MaxBodySize: 1 << 20}

		path := filepath.Join(t.TempDir(), "in.arrow")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		rows, err := fuzzRead(t, path, opts, 2)
		checkFuzzErr(t, err, path)

		opts.Stdin = bytes.NewReader(data)
		stdinRows, stdinErr := fuzzRead(t, "-", opts, 1)
		checkFuzzErr(t, stdinErr, "stdin")
		// An IPC file read from a pipe is read as the stream it embeds,
		// ignoring the footer: a corrupt footer may list other batches.
		if err == nil && stdinErr == nil && rows != stdinRows && !bytes.HasPrefix(data, []byte("ARROW1")) {
			t.Errorf("read %d rows from the file, %d from stdin", rows, stdinRows)
		}
	})
}

func checkFuzzErr(t *testing.T, err error, name string) {
	t.Helper()
	if err == nil {
		return
	}
	if !errors.Is(err, arrowio.ErrCorrupt) && !errors.Is(err, arrowio.ErrFormat) && !errors.Is(err, arrowio.ErrUnsupported) {
		t.Errorf("error wraps no sentinel: %v", err)
	}
	if !strings.HasPrefix(err.Error(), name+": ") {
		t.Errorf("error does not start with the name %q: %v", name, err)
	}
}

// fuzzRead opens path and reads it passes times, checking that every pass
// reads the same number of rows, and that every batch is consistent.
func fuzzRead(t *testing.T, path string, opts arrowio.Options, passes int) (int64, error) {
	src, err := arrowio.Open(t.Context(), path, opts)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	// The count a reader sizes its buffers from, taken before any row is
	// read as they take it: if believed, it is the rows the passes read.
	counted, known := src.Rows()
	var first int64
	for pass := range passes {
		rr, err := src.NewRecordReader(t.Context())
		if err != nil {
			return 0, err
		}
		var rows int64
		for rr.Next() {
			rec := rr.RecordBatch()
			if !rec.Schema().Equal(src.Schema()) {
				t.Errorf("batch schema %v differs from source schema %v", rec.Schema(), src.Schema())
			}
			for _, col := range rec.Columns() {
				if int64(col.Len()) != rec.NumRows() {
					t.Errorf("column of %d rows in a batch of %d", col.Len(), rec.NumRows())
				}
			}
			rows += rec.NumRows()
		}
		err = rr.Err()
		rr.Release()
		if err != nil {
			return 0, err
		}
		if pass == 0 {
			first = rows
		} else if rows != first {
			t.Errorf("pass %d read %d rows, pass 0 %d", pass, rows, first)
		}
	}
	if known && counted != first {
		t.Errorf("Rows() = %d, the passes read %d", counted, first)
	}
	return first, nil
}
