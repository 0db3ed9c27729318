// Gen-activations writes an Arrow IPC file of synthetic "activations" of
// two small models that look at the same inputs, for trying dcor-stream
// and for its tests.
//
// Usage:
//
//	go run ./cmd/gen-activations [-n 1000] [-seed 1] [-batch 256] [-o testdata/activations.arrow]
//
// Each sample i has a hidden input h_i ~ N(0, I_8). The columns are
//
//	model_a  fixed_size_list<float32>[64]  tanh(A·h + 0.5·e)       a "layer" of model A
//	model_b  fixed_size_list<float32>[32]  relu(B·h + 0.5·e')      a "layer" of model B
//	noise    fixed_size_list<float32>[16]  N(0, 1), independent of h
//	label    int64                         argmax(C·h), 10 classes
//
// with A, B, C fixed random matrices and e, e' independent N(0, 1) noise, so
// that model_a and model_b are strongly but non-linearly dependent, noise is
// independent of both, and label is a coarse function of the input. The
// output is a deterministic function of the flags.
package main

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

const (
	latent  = 8
	dimA    = 64
	dimB    = 32
	dimN    = 16
	classes = 10
)

func main() {
	n := flag.Int("n", 1000, "number of samples")
	seed := flag.Uint64("seed", 1, "random seed")
	batch := flag.Int("batch", 256, "rows per record batch")
	out := flag.String("o", "testdata/activations.arrow", "output Arrow IPC file")
	flag.Parse()
	if *n < 1 || *batch < 1 || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := write(*out, *n, *batch, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "gen-activations:", err)
		os.Exit(1)
	}
}

func matrix(rng *rand.Rand, rows, cols int) [][]float64 {
	m := make([][]float64, rows)
	for i := range m {
		m[i] = make([]float64, cols)
		for j := range m[i] {
			m[i][j] = rng.NormFloat64() / math.Sqrt(float64(cols))
		}
	}
	return m
}

func write(path string, n, batch int, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	a, b, c := matrix(rng, dimA, latent), matrix(rng, dimB, latent), matrix(rng, classes, latent)

	schema := arrow.NewSchema([]arrow.Field{
		{Name: "model_a", Type: arrow.FixedSizeListOf(dimA, arrow.PrimitiveTypes.Float32)},
		{Name: "model_b", Type: arrow.FixedSizeListOf(dimB, arrow.PrimitiveTypes.Float32)},
		{Name: "noise", Type: arrow.FixedSizeListOf(dimN, arrow.PrimitiveTypes.Float32)},
		{Name: "label", Type: arrow.PrimitiveTypes.Int64},
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
	rb := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer rb.Release()

	lists := []*array.FixedSizeListBuilder{
		rb.Field(0).(*array.FixedSizeListBuilder),
		rb.Field(1).(*array.FixedSizeListBuilder),
		rb.Field(2).(*array.FixedSizeListBuilder),
	}
	vals := []*array.Float32Builder{
		lists[0].ValueBuilder().(*array.Float32Builder),
		lists[1].ValueBuilder().(*array.Float32Builder),
		lists[2].ValueBuilder().(*array.Float32Builder),
	}
	labels := rb.Field(3).(*array.Int64Builder)

	h := make([]float64, latent)
	for i := range n {
		for j := range h {
			h[j] = rng.NormFloat64()
		}
		for _, l := range lists {
			l.Append(true)
		}
		for _, row := range a {
			vals[0].Append(float32(math.Tanh(dot(row, h) + 0.5*rng.NormFloat64())))
		}
		for _, row := range b {
			vals[1].Append(float32(max(0, dot(row, h)+0.5*rng.NormFloat64())))
		}
		for range dimN {
			vals[2].Append(float32(rng.NormFloat64()))
		}
		best, label := math.Inf(-1), 0
		for k, row := range c {
			if v := dot(row, h); v > best {
				best, label = v, k
			}
		}
		labels.Append(int64(label))

		if (i+1)%batch == 0 || i == n-1 {
			rec := rb.NewRecordBatch()
			err := w.Write(rec)
			rec.Release()
			if err != nil {
				return err
			}
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	return f.Close()
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}
