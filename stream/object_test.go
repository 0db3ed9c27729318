package stream_test

import (
	"bytes"
	"io"
	"log"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	_ "github.com/dcor-stream/dcor-stream/objstore" // s3://
	"github.com/dcor-stream/dcor-stream/stream"
)

// serveS3 starts an S3-compatible server (gofakes3) on 127.0.0.1 holding
// the files of dir in bucket "acts", and points the AWS SDK's environment
// at it.
func serveS3(t *testing.T, dir string) {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket("acts"); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := backend.PutObject("acts", e.Name(), map[string]string{}, bytes.NewReader(data), int64(len(data)), nil); err != nil {
			t.Fatal(err)
		}
	}
	ts := httptest.NewUnstartedServer(gofakes3.New(backend).Server())
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // a client stopping early
	ts.Start()
	t.Cleanup(ts.Close)
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_SESSION_TOKEN": "",
		"AWS_REGION": "us-east-1", "AWS_PROFILE": "", "AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_S3": ts.URL,
		"AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none, "AWS_EC2_METADATA_DISABLED": "true",
	} {
		t.Setenv(k, v)
	}
}

// TestObjectsAgree reads every format of TestFormatsAgree from objects of
// an S3-compatible server instead of local files: Load, and passes of a
// Reader (as -mem makes them) from the first row and from a middle one,
// give the written values to the bit.
func TestObjectsAgree(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ds := newDataset(103, 1)
	dir := t.TempDir()
	formats := ds.formats(t, mem, dir)
	serveS3(t, dir)
	same := func(a, b []float64) bool {
		return slices.EqualFunc(a, b, func(x, y float64) bool { return math.Float64bits(x) == math.Float64bits(y) })
	}
	for name, specs := range formats {
		t.Run(name, func(t *testing.T) {
			specs = slices.Clone(specs)
			for k := range specs {
				// Through ParseSpec, as the command does.
				sp, err := stream.ParseSpec("s3://acts/" + filepath.Base(specs[k].File) + ":" + strings.Join(specs[k].Columns, ","))
				if err != nil {
					t.Fatal(err)
				}
				specs[k] = sp
			}
			opts := stream.Options{Alloc: mem, BatchRows: 16}
			tab, err := stream.Load(t.Context(), "", specs, opts)
			if err != nil {
				t.Fatal(err)
			}
			if !same(tab.Spaces[0].Data, ds.x) || !same(tab.Spaces[1].Data, ds.y) {
				t.Errorf("Load: data differ from the written values")
			}
			for _, from := range []int{0, 50} {
				x, y := readPasses(t, specs, opts, int64(from), 17, 2)
				if !same(x, ds.x[from*dsDim:]) || !same(y, ds.y[from:]) {
					t.Errorf("Reader from row %d: data differ from the written values", from)
				}
			}
		})
	}
}
