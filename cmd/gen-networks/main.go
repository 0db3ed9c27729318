// Gen-networks writes an Arrow IPC file of synthetic layer activations of
// two small "networks" that see the same inputs, for the layer × layer
// example of dcor-stream matrix and for its tests.
//
// Usage:
//
//	go run ./cmd/gen-networks [-n 1000] [-seed 1] [-batch 250] [-o testdata/networks.arrow]
//
// Each sample i has a hidden input h_i ~ N(0, I_8) and a class
// y_i = argmax(C·h_i) among 10. A layer at depth t in [0, 1] sees the mix
//
//	u_i(t) = (1 − t)·h_i + t·E[y_i]
//
// of the input and a class embedding E (10 × 8, rows of norm sqrt 8), so
// early layers carry the input and late layers the class. The columns are
//
//	a_layer1..a_layer6  fixed_size_list<float32>[24]  relu(W·u(l/6) + 0.4·e)    network A, depths 1/6..1
//	b_block1..b_block4  fixed_size_list<float32>[32]  tanh(V·u(l/4 − 1/8) + 0.4·e)  network B, depths 1/8..7/8
//	input               fixed_size_list<float32>[8]   h
//	label               int64                          y
//
// with W, V fixed random matrices (one per layer and network) and e
// independent N(0, 1) noise per layer, so that the layer × layer dCor
// matrix of A against B has the band of similar depths that CKA heatmaps
// of real networks show. The output is a deterministic function of the
// flags.
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
	classes = 10
	noise   = 0.4
)

// layer is one column of the output: a layer of one network.
type layer struct {
	name  string
	depth float64 // t in u(t)
	w     [][]float64
	act   func(float64) float64
}

func relu(v float64) float64 { return max(0, v) }

func main() {
	n := flag.Int("n", 1000, "number of samples")
	seed := flag.Uint64("seed", 1, "random seed")
	batch := flag.Int("batch", 250, "rows per record batch")
	out := flag.String("o", "testdata/networks.arrow", "output Arrow IPC file")
	flag.Parse()
	if *n < 1 || *batch < 1 || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := write(*out, *n, *batch, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "gen-networks:", err)
		os.Exit(1)
	}
}

// gaussian returns a rows × cols matrix of N(0, 1/cols) entries.
func gaussian(rng *rand.Rand, rows, cols int) [][]float64 {
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
	rng := rand.New(rand.NewPCG(seed, 0x6e657473))
	c := gaussian(rng, classes, latent)
	emb := gaussian(rng, classes, latent)
	for _, row := range emb {
		scale := math.Sqrt(latent) / math.Sqrt(dot(row, row))
		for j := range row {
			row[j] *= scale
		}
	}
	var layers []layer
	for l := 1; l <= 6; l++ {
		layers = append(layers, layer{fmt.Sprintf("a_layer%d", l), float64(l) / 6, gaussian(rng, 24, latent), relu})
	}
	for l := 1; l <= 4; l++ {
		layers = append(layers, layer{fmt.Sprintf("b_block%d", l), float64(l)/4 - 1.0/8, gaussian(rng, 32, latent), math.Tanh})
	}

	fields := make([]arrow.Field, 0, len(layers)+2)
	for _, ly := range layers {
		fields = append(fields, arrow.Field{Name: ly.name, Type: arrow.FixedSizeListOf(int32(len(ly.w)), arrow.PrimitiveTypes.Float32)})
	}
	fields = append(fields,
		arrow.Field{Name: "input", Type: arrow.FixedSizeListOf(latent, arrow.PrimitiveTypes.Float32)},
		arrow.Field{Name: "label", Type: arrow.PrimitiveTypes.Int64})
	schema := arrow.NewSchema(fields, nil)

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

	lists := make([]*array.FixedSizeListBuilder, len(layers)+1)
	vals := make([]*array.Float32Builder, len(layers)+1)
	for k := range lists {
		lists[k] = rb.Field(k).(*array.FixedSizeListBuilder)
		vals[k] = lists[k].ValueBuilder().(*array.Float32Builder)
	}
	labels := rb.Field(len(layers) + 1).(*array.Int64Builder)

	h := make([]float64, latent)
	u := make([]float64, latent)
	for i := range n {
		for j := range h {
			h[j] = rng.NormFloat64()
		}
		best, y := math.Inf(-1), 0
		for k, row := range c {
			if v := dot(row, h); v > best {
				best, y = v, k
			}
		}
		for k, ly := range layers {
			for j := range u {
				u[j] = (1-ly.depth)*h[j] + ly.depth*emb[y][j]
			}
			lists[k].Append(true)
			for _, row := range ly.w {
				vals[k].Append(float32(ly.act(dot(row, u) + noise*rng.NormFloat64())))
			}
		}
		lists[len(layers)].Append(true)
		for _, v := range h {
			vals[len(layers)].Append(float32(v))
		}
		labels.Append(int64(y))

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
