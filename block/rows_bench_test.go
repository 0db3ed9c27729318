package block

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkRowKernels measures the row kernels (assembly where the CPU
// runs it) against their Go versions on rows of DefaultTileSize columns,
// and reports pairs/s on one core.
func BenchmarkRowKernels(b *testing.B) {
	const n = DefaultTileSize
	rng := rand.New(rand.NewPCG(41, 42))
	ya, yb, colA, colB, d := randVec(rng, n, 1), randVec(rng, n, 1), make([]float64, n), make([]float64, n), make([]float64, n)
	const dim = 8
	xi, panel := randVec(rng, dim, 1), randVec(rng, dim*n, 1)
	d2 := randVec(rng, n, 1)
	for j := range d2 {
		d2[j] *= d2[j] // raised in place with c = 0: stays positive
	}
	p := &plan{alpha: 1, pow: powOne}
	report := func(b *testing.B) {
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "pairs/s")
	}
	for _, impl := range []string{"best", "go"} {
		b.Run(fmt.Sprintf("uni2/%s", impl), func(b *testing.B) {
			for b.Loop() {
				if impl == "go" {
					uni2Go(0.1, 0.2, ya, yb, colA, colB, 0.5, 0.5, false)
				} else {
					uni2(0.1, 0.2, ya, yb, colA, colB, 0.5, 0.5, false)
				}
			}
			report(b)
		})
		b.Run(fmt.Sprintf("uni1/%s", impl), func(b *testing.B) {
			for b.Loop() {
				if impl == "go" {
					uni1Go(0.1, ya, colA, 0.5, false)
				} else {
					uni1(0.1, ya, colA, 0.5, false)
				}
			}
			report(b)
		})
		b.Run(fmt.Sprintf("directRow/dim=%d/%s", dim, impl), func(b *testing.B) {
			for b.Loop() {
				if impl == "go" {
					directRowGo(d, xi, panel, n, 0)
				} else {
					directRow(d, xi, panel, n, 0)
				}
			}
			report(b)
		})
		b.Run(fmt.Sprintf("absRow/%s", impl), func(b *testing.B) {
			for b.Loop() {
				if impl == "go" {
					p.absRowGo(d, 0.1, ya, 0.5)
				} else {
					p.absRow(d, 0.1, ya, 0.5)
				}
			}
			report(b)
		})
		b.Run(fmt.Sprintf("raise/%s", impl), func(b *testing.B) {
			for b.Loop() {
				if impl == "go" {
					p.raise(d2, 0)
				} else {
					p.raise(d2[raiseRow(d2, 0, p.pow):], 0)
				}
			}
			report(b)
		})
	}
}
