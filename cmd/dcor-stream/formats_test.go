package main

import (
	"encoding/binary"
	"fmt"
	"math"
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
)

// exampleColumns reads model_b (32 float32 per row) and label (int64) of
// the shipped example.
func exampleColumns(t *testing.T) (feat [][]float32, label []int64) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	f, err := os.Open(example)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := ipc.NewFileReader(f, ipc.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i := range r.NumRecords() {
		rec, err := r.RecordBatch(i)
		if err != nil {
			t.Fatal(err)
		}
		list := rec.Column(1).(*array.FixedSizeList) // model_b
		vals := list.ListValues().(*array.Float32).Float32Values()
		for j := range int(rec.NumRows()) {
			feat = append(feat, append([]float32(nil), vals[j*32:(j+1)*32]...))
		}
		label = append(label, rec.Column(3).(*array.Int64).Int64Values()...)
	}
	return feat, label
}

// writeNpy writes a little-endian C-order .npy file (version 1.0).
func writeNpy(t *testing.T, path, descr string, shape string, data []byte) {
	t.Helper()
	header := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape)
	pad := 64 - (10+len(header)+1)%64
	header += fmt.Sprintf("%*s\n", pad, "")
	b := append([]byte("\x93NUMPY\x01\x00"), byte(len(header)), byte(len(header)>>8))
	b = append(b, header...)
	b = append(b, data...)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeFlatParquet writes feat as flat float32 columns f_0..f_31 and label,
// one row group per record of 256 rows.
func writeFlatParquet(t *testing.T, path string, feat [][]float32, label []int64) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	fields := make([]arrow.Field, 0, 33)
	for j := range 32 {
		fields = append(fields, arrow.Field{Name: fmt.Sprintf("f_%d", j), Type: arrow.PrimitiveTypes.Float32})
	}
	fields = append(fields, arrow.Field{Name: "label", Type: arrow.PrimitiveTypes.Int64})
	sch := arrow.NewSchema(fields, nil)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	props := parquet.NewWriterProperties(parquet.WithAllocator(mem), parquet.WithMaxRowGroupLength(256))
	w, err := pqarrow.NewFileWriter(sch, f, props, pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(mem)))
	if err != nil {
		t.Fatal(err)
	}
	for r0 := 0; r0 < len(label); r0 += 256 {
		b := array.NewRecordBuilder(mem, sch)
		for i := r0; i < min(r0+256, len(label)); i++ {
			for j := range 32 {
				b.Field(j).(*array.Float32Builder).Append(feat[i][j])
			}
			b.Field(32).(*array.Int64Builder).Append(label[i])
		}
		rec := b.NewRecordBatch()
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
		b.Release()
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestFormatsAgree runs the same data as an Arrow IPC file, flat Parquet
// columns selected by a glob, and two .npy dumps (float32 features, int64
// labels), in memory and under -mem: every output is the same, byte for
// byte. (The Arrow stream on stdin is TestStdin.)
func TestFormatsAgree(t *testing.T) {
	feat, label := exampleColumns(t)
	dir := t.TempDir()

	var fb, lb []byte
	for _, row := range feat {
		for _, v := range row {
			fb = binary.LittleEndian.AppendUint32(fb, math.Float32bits(v))
		}
	}
	for _, v := range label {
		lb = binary.LittleEndian.AppendUint64(lb, uint64(v))
	}
	featNpy, labelNpy := filepath.Join(dir, "feat.npy"), filepath.Join(dir, "label.npy")
	writeNpy(t, featNpy, "<f4", fmt.Sprintf("(%d, 32)", len(feat)), fb)
	writeNpy(t, labelNpy, "<i8", fmt.Sprintf("(%d,)", len(label)), lb)
	pq := filepath.Join(dir, "flat.parquet")
	writeFlatParquet(t, pq, feat, label)

	base := []string{"-format", "json", "-exponent", "0.5"}
	_, want, _ := runCLI(t, nil, append(base, "-x", "model_b", "-y", "label", example)...)
	for name, args := range map[string][]string{
		"npy":          {"-x", featNpy, "-y", labelNpy},
		"parquet glob": {"-x", "f_*", "-y", "label", pq},
		"npy -mem":     {"-mem", "64KiB", "-x", featNpy, "-y", labelNpy},
		"parquet -mem": {"-mem", "64KiB", "-x", "f_*", "-y", "label", pq},
		"mixed":        {"-x", pq + ":f_*", "-y", labelNpy},
	} {
		code, got, stderr := runCLI(t, nil, append(base, args...)...)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", name, code, stderr)
		}
		if args[0] == "-mem" {
			got = passesField.ReplaceAllString(got, "}")
		}
		if got != want {
			t.Errorf("%s:\n%s\nwant (Arrow file):\n%s", name, got, want)
		}
	}
}

// TestNpyLabels: a .npy space is labelled by its file's stem unless
// NAME= names it, in the pair mode (text) as in the matrix.
func TestNpyLabels(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 30*2*4)
	for i := range 60 {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(float32(i*i%13)))
	}
	a, b := filepath.Join(dir, "mlp_h3.npy"), filepath.Join(dir, "cnn.c2.npy")
	writeNpy(t, a, "<f4", "(30, 2)", data)
	writeNpy(t, b, "<f4", "(30, 2)", data)
	for _, args := range [][]string{{}, {"-estimator", "blocks", "-block", "10"}} {
		code, stdout, stderr := runCLI(t, nil, append(args, "-quiet", "-x", a, "-y", "gt="+b)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		for _, want := range []string{"\nX = mlp_h3: data (2 dims)\n", "\nY = gt: data (2 dims)\n"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("pair %v: no %q in\n%s", args, want, stdout)
			}
		}
	}
	code, stdout, stderr := runCLI(t, nil, "matrix", "-quiet", "-format", "csv", "-rows", a, "-cols", b)
	if code != 0 || !strings.Contains(stdout, "\nmlp_h3,cnn.c2,") {
		t.Errorf("matrix: exit %d, stdout %q, stderr %s; want the row mlp_h3,cnn.c2", code, stdout, stderr)
	}
}
