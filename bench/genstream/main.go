// Command genstream writes n samples of the model of bench/genarrow — x of
// p standard normal values, y = tanh(x·W/sqrt(p)) + 0.5·e of q values —
// as an Arrow IPC stream on standard output, generated batch by batch so
// that its memory does not grow with n: the input of the stdin studies of
// the block estimator and of the univariate path (bench/beyond.sh).
//
//	go run ./bench/genstream -n 1000000 -p 64 -q 64 | dcor-stream -estimator blocks -x x -y y -
//
// With p = q = 1 the columns are scalar float64 columns "x" and "y".
package main

import (
	"bufio"
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

func main() {
	n := flag.Int("n", 10000, "samples")
	p := flag.Int("p", 64, "dimension of x")
	q := flag.Int("q", 64, "dimension of y")
	seed := flag.Uint64("seed", 7, "random seed")
	batch := flag.Int("batch", 4096, "rows per record batch")
	flag.Parse()
	if *n < 1 || *p < 1 || *q < 1 || *batch < 1 || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*n, *p, *q, *batch, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "genstream:", err)
		os.Exit(1)
	}
}

func run(n, p, q, batch int, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 2026))
	w := make([]float64, p*q)
	for i := range w {
		w[i] = rng.NormFloat64() / math.Sqrt(float64(p))
	}
	typ := func(d int) arrow.DataType {
		if d == 1 {
			return arrow.PrimitiveTypes.Float64
		}
		return arrow.FixedSizeListOf(int32(d), arrow.PrimitiveTypes.Float64)
	}
	schema := arrow.NewSchema([]arrow.Field{{Name: "x", Type: typ(p)}, {Name: "y", Type: typ(q)}}, nil)
	out := bufio.NewWriterSize(os.Stdout, 1<<20)
	wr := ipc.NewWriter(out, ipc.WithSchema(schema), ipc.WithAllocator(memory.DefaultAllocator))
	x, y := make([]float64, batch*p), make([]float64, batch*q)
	for i0 := 0; i0 < n; i0 += batch {
		m := min(batch, n-i0)
		for i := range m {
			for k := range p {
				x[i*p+k] = rng.NormFloat64()
			}
			for c := range q {
				var s float64
				for k := range p {
					s += x[i*p+k] * w[k*q+c]
				}
				y[i*q+c] = math.Tanh(s) + 0.5*rng.NormFloat64()
			}
		}
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		for f, v := range [][]float64{x[:m*p], y[:m*q]} {
			switch fb := b.Field(f).(type) {
			case *array.Float64Builder:
				fb.AppendValues(v, nil)
			case *array.FixedSizeListBuilder:
				d := len(v) / m
				vb := fb.ValueBuilder().(*array.Float64Builder)
				for range m {
					fb.Append(true)
				}
				vb.AppendValues(v[:m*d], nil)
			}
		}
		rec := b.NewRecordBatch()
		err := wr.Write(rec)
		rec.Release()
		b.Release()
		if err != nil {
			return err
		}
	}
	if err := wr.Close(); err != nil {
		return err
	}
	return out.Flush()
}
