package block

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkFusedTile measures the fused kernel alone on one off-diagonal
// tile of DefaultTileSize² pairs of one space of dim p (q = 0) or two of
// dims p and q, for every kernel set of this CPU, and reports pairs/s and
// GFLOP/s at 2(p+q) flops per pair (the Gram count) on one core.
func BenchmarkFusedTile(b *testing.B) {
	for _, ks := range kernelSets() {
		for _, dims := range [][2]int{{16, 0}, {64, 0}, {64, 64}, {256, 0}, {256, 256}, {512, 0}, {2048, 0}} {
			b.Run(fmt.Sprintf("%s/p=%d/q=%d", ks.name, dims[0], dims[1]), func(b *testing.B) {
				const ts = DefaultTileSize
				rng := rand.New(rand.NewPCG(1, 2))
				spaces := []Space{randSpace(rng, 2*ts, dims[0])}
				if dims[1] > 0 {
					spaces = append(spaces, randSpace(rng, 2*ts, dims[1]))
				}
				p := newPlanWith(spaces, 2*ts, 1, ts, kernelAuto, ks)
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

// BenchmarkScaling measures Compute on 1 and 2 workers at n = 8192 on two
// spaces of p = q dimensions, for the 2-worker speed-up.
func BenchmarkScaling(b *testing.B) {
	for _, dim := range []int{64, 256} {
		for _, w := range []int{1, 2} {
			b.Run(fmt.Sprintf("p=q=%d/workers=%d", dim, w), func(b *testing.B) {
				benchCompute(b, 8192, dim, dim, Options{Workers: w}, kernelAuto)
			})
		}
	}
}
