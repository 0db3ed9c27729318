package arrowio_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/dcor-stream/dcor-stream/arrowio"
	_ "github.com/dcor-stream/dcor-stream/objstore" // s3://
)

// fakeS3 is an S3-compatible server (gofakes3) on 127.0.0.1, with the
// environment of the AWS SDK pointing at it (AWS_ENDPOINT_URL_S3, so
// path-style addressing) and counting the requests it serves.
type fakeS3 struct {
	backend *s3mem.Backend
	bucket  string

	mu       sync.Mutex
	idle     *sync.Cond     // signalled when a request ends
	inflight int            // requests being served
	requests map[string]int // by method
	bytes    int64          // of the response bodies
}

func newFakeS3(t *testing.T) *fakeS3 {
	t.Helper()
	s := &fakeS3{backend: s3mem.New(), bucket: "acts", requests: map[string]int{}}
	s.idle = sync.NewCond(&s.mu)
	h := gofakes3.New(s.backend).Server()
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.inflight++
		s.mu.Unlock()
		cw := &countingWriter{ResponseWriter: w}
		h.ServeHTTP(cw, r)
		s.mu.Lock()
		s.inflight--
		s.requests[r.Method]++
		s.bytes += cw.n
		s.idle.Broadcast()
		s.mu.Unlock()
	}))
	// gofakes3 logs a second WriteHeader when a client stops reading.
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.Start()
	t.Cleanup(ts.Close)
	if err := s.backend.CreateBucket(s.bucket); err != nil {
		t.Fatal(err)
	}
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":           "test",
		"AWS_SECRET_ACCESS_KEY":       "test",
		"AWS_SESSION_TOKEN":           "",
		"AWS_REGION":                  "us-east-1",
		"AWS_PROFILE":                 "",
		"AWS_ENDPOINT_URL":            "",
		"AWS_ENDPOINT_URL_S3":         ts.URL,
		"AWS_CONFIG_FILE":             none,
		"AWS_SHARED_CREDENTIALS_FILE": none,
		"AWS_EC2_METADATA_DISABLED":   "true",
	} {
		t.Setenv(k, v)
	}
	return s
}

type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

// put stores data as key and returns the object's URL.
func (s *fakeS3) put(t *testing.T, key string, data []byte) string {
	t.Helper()
	if _, err := s.backend.PutObject(s.bucket, key, map[string]string{}, bytes.NewReader(data), int64(len(data)), nil); err != nil {
		t.Fatal(err)
	}
	return "s3://" + s.bucket + "/" + key
}

// upload stores the local file path under its base name.
func (s *fakeS3) upload(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return s.put(t, filepath.Base(path), data)
}

// count returns the requests (by method) and response bytes since the
// last call, once the server has finished every request (a reader that
// stops early closes the response, and the server then stops writing).
func (s *fakeS3) count() (map[string]int, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.inflight > 0 {
		s.idle.Wait()
	}
	r, b := s.requests, s.bytes
	s.requests, s.bytes = map[string]int{}, 0
	return r, b
}

// readBits reads every batch of path (from row, with NewRecordReaderAt)
// and returns the bits of every value of every column, batch by batch,
// with the first row.
func readBits(t *testing.T, mem memory.Allocator, path string, row int64) (string, int64) {
	t.Helper()
	src, err := arrowio.Open(t.Context(), path, arrowio.Options{Alloc: mem, BatchRows: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	rr, first, err := src.NewRecordReaderAt(t.Context(), row)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	var b strings.Builder
	fmt.Fprintf(&b, "schema %s\n", stripMetadata(src.Schema()))
	for rr.Next() {
		rec := rr.RecordBatch()
		fmt.Fprintf(&b, "batch of %d rows\n", rec.NumRows())
		for _, col := range rec.Columns() {
			for _, v := range flatFloats(t, col) {
				fmt.Fprintf(&b, "%x ", math.Float64bits(v))
			}
			b.WriteString("\n")
		}
	}
	if err := rr.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String(), first
}

// TestObjectStore reads the same data from local files and from objects
// of an S3-compatible server, in every format, and compares the values
// bit by bit, in passes from the start and from a middle row.
func TestObjectStore(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	s3 := newFakeS3(t)
	dir := t.TempDir()
	fx := fixture{batches: []int{4, 0, 5, 3}}
	files := map[string]func(path string){
		"xy.arrow":   func(path string) { fx.writeIPC(t, mem, path, false) },
		"xy.arrows":  func(path string) { fx.writeIPC(t, mem, path, true) },
		"xy.parquet": func(path string) { fx.writeParquet(t, mem, path, 5) },
		"x.npy": func(path string) {
			if err := os.WriteFile(path, npyBytes(t, 1, "<f8", false, []int{12, 3}, npyValues("<f8", 12, 3), 0), 0o644); err != nil {
				t.Fatal(err)
			}
		},
		"xy.csv": func(path string) {
			if err := os.WriteFile(path, []byte("a,b\n0.5,-0\n1.5,-1\n2.5,-2\n3.5,-3\n4.5,-4\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, write := range files {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			write(path)
			url := s3.upload(t, path)
			for _, row := range []int64{0, 5} {
				want, wantFirst := readBits(t, mem, path, row)
				got, gotFirst := readBits(t, mem, url, row)
				if got != want || gotFirst != wantFirst {
					t.Errorf("from row %d: %s gives (first row %d)\n%s\nthe local file (first row %d)\n%s", row, url, gotFirst, got, wantFirst, want)
				}
			}
		})
	}
}

// TestObjectErrors: a missing object, or a missing bucket, is an error
// naming the URL; an object replaced between passes, or while a pass
// reads it, is an error wrapping ErrChanged.
func TestObjectErrors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	s3 := newFakeS3(t)
	// A missing object or bucket says which, in words of its own (not the
	// SDK's), and wraps os.ErrNotExist.
	for url, want := range map[string]string{
		"s3://acts/nope.arrow":  `s3://acts/nope.arrow: no such object "nope.arrow" in bucket "acts": `,
		"s3://nobucket/x.arrow": `s3://nobucket/x.arrow: no such bucket "nobucket": `,
	} {
		_, err := arrowio.Open(t.Context(), url, arrowio.Options{Alloc: mem})
		if err == nil || !strings.HasPrefix(err.Error(), want) || !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Open(%s): err = %v, want %q… wrapping os.ErrNotExist", url, err, want)
		}
	}
	// A store that cannot be reached is named by the URL requested, http
	// as given (the SDK's text said "https response error").
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String()
	ln.Close()
	url := "s3://acts/x.arrow?endpoint=" + down
	_, err = arrowio.Open(t.Context(), url, arrowio.Options{Alloc: mem})
	if want := url + ": cannot reach the object store: Head " + down + "/acts/x.arrow: "; err == nil || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "https") {
		t.Errorf("Open(%s), no server there: err = %v, want %q…, without https", url, err, want)
	}
	if _, err := arrowio.Open(t.Context(), "s3://acts", arrowio.Options{Alloc: mem}); err == nil || !strings.HasPrefix(err.Error(), "s3://acts: ") {
		t.Errorf("Open(s3://acts): err = %v, want an error naming it", err)
	}
	empty := s3.put(t, "empty.arrow", nil)
	if _, err := arrowio.Open(t.Context(), empty, arrowio.Options{Alloc: mem}); !errors.Is(err, arrowio.ErrFormat) || !strings.HasPrefix(err.Error(), empty+": ") {
		t.Errorf("Open(%s), an empty object: err = %v, want ErrFormat naming it", empty, err)
	}

	path := filepath.Join(t.TempDir(), "xy.arrow")
	// Batches of 80 KB: more than an object's read-ahead, so that each
	// is fetched when read.
	fixture{batches: []int{4000, 4000, 4000}}.writeIPC(t, mem, path, false)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, during := range []bool{false, true} {
		url := s3.put(t, "xy.arrow", data)
		src, err := arrowio.Open(t.Context(), url, arrowio.Options{Alloc: mem})
		if err != nil {
			t.Fatal(err)
		}
		rr, err := src.NewRecordReader(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if during && !rr.Next() {
			t.Fatalf("no first batch: %v", rr.Err())
		}
		s3.put(t, "xy.arrow", data[:len(data)/2])
		for rr.Next() {
		}
		err = rr.Err()
		rr.Release()
		if during && (!errors.Is(err, arrowio.ErrChanged) || !strings.HasPrefix(err.Error(), url+": batch 1: ")) {
			t.Errorf("object replaced during a pass: err = %v, want ErrChanged naming %s and batch 1", err, url)
		}
		if !during {
			if !errors.Is(err, arrowio.ErrChanged) {
				t.Errorf("object replaced before the first batch: err = %v, want ErrChanged", err)
			}
			if _, err := src.NewRecordReader(t.Context()); !errors.Is(err, arrowio.ErrChanged) || !strings.HasPrefix(err.Error(), url+": ") {
				t.Errorf("object replaced between passes: err = %v, want ErrChanged naming %s", err, url)
			}
		}
		src.Close()
	}
}

// flatFloats returns the values of a numeric column, or of a fixed-size
// list of numbers, as float64.
func flatFloats(t *testing.T, col arrow.Array) []float64 {
	t.Helper()
	var out []float64
	switch c := col.(type) {
	case *array.Float64:
		out = append(out, c.Float64Values()...)
	case *array.Float32:
		for _, v := range c.Float32Values() {
			out = append(out, float64(v))
		}
	case *array.Int32:
		for _, v := range c.Int32Values() {
			out = append(out, float64(v))
		}
	case *array.Int64: // CSV
		for _, v := range c.Int64Values() {
			out = append(out, float64(v))
		}
	case *array.FixedSizeList:
		w := int64(c.DataType().(*arrow.FixedSizeListType).Len())
		vals := array.NewSlice(c.ListValues(), int64(c.Offset())*w, int64(c.Offset()+c.Len())*w)
		defer vals.Release()
		out = flatFloats(t, vals)
	default:
		t.Fatalf("column of type %s", col.DataType())
	}
	return out
}

// TestObjectPassCost counts the requests and bytes of the server for
// Open and for each pass over objects of 16 batches of 80 KB (docs/
// object-stores.md quotes it): a pass over an IPC file is one GET per
// batch and a HEAD at its start and end, and fetches the batches' bytes
// only; later passes cost the same as the first.
func TestObjectPassCost(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	s3 := newFakeS3(t)
	dir := t.TempDir()
	batches := make([]int, 16)
	for i := range batches {
		batches[i] = 4000
	}
	fx := fixture{batches: batches}
	tests := []struct {
		name  string
		write func(path string)
		gets  int // per pass, if known
	}{
		{"xy.arrow", func(path string) { fx.writeIPC(t, mem, path, false) }, len(batches)},
		{"xy.parquet", func(path string) { fx.writeParquet(t, mem, path, 16000) }, -1},
		{"x.npy", func(path string) {
			// 64000 rows of 5 float64: 2.56 MB, batches of 4000 rows.
			if err := os.WriteFile(path, npyBytes(t, 1, "<f8", false, []int{64000, 5}, npyValues("<f8", 64000, 5), 0), 0o644); err != nil {
				t.Fatal(err)
			}
		}, 16},
		{"xy.arrows", func(path string) { fx.writeIPC(t, mem, path, true) }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name)
			tt.write(path)
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			url := s3.upload(t, path)
			s3.count()
			src, err := arrowio.Open(t.Context(), url, arrowio.Options{Alloc: mem, BatchRows: 4000})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			req, n := s3.count()
			t.Logf("%s of %d bytes: Open: %d HEAD, %d GET, %d bytes", tt.name, fi.Size(), req["HEAD"], req["GET"], n)
			for pass := range 2 {
				rr, err := src.NewRecordReader(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				for rr.Next() {
				}
				err = rr.Err()
				rr.Release()
				if err != nil {
					t.Fatal(err)
				}
				req, n := s3.count()
				t.Logf("%s: pass %d: %d HEAD, %d GET, %d bytes", tt.name, pass, req["HEAD"], req["GET"], n)
				if req["HEAD"] != 2 || (tt.gets >= 0 && req["GET"] != tt.gets) {
					t.Errorf("pass %d: %d HEAD and %d GET requests, want 2 and %d", pass, req["HEAD"], req["GET"], tt.gets)
				}
				// The first pass over Parquet also reads each page's
				// header (see checkColumnChunk), by 16 KiB.
				if lim := fi.Size() + fi.Size()/10; n > lim && (pass > 0 || n > 2*lim) {
					t.Errorf("pass %d fetched %d bytes of a %d-byte object", pass, n, fi.Size())
				}
			}
		})
	}
}
