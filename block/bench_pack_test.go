package block

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkPack packs the J panels of a whole row of tiles, as a run
// does (the source rows stream from memory, not from cache), with each
// kernel set: ns per packed coordinate.
func BenchmarkPack(b *testing.B) {
	for _, dim := range []int{64, 2048} {
		n := 16 << 20 / (8 * dim) // 16 MiB of rows
		rng := rand.New(rand.NewPCG(1, 2))
		s := randSpace(rng, n, dim)
		mu := make([]float64, dim)
		const ts = DefaultTileSize
		dst, norms := make([]float64, roundUp(ts, nr)*dim), make([]float64, roundUp(ts, nr))
		for _, ks := range kernelSets() {
			b.Run(fmt.Sprintf("%s/p=%d", ks.name, dim), func(b *testing.B) {
				for b.Loop() {
					for j0 := 0; j0+ts <= n; j0 += ts {
						ks.pack(dst, norms, s, mu, j0, ts, nr)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n/ts*ts*dim), "ns/coord")
			})
		}
	}
}
