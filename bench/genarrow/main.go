// Command genarrow writes the benchmark data of bench/vs-tools.sh: x, n
// samples of p standard normal values, and y = tanh(x·W/sqrt(p)) + 0.5·e,
// q values per sample (W and e standard normal), as an Arrow IPC file with
// the fixed_size_list<double> columns "x" and "y", and the same values as
// raw little-endian float64 row-major files x.f64 and y.f64 for R and NumPy;
// with -parquet, also as xy.parquet, one row group per batch; with -npy,
// also as x.npy and y.npy (float64, C order), which the .npy reader maps and
// releases page by page (bench/moonshot.sh).
//
//	go run ./bench/genarrow -n 10000 -p 64 -q 64 -o DIR
package main

import (
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

func main() {
	n := flag.Int("n", 10000, "samples")
	p := flag.Int("p", 64, "dimension of x")
	q := flag.Int("q", 64, "dimension of y")
	seed := flag.Uint64("seed", 7, "random seed")
	batch := flag.Int("batch", 4096, "rows per record batch")
	dir := flag.String("o", ".", "output directory (xy.arrow, x.f64, y.f64)")
	pq := flag.Bool("parquet", false, "also write xy.parquet, one row group per batch")
	npy := flag.Bool("npy", false, "also write x.npy and y.npy")
	flag.Parse()
	if *n < 1 || *p < 1 || *q < 1 || *batch < 1 || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*dir, *n, *p, *q, *batch, *seed, *pq, *npy); err != nil {
		fmt.Fprintln(os.Stderr, "genarrow:", err)
		os.Exit(1)
	}
}

func run(dir string, n, p, q, batch int, seed uint64, pq, npy bool) error {
	rng := rand.New(rand.NewPCG(seed, 2026))
	x := make([]float64, n*p)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	w := make([]float64, p*q)
	for i := range w {
		w[i] = rng.NormFloat64() / math.Sqrt(float64(p))
	}
	y := make([]float64, n*q)
	for i := range n {
		for c := range q {
			var s float64
			for k := range p {
				s += x[i*p+k] * w[k*q+c]
			}
			y[i*q+c] = math.Tanh(s) + 0.5*rng.NormFloat64()
		}
	}
	if err := writeRaw(filepath.Join(dir, "x.f64"), "", x); err != nil {
		return err
	}
	if err := writeRaw(filepath.Join(dir, "y.f64"), "", y); err != nil {
		return err
	}
	if npy {
		if err := writeRaw(filepath.Join(dir, "x.npy"), npyHeader(n, p), x); err != nil {
			return err
		}
		if err := writeRaw(filepath.Join(dir, "y.npy"), npyHeader(n, q), y); err != nil {
			return err
		}
	}
	pqPath := ""
	if pq {
		pqPath = filepath.Join(dir, "xy.parquet")
	}
	return writeArrow(filepath.Join(dir, "xy.arrow"), pqPath, x, y, n, p, q, batch)
}

// npyHeader returns the header of a version 1.0 .npy file of rows×cols
// little-endian float64 in C order, padded to 64 bytes as NumPy does.
func npyHeader(rows, cols int) string {
	dict := fmt.Sprintf("{'descr': '<f8', 'fortran_order': False, 'shape': (%d, %d), }", rows, cols)
	pad := 63 - (10+len(dict))%64
	h := dict + strings.Repeat(" ", pad) + "\n"
	return "\x93NUMPY\x01\x00" + string([]byte{byte(len(h)), byte(len(h) >> 8)}) + h
}

// writeRaw writes header, then v as little-endian float64, to path.
func writeRaw(path, header string, v []float64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	bw.WriteString(header)
	if err := binary.Write(bw, binary.LittleEndian, v); err != nil {
		f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeArrow writes the Arrow file, and the Parquet file if pqPath is not
// empty. Each record batch is one row group: pqarrow (v18.8.0) writes a
// fixed-size-list column wrongly when a record spans row groups.
func writeArrow(path, pqPath string, x, y []float64, n, p, q, batch int) error {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "x", Type: arrow.FixedSizeListOf(int32(p), arrow.PrimitiveTypes.Float64)},
		{Name: "y", Type: arrow.FixedSizeListOf(int32(q), arrow.PrimitiveTypes.Float64)},
	}, nil)
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w, err := ipc.NewFileWriter(f, ipc.WithSchema(schema), ipc.WithAllocator(memory.DefaultAllocator))
	if err != nil {
		return err
	}
	var pw *pqarrow.FileWriter
	if pqPath != "" {
		pf, err := os.Create(pqPath)
		if err != nil {
			return err
		}
		defer pf.Close()
		props := parquet.NewWriterProperties(parquet.WithMaxRowGroupLength(int64(batch)))
		if pw, err = pqarrow.NewFileWriter(schema, pf, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema())); err != nil {
			return err
		}
	}
	rb := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer rb.Release()
	cols := []struct {
		b    *array.FixedSizeListBuilder
		v    []float64
		size int
	}{
		{rb.Field(0).(*array.FixedSizeListBuilder), x, p},
		{rb.Field(1).(*array.FixedSizeListBuilder), y, q},
	}
	for r0 := 0; r0 < n; r0 += batch {
		r1 := min(n, r0+batch)
		for _, c := range cols {
			vb := c.b.ValueBuilder().(*array.Float64Builder)
			for range r1 - r0 {
				c.b.Append(true)
			}
			vb.AppendValues(c.v[r0*c.size:r1*c.size], nil)
		}
		rec := rb.NewRecordBatch()
		err := w.Write(rec)
		if err == nil && pw != nil {
			err = pw.Write(rec)
		}
		rec.Release()
		if err != nil {
			return err
		}
	}
	if pw != nil {
		if err := pw.Close(); err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	return f.Close()
}
