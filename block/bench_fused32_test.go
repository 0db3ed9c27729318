package block

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkFusedTile32 is BenchmarkFusedTile in both precisions, with the
// best kernels of this CPU (and the pure-Go ones, "go"), for the float32
// speed-up.
func BenchmarkFusedTile32(b *testing.B) {
	for _, set := range []struct {
		name string
		ks   kernels
	}{{"best", with32(bestKernels(), bestKernels32())}, {"go", with32(goKernels(), goKernels32())}} {
		for _, dims := range [][2]int{{16, 0}, {64, 0}, {64, 64}, {256, 0}, {256, 256}, {512, 0}} {
			for _, prec := range []Precision{Float64, Float32} {
				b.Run(fmt.Sprintf("%s/p=%d/q=%d/%v", set.name, dims[0], dims[1], prec), func(b *testing.B) {
					const ts = DefaultTileSize
					rng := rand.New(rand.NewPCG(1, 2))
					spaces := []Space{randSpace(rng, 2*ts, dims[0])}
					if dims[1] > 0 {
						spaces = append(spaces, randSpace(rng, 2*ts, dims[1]))
					}
					p := newPlanWith(spaces, 2*ts, 1, ts, kernelAuto, set.ks)
					p.prec = prec
					sc := p.newScratch()
					sl := p.newSlot()
					p.setTile(&sl, 0, 1)
					shift := make([]float64, p.k)
					for b.Loop() {
						p.tile(sc, 0, ts, ts, ts, false, shift, sl.tile.S, sl.tile.RowI, sl.viewJ)
					}
					rate := float64(ts*ts) * float64(b.N) / b.Elapsed().Seconds()
					b.ReportMetric(rate, "pairs/s")
					b.ReportMetric(rate*float64(2*(dims[0]+dims[1]))/1e9, "GFLOP/s")
				})
			}
		}
	}
}

// BenchmarkCompute32 is Compute end to end (shifts, bounds, all tiles) on
// the synthetic data at n = 8192 in both precisions, on 1 and 2 workers.
func BenchmarkCompute32(b *testing.B) {
	for _, dim := range []int{64, 256} {
		for _, w := range []int{1, 2} {
			for _, prec := range []Precision{Float64, Float32} {
				b.Run(fmt.Sprintf("p=q=%d/workers=%d/%v", dim, w, prec), func(b *testing.B) {
					benchCompute(b, 8192, dim, dim, Options{Workers: w, Precision: prec}, kernelAuto)
				})
			}
		}
	}
}
