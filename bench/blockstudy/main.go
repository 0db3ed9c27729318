// Command blockstudy measures the block estimator's error against what it
// estimates (bench/beyond.sh):
//
//   - -vary shuffle: one data set (the model of bench/genarrow, x of p
//     standard normals, y = tanh(x·W/sqrt(p)) + 0.5·e, or with -indep an
//     independent y), its exact bcdcor computed once, then the block
//     estimate under S shuffle seeds (-shuffle 1..S): the share of seeds
//     with |Δ| ≤ 3.5 SE, the coverage of the 95% interval estimate ±
//     1.96·SE with its Monte-Carlo error sqrt(c(1−c)/S), and the spread of
//     the estimates across seeds beside the mean SE;
//   - -vary data -indep: S independent data sets of independent x and y,
//     whose population bcdcor is 0: the coverage of 0 by the interval, the
//     frequentist check of the SE.
//
// CPU seconds are those of this process (getrusage).
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"syscall"

	"github.com/dcor-stream/dcor-stream/job"
	"github.com/dcor-stream/dcor-stream/stream"
)

func main() {
	n := flag.Int("n", 200000, "samples")
	p := flag.Int("p", 8, "dimension of x")
	q := flag.Int("q", 8, "dimension of y")
	b := flag.Int("block", 4000, "block size B")
	seeds := flag.Int("seeds", 100, "shuffle seeds or data sets S")
	vary := flag.String("vary", "shuffle", "shuffle (one data set, S shuffles, against its exact value) or data (S data sets, against the population value 0; needs -indep)")
	indep := flag.Bool("indep", false, "y independent of x")
	flag.Parse()
	if err := run(context.Background(), *n, *p, *q, *b, *seeds, *vary, *indep); err != nil {
		fmt.Fprintln(os.Stderr, "blockstudy:", err)
		os.Exit(1)
	}
}

func data(n, p, q int, seed uint64, indep bool) []stream.Space {
	rng := rand.New(rand.NewPCG(seed, 2026))
	w := make([]float64, p*q)
	for i := range w {
		w[i] = rng.NormFloat64() / math.Sqrt(float64(p))
	}
	x, y := make([]float64, n*p), make([]float64, n*q)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	for i := range n {
		for c := range q {
			var s float64
			if !indep {
				for k := range p {
					s += x[i*p+k] * w[k*q+c]
				}
			}
			y[i*q+c] = math.Tanh(s) + 0.5*rng.NormFloat64()
		}
	}
	return []stream.Space{{Name: "x", Dim: p, Data: x}, {Name: "y", Dim: q, Data: y}}
}

func cpu() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func run(ctx context.Context, n, p, q, b, seeds int, vary string, indep bool) error {
	if vary == "data" && !indep {
		return fmt.Errorf("-vary data needs -indep (the population value is then 0)")
	}
	sp := data(n, p, q, 7, indep)
	truth, what := 0.0, "population value 0"
	if vary == "shuffle" {
		c0 := cpu()
		out, err := job.Run(ctx, job.Spec{Data: sp})
		if err != nil {
			return err
		}
		truth, what = out.Pair.BCDCor, "exact value of the data"
		fmt.Printf("exact bcdcor %.10f (n = %d, p = %d, q = %d; %.1f CPU s)\n", truth, n, p, q, cpu()-c0)
	}
	var within, cover int
	var worst, sum, sum2, sumSE, cpuEst float64
	for s := 1; s <= seeds; s++ {
		spec := job.Spec{Data: sp, Estimator: "blocks", Block: b, Shuffle: true, ShuffleSeed: uint64(s)}
		if vary == "data" {
			spec.Data, spec.Shuffle = data(n, p, q, uint64(1000+s), true), false
		}
		c0 := cpu()
		out, err := job.Run(ctx, spec)
		if err != nil {
			return err
		}
		cpuEst += cpu() - c0
		r := out.Blocks
		z := math.Abs(r.BCDCor-truth) / r.BCDCorSE
		worst = max(worst, z)
		if z <= 3.5 {
			within++
		}
		if z <= 1.959963984540054 {
			cover++
		}
		sum += r.BCDCor
		sum2 += r.BCDCor * r.BCDCor
		sumSE += r.BCDCorSE
	}
	S := float64(seeds)
	mean := sum / S
	sd := math.Sqrt(max(0, (sum2-S*mean*mean)/(S-1)))
	c := float64(cover) / S
	fmt.Printf("blocks B = %d (%d blocks), %d %s, against the %s:\n", b, n/b, seeds, map[string]string{"shuffle": "shuffle seeds", "data": "data sets"}[vary], what)
	fmt.Printf("  |Δ| ≤ 3.5 SE in %d of %d (worst |Δ|/SE %.2f); 95%% interval coverage %.3f ± %.3f (Monte-Carlo SE)\n", within, seeds, worst, c, math.Sqrt(c*(1-c)/S))
	fmt.Printf("  mean estimate %.6f, its sd across %s %.2e, mean SE %.2e (ratio %.2f); %.2f CPU s per estimate\n", mean, vary, sd, sumSE/S, sd/(sumSE/S), cpuEst/S)
	return nil
}
