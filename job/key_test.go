package job_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/dcor-stream/dcor-stream/job"
	"github.com/dcor-stream/dcor-stream/stream"
)

// keyed is a column of a file written by writeKeyed: dim values per row.
type keyed struct {
	name string
	dim  int
	data []float64
}

// writeKeyed writes the rows order[0], order[1], ... of cols to path (an
// Arrow IPC file, or Parquet for a .parquet path) with the column "id":
// ids[i] the ID of row i (int64 or string).
func writeKeyed(t *testing.T, path string, order []int, ids []any, cols ...keyed) {
	t.Helper()
	mem := memory.NewGoAllocator()
	idType := arrow.DataType(arrow.PrimitiveTypes.Int64)
	if _, ok := ids[0].(string); ok {
		idType = arrow.BinaryTypes.String
	}
	fields := []arrow.Field{{Name: "id", Type: idType}}
	for _, c := range cols {
		dt := arrow.DataType(arrow.PrimitiveTypes.Float64)
		if c.dim > 1 {
			dt = arrow.FixedSizeListOf(int32(c.dim), arrow.PrimitiveTypes.Float64)
		}
		fields = append(fields, arrow.Field{Name: c.name, Type: dt})
	}
	sch := arrow.NewSchema(fields, nil)
	const batch = 256
	var recs []arrow.RecordBatch
	for lo := 0; lo < len(order); lo += batch {
		rb := array.NewRecordBuilder(mem, sch)
		for _, i := range order[lo:min(lo+batch, len(order))] {
			switch id := ids[i].(type) {
			case string:
				rb.Field(0).(*array.StringBuilder).Append(id)
			case int64:
				rb.Field(0).(*array.Int64Builder).Append(id)
			}
			for k, c := range cols {
				v := c.data[i*c.dim : (i+1)*c.dim]
				if c.dim == 1 {
					rb.Field(1 + k).(*array.Float64Builder).Append(v[0])
					continue
				}
				lb := rb.Field(1 + k).(*array.FixedSizeListBuilder)
				lb.Append(true)
				lb.ValueBuilder().(*array.Float64Builder).AppendValues(v, nil)
			}
		}
		recs = append(recs, rb.NewRecordBatch())
		rb.Release()
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type writer interface {
		Write(arrow.RecordBatch) error
		Close() error
	}
	var w writer
	if strings.HasSuffix(path, ".parquet") {
		// One record per row group (see stream's writeParquet).
		props := parquet.NewWriterProperties(parquet.WithMaxRowGroupLength(batch))
		w, err = pqarrow.NewFileWriter(sch, f, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	} else {
		w, err = ipc.NewFileWriter(f, ipc.WithSchema(sch))
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		err := w.Write(rec)
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// keyedFiles writes the activations test data as a.arrow (model_a, in
// row order), b.parquet (model_b and label, rows shuffled) and
// plain.parquet (the same, in row order), with integer or string IDs.
func keyedFiles(t *testing.T, strIDs bool) (a, b, plain string, n int) {
	t.Helper()
	tab, err := stream.Load(t.Context(), activations, specs("model_a", "model_b", "label"), stream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n = tab.N
	ids := make([]any, n)
	for i := range ids {
		ids[i] = int64(5000 - 3*i)
		if strIDs {
			ids[i] = fmt.Sprintf("sample-%d", 3*i)
		}
	}
	cols := make([]keyed, 3)
	for k, sp := range tab.Spaces {
		cols[k] = keyed{[]string{"model_a", "model_b", "label"}[k], sp.Dim, sp.Data}
	}
	inOrder := make([]int, n)
	for i := range inOrder {
		inOrder[i] = i
	}
	dir := t.TempDir()
	a, b, plain = filepath.Join(dir, "a.arrow"), filepath.Join(dir, "b.parquet"), filepath.Join(dir, "plain.parquet")
	writeKeyed(t, a, inOrder, ids, cols[0])
	writeKeyed(t, b, rand.New(rand.NewPCG(14, 14)).Perm(n), ids, cols[1:]...)
	writeKeyed(t, plain, inOrder, ids, cols[1:]...)
	return a, b, plain, n
}

func fileSpecs(cols ...string) []stream.Spec {
	out := make([]stream.Spec, len(cols))
	for i, c := range cols {
		file, col, _ := strings.Cut(c, ":")
		out[i] = stream.Spec{File: file, Columns: []string{col}}
	}
	return out
}

// TestKeyCompose: the spaces of a file whose rows are shuffled, aligned by
// sample ID, give the bits of the files in row order in every mode and
// schedule: {pair, partial, matrix with given} × {in memory, under a
// budget} × {whole, 3 shards merged}, a checkpoint resumed, and the
// online, minibatch and block estimators.
func TestKeyCompose(t *testing.T) {
	for _, strIDs := range []bool{false, true} {
		a, b, plain, _ := keyedFiles(t, strIDs)
		for _, m := range []struct {
			name   string
			cols   []string // FILE:COLUMN, FILE as "a" or "b"
			matrix *job.Matrix
		}{
			{"pair", []string{"a:model_a", "b:model_b"}, nil},
			{"partial", []string{"a:model_a", "b:model_b", "b:label"}, nil},
			{"matrix-given", []string{"a:model_a", "b:model_b", "b:label"}, &job.Matrix{Rows: []int{0, 1}, Cols: []int{1}, Given: 2}},
		} {
			t.Run(fmt.Sprintf("%s/strings=%v", m.name, strIDs), func(t *testing.T) {
				spaces := func(bfile string) []stream.Spec {
					cols := make([]string, len(m.cols))
					for i, c := range m.cols {
						cols[i] = strings.Replace(strings.Replace(c, "a:", a+":", 1), "b:", bfile+":", 1)
					}
					return fileSpecs(cols...)
				}
				// Labels: the results name the spaces, not their files.
				base := job.Spec{Spaces: spaces(plain), Labels: m.cols, Matrix: m.matrix, Options: job.Options{Tile: 64}}
				want := fingerprintOf(t, run(t, base, 1))
				keyedSpec := base
				keyedSpec.Spaces, keyedSpec.Key = spaces(b), "id"
				for _, mem := range []int64{0, 64 << 10} {
					for _, shards := range []int{1, 3} {
						spec := keyedSpec
						spec.Memory = mem
						if got := fingerprintOf(t, run(t, spec, shards)); got != want {
							t.Errorf("memory %d, %d shards: differs from the files in row order", mem, shards)
						}
					}
				}
				// Killed in memory, resumed under a budget.
				spec := keyedSpec
				cp := interrupted(t, spec, 9)
				spec.Memory, spec.Checkpoint = 64<<10, cp
				out, err := job.Run(t.Context(), spec)
				if err != nil {
					t.Fatal(err)
				}
				if out.Resumed < 9 || fingerprintOf(t, out) != want {
					t.Errorf("killed and resumed (%d tiles): differs from the files in row order", out.Resumed)
				}
				// The fingerprint covers the alignment: the checkpoint of
				// the aligned job is not one of the same files in row
				// order.
				spec = keyedSpec
				cp = interrupted(t, spec, 9)
				spec.Key, spec.Checkpoint = "", cp
				if _, err := job.Run(t.Context(), spec); !errors.Is(err, job.ErrState) {
					t.Errorf("resumed without -key: %v, want ErrState", err)
				}
			})
		}
		t.Run(fmt.Sprintf("estimators/strings=%v", strIDs), func(t *testing.T) {
			for _, e := range []struct {
				name string
				set  func(*job.Spec)
			}{
				{"online", func(s *job.Spec) { s.Every = 300 }},
				{"blocks", func(s *job.Spec) { s.Estimator, s.Block = "blocks", 100 }},
				{"minibatch", func(s *job.Spec) {
					s.Matrix = &job.Matrix{Rows: []int{0}, Cols: []int{1}, Given: job.NoGiven, Minibatch: 250}
				}},
			} {
				base := job.Spec{Spaces: fileSpecs(a+":model_a", plain+":model_b"), Labels: []string{"x", "y"}}
				e.set(&base)
				want, err := job.Run(t.Context(), base)
				if err != nil {
					t.Fatal(err)
				}
				spec := base
				spec.Spaces, spec.Key = fileSpecs(a+":model_a", b+":model_b"), "id"
				got, err := job.Run(t.Context(), spec)
				if err != nil {
					t.Fatal(err)
				}
				for _, o := range []*job.Outcome{got, want} { // the names of the spaces hold their files
					if o.Pair != nil {
						o.Pair.Spaces = nil
					}
					if o.Blocks != nil {
						o.Blocks.Spaces = nil
					}
				}
				if g, w := fmt.Sprintf("%+v %+v %+v", got.Pair, got.Matrix, got.Blocks), fmt.Sprintf("%+v %+v %+v", want.Pair, want.Matrix, want.Blocks); g != w {
					t.Errorf("%s: %s\ndiffers from the files in row order: %s", e.name, g, w)
				}
			}
		})
	}
}

// TestKeyDrop: with KeyMissing "drop", the IDs not in every file are left
// out, reported, and the result is that of the files without them.
func TestKeyDrop(t *testing.T) {
	tab, err := stream.Load(t.Context(), activations, specs("model_a", "model_b"), stream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := tab.N
	ids := make([]any, n)
	for i := range ids {
		ids[i] = int64(i)
	}
	xa := keyed{"model_a", tab.Spaces[0].Dim, tab.Spaces[0].Data}
	xb := keyed{"model_b", tab.Spaces[1].Dim, tab.Spaces[1].Data}
	dir := t.TempDir()
	all := rand.New(rand.NewPCG(3, 3)).Perm(n)
	var aRows, bRows, both []int
	for i := range n {
		if i%10 != 3 { // a lacks the IDs 3, 13, ...
			aRows = append(aRows, i)
		}
	}
	for _, i := range all {
		if i%7 != 5 { // b lacks 5, 12, ...
			bRows = append(bRows, i)
		}
	}
	for _, i := range aRows {
		if i%7 != 5 {
			both = append(both, i)
		}
	}
	writeKeyed(t, filepath.Join(dir, "a.arrow"), aRows, ids, xa)
	writeKeyed(t, filepath.Join(dir, "b.parquet"), bRows, ids, xb)
	writeKeyed(t, filepath.Join(dir, "wa.arrow"), both, ids, xa)
	writeKeyed(t, filepath.Join(dir, "wb.arrow"), both, ids, xb)
	want, err := job.Run(t.Context(), job.Spec{Spaces: fileSpecs(filepath.Join(dir, "wa.arrow:model_a"), filepath.Join(dir, "wb.arrow:model_b"))})
	if err != nil {
		t.Fatal(err)
	}
	spec := job.Spec{Spaces: fileSpecs(filepath.Join(dir, "a.arrow:model_a"), filepath.Join(dir, "b.parquet:model_b")), Key: "id"}
	if _, err := job.Run(t.Context(), spec); !errors.Is(err, stream.ErrKey) {
		t.Fatalf("IDs missing, no drop: %v, want ErrKey", err)
	}
	var msgs []string
	spec.KeyMissing, spec.Notify = "drop", func(s string) { msgs = append(msgs, s) }
	for _, mem := range []int64{0, 64 << 10} {
		spec.Memory = mem
		got, err := job.Run(t.Context(), spec)
		if err != nil {
			t.Fatal(err)
		}
		if got.State.N != len(both) || fingerprintOf(t, got) != fingerprintOf(t, want) {
			t.Errorf("memory %d: %d samples, want %d; or the result differs from the files of the IDs in both", mem, got.State.N, len(both))
		}
	}
	wantMsg := fmt.Sprintf("-key id: %d samples, in the row order of %s; rows of %s rewritten in that order; dropped (their IDs not in every file): %d of %d rows of %s, %d of %d rows of %s",
		len(both), filepath.Join(dir, "a.arrow"), filepath.Join(dir, "b.parquet"),
		len(aRows)-len(both), len(aRows), filepath.Join(dir, "a.arrow"), len(bRows)-len(both), len(bRows), filepath.Join(dir, "b.parquet"))
	if len(msgs) == 0 || msgs[0] != wantMsg {
		t.Errorf("notified %q, want %q", msgs, wantMsg)
	}
}

// TestKeySpec: -key needs files, and not an endless standard input.
func TestKeySpec(t *testing.T) {
	for _, spec := range []job.Spec{
		{Data: smallData(10), Key: "id"},
		{Spaces: fileSpecs("-:x", "-:y"), Key: "id", Every: 100},
		{Spaces: fileSpecs("-:x", "-:y"), Key: "id", Estimator: "blocks", Block: 10},
		{Spaces: fileSpecs("a:x", "b:y"), Key: "id", KeyMissing: "keep"},
		{Spaces: fileSpecs("a:x", "b:y"), KeyMissing: "drop"},
	} {
		if _, err := job.Run(t.Context(), spec); !errors.Is(err, job.ErrSpec) {
			t.Errorf("%+v: %v, want ErrSpec", spec, err)
		}
	}
}
