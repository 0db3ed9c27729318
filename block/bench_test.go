package block

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchCompute runs compute on two spaces of n rows and dims p and q (one
// space if q is 0) and reports pairs/s, GFLOP/s (2(p+q) flops per pair,
// the Gram count) and ns/pair/worker.
func benchCompute(b *testing.B, n, p, q int, opts Options, kern kernel) {
	rng := rand.New(rand.NewPCG(1, 2))
	spaces := []Space{randSpace(rng, n, p)}
	if q > 0 {
		spaces = append(spaces, randSpace(rng, n, q))
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := compute(b.Context(), spaces, opts, kern); err != nil {
			b.Fatal(err)
		}
	}
	pairs := float64(n) * float64(n-1) / 2
	rate := pairs * float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(rate, "pairs/s")
	b.ReportMetric(rate*float64(2*(p+q))/1e9, "GFLOP/s")
	if opts.Workers > 0 {
		b.ReportMetric(1e9/rate*float64(opts.Workers), "ns/pair/worker")
	}
}

// BenchmarkCompute measures Compute on two spaces of the same dimension on
// one worker (per-core cost) and on all cores.
func BenchmarkCompute(b *testing.B) {
	for _, n := range []int{2000, 8000} {
		for _, dim := range []int{1, 8, 64} {
			for _, w := range []int{1, 0} {
				if n > 2000 && dim > 8 {
					continue
				}
				b.Run(fmt.Sprintf("n=%d/dim=%d/workers=%d", n, dim, w), func(b *testing.B) {
					benchCompute(b, n, dim, dim, Options{Workers: w}, kernelAuto)
				})
			}
		}
	}
}

// BenchmarkUnivariate measures one and two univariate spaces, the common
// case, for every exponent class.
func BenchmarkUnivariate(b *testing.B) {
	for _, q := range []int{0, 1} {
		for _, alpha := range []float64{1, 2, 0.5, 0.7} {
			b.Run(fmt.Sprintf("K=%d/alpha=%v", q+1, alpha), func(b *testing.B) {
				benchCompute(b, 4000, 1, q, Options{Exponent: alpha, Workers: 1}, kernelAuto)
			})
		}
	}
}

// BenchmarkKernel compares the direct and Gram kernels across dimensions,
// to set gramMinDim.
func BenchmarkKernel(b *testing.B) {
	for _, dim := range []int{2, 3, 4, 8, 12, 16, 24, 32, 64, 256} {
		for _, k := range []struct {
			name string
			kern kernel
		}{{"direct", kernelDirect}, {"gram", kernelGram}} {
			b.Run(fmt.Sprintf("dim=%d/%s", dim, k.name), func(b *testing.B) {
				benchCompute(b, 1024, dim, 0, Options{Workers: 1}, k.kern)
			})
		}
	}
}

// BenchmarkTileSize measures the effect of the tile size, to set
// DefaultTileSize.
func BenchmarkTileSize(b *testing.B) {
	for _, dim := range []int{1, 64} {
		for _, ts := range []int{64, 128, 256, 512} {
			b.Run(fmt.Sprintf("dim=%d/tile=%d", dim, ts), func(b *testing.B) {
				benchCompute(b, 4096, dim, 1, Options{TileSize: ts, Workers: 1}, kernelAuto)
			})
		}
	}
}
