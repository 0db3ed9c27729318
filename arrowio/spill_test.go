package arrowio

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// streamBytes returns an Arrow IPC stream (or file, with file true) of one
// float64 column "x" in batches of the given sizes; row i holds i.
func streamBytes(t *testing.T, file bool, batches ...int) []byte {
	t.Helper()
	mem := memory.NewGoAllocator()
	sch := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Float64}}, nil)
	var buf bytes.Buffer
	type writer interface {
		Write(arrow.RecordBatch) error
		Close() error
	}
	var w writer = ipc.NewWriter(&buf, ipc.WithSchema(sch), ipc.WithAllocator(mem))
	if file {
		fw, err := ipc.NewFileWriter(&buf, ipc.WithSchema(sch), ipc.WithAllocator(mem))
		if err != nil {
			t.Fatal(err)
		}
		w = fw
	}
	row := 0
	for _, n := range batches {
		b := array.NewFloat64Builder(mem)
		for range n {
			b.Append(float64(row))
			row++
		}
		a := b.NewArray()
		rec := array.NewRecordBatch(sch, []arrow.Array{a}, int64(n))
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
		a.Release()
		b.Release()
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readX reads column x of every batch of a new reader of src, stopping
// after stop batches if stop > 0.
func readX(t *testing.T, src *Source, stop int) ([]float64, error) {
	t.Helper()
	rr, err := src.NewRecordReader(t.Context())
	if err != nil {
		return nil, err
	}
	defer rr.Release()
	var x []float64
	for b := 0; rr.Next(); b++ {
		x = append(x, rr.RecordBatch().Column(0).(*array.Float64).Float64Values()...)
		if b+1 == stop {
			return x, nil
		}
	}
	return x, rr.Err()
}

func checkRows(t *testing.T, x []float64, n int) {
	t.Helper()
	if len(x) != n {
		t.Fatalf("read %d rows, want %d", len(x), n)
	}
	for i, v := range x {
		if v != float64(i) {
			t.Fatalf("row %d = %v, want %d", i, v, i)
		}
	}
}

// openIn returns the files under dir that this process holds open, from
// /proc/self/fd (Linux); ok is false where that is not available.
func openIn(t *testing.T, dir string) (files []string, ok bool) {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, false
	}
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, dir+string(filepath.Separator)) {
			files = append(files, target)
		}
	}
	return files, true
}

// checkGone fails if a spill file is left in dir, or left open.
func checkGone(t *testing.T, dir string) {
	t.Helper()
	if ents, err := os.ReadDir(dir); err != nil || len(ents) != 0 {
		t.Errorf("temporary directory holds %v (err %v), want nothing", ents, err)
	}
	if open, ok := openIn(t, dir); ok && len(open) != 0 {
		t.Errorf("files still open: %q", open)
	}
}

func TestSpill(t *testing.T) {
	for _, tt := range []struct {
		name string
		file bool
		stop int // batches read by the first reader before releasing it; 0: all
	}{
		{"stream", false, 0},
		{"stream, first reader stops early", false, 1},
		{"file format from a pipe", true, 0},
		{"file format, first reader stops early", true, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			data := streamBytes(t, tt.file, 3, 0, 5, 2)
			src, err := Open(t.Context(), Stdin, Options{Stdin: bytes.NewReader(data), Spill: true, TempDir: dir})
			if err != nil {
				t.Fatal(err)
			}
			if !src.Rereadable() {
				t.Error("Rereadable = false with Spill")
			}
			if runtime.GOOS != "windows" {
				if ents, _ := os.ReadDir(dir); len(ents) != 0 {
					t.Errorf("spill file %v visible in its directory, want it unlinked at once", ents)
				}
				if open, ok := openIn(t, dir); ok && len(open) != 1 {
					t.Errorf("open files in the temporary directory: %q, want the spill file", open)
				}
			}
			x, err := readX(t, src, tt.stop)
			if err != nil {
				t.Fatal(err)
			}
			if tt.stop == 0 {
				checkRows(t, x, 10)
			}
			for pass := 1; pass < 3; pass++ {
				x, err := readX(t, src, 0)
				if err != nil {
					t.Fatalf("pass %d: %v", pass, err)
				}
				checkRows(t, x, 10)
			}
			if err := src.Close(); err != nil {
				t.Fatal(err)
			}
			checkGone(t, dir)
		})
	}
}

// TestNoSpill: without Spill standard input is read once.
func TestNoSpill(t *testing.T) {
	src, err := Open(t.Context(), Stdin, Options{Stdin: bytes.NewReader(streamBytes(t, false, 2))})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if src.Rereadable() {
		t.Error("Rereadable = true without Spill")
	}
	if _, err := readX(t, src, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := readX(t, src, 0); !errors.Is(err, ErrReadOnce) {
		t.Errorf("second reader: err = %v, want ErrReadOnce", err)
	}
}

// fullFile is a temporary file on a disk that fills after limit bytes.
type fullFile struct {
	*os.File
	limit int
}

func (f *fullFile) Write(p []byte) (int, error) {
	if len(p) > f.limit {
		n, _ := f.File.Write(p[:f.limit])
		f.limit = 0
		return n, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
	}
	f.limit -= len(p)
	return f.File.Write(p)
}

func TestSpillDiskFull(t *testing.T) {
	small := streamBytes(t, false, 3, 5)
	big := streamBytes(t, false, 100_000, 100_000, 100_000) // 2.4 MB: the 1 MiB buffer overflows while reading
	for _, tt := range []struct {
		name  string
		data  []byte
		limit int
		when  string // "open", "first", "second": where the error shows
	}{
		{"small, full at once", small, 0, "second"},
		{"small, full near the end", small, len(small) - 10, "second"},
		{"big, full at once", big, 0, "first"},
		{"big, full midway", big, len(big) / 2, "first"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{Stdin: bytes.NewReader(tt.data), Spill: true, TempDir: dir}
			opts.createTemp = func(dir string) (tempFile, error) {
				f, err := os.CreateTemp(dir, "full-*")
				return &fullFile{File: f, limit: tt.limit}, err
			}
			src, err := Open(t.Context(), Stdin, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			_, err = readX(t, src, 0)
			if tt.when == "second" {
				if err != nil {
					t.Fatalf("first reader: %v", err)
				}
				_, err = readX(t, src, 0)
			}
			if !errors.Is(err, ErrSpill) || !errors.Is(err, syscall.ENOSPC) || !strings.HasPrefix(err.Error(), "stdin: ") {
				t.Fatalf("%s reader: err = %v, want ErrSpill and ENOSPC, naming stdin", tt.when, err)
			}
			// Removed at once, before Close.
			checkGone(t, dir)
			if _, err := readX(t, src, 0); !errors.Is(err, ErrSpill) {
				t.Errorf("reader after the failure: err = %v, want ErrSpill", err)
			}
		})
	}
}

func TestSpillCancel(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	src, err := Open(ctx, Stdin, Options{Stdin: bytes.NewReader(streamBytes(t, false, 3, 4)), Spill: true, TempDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if open, ok := openIn(t, dir); ok && len(open) != 1 {
		t.Fatalf("open files in the temporary directory: %q, want the spill file", open)
	}
	cancel()
	// AfterFunc runs on its own goroutine: the removal happens soon, not
	// at once.
	for i := 0; ; i++ {
		open, _ := openIn(t, dir)
		if len(open) == 0 {
			break
		}
		if i == 1000 {
			t.Fatalf("spill file still open after cancellation: %q", open)
		}
		runtime.Gosched()
		syscall.Nanosleep(&syscall.Timespec{Nsec: 1e6}, nil)
	}
	checkGone(t, dir)
	if _, err := readX(t, src, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("reader after cancellation: err = %v, want context.Canceled", err)
	}
}
