package block

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/dcor-stream/dcor-stream/bench/peak"
)

// BenchmarkPeakShare reports the fused kernel (one off-diagonal tile, one
// core, packing included) and Compute (n = 8192, 1 and 2 workers) as a
// share of the FMA peak of this machine measured in the same run (package
// bench/peak, the loop of the kernel set's width and precision, on as
// many cores as workers), in slices interleaved with the case so that
// both see the same load; Gram flops 2(p+q) per pair. The metrics:
// GFLOP/s, the peak's GFLOP/s and %peak, and for one worker %peak-cpu,
// the same share per second of CPU time of the thread (op's, and the
// peak loop's: on a machine whose cores other processes share, it counts
// only the time each ran, where %peak counts the time the scheduler gave
// them, which differs between the slices), and %peak-best, the fastest
// op against the fastest peak slice (each most likely alone on its core).
// It measures every assembly
// kernel set of this CPU that has a peak probe: on an AVX-512 machine the
// AVX2 set too (against the AVX2 peak), which is what AVX2-only CPUs run.
//
//	go test -run '^$' -bench PeakShare -benchtime 2s ./block/
func BenchmarkPeakShare(b *testing.B) {
	for _, ks := range kernelSets()[1:] {
		k32 := bestKernels32()
		for _, k := range kernelSets32() {
			if k.name == ks.name {
				k32 = k
			}
		}
		peakShare(b, ks, k32)
	}
}

func peakShare(b *testing.B, ks kernels, k32 kernels32) {
	// share runs op (flops each) in b.Loop, and after every ~20 ms of it a
	// slice of the peak loop of as long, timer stopped: both see the
	// same load of the machine.
	share := func(b *testing.B, prec Precision, workers int, flops float64, op func()) {
		kind, ok := peak.Lookup(ks.name + "/" + prec.String())
		if !ok {
			b.Skip("no FMA peak probe for this CPU or build")
		}
		if workers == 1 {
			// The thread's CPU time is op's (below, %peak-cpu).
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
		}
		const slice = 20 * time.Millisecond
		sm := peak.NewSampler(kind, workers, slice)
		sm.Sample()
		next := slice
		c0, cpuOK := peak.ThreadCPU()
		var paused float64 // CPU seconds of this thread in the peak slices
		fastest := math.Inf(1)
		for b.Loop() {
			t0 := time.Now()
			op()
			fastest = min(fastest, time.Since(t0).Seconds())
			if b.Elapsed() >= next {
				b.StopTimer()
				p0, _ := peak.ThreadCPU()
				sm.Sample()
				p1, _ := peak.ThreadCPU()
				paused += p1 - p0
				next = b.Elapsed() + slice
				b.StartTimer()
			}
		}
		c1, _ := peak.ThreadCPU()
		gflops := flops * float64(b.N) / b.Elapsed().Seconds() / 1e9
		b.ReportMetric(gflops, "GFLOP/s")
		b.ReportMetric(sm.GFLOPS(), "peak-GFLOP/s")
		b.ReportMetric(100*gflops/sm.GFLOPS(), "%peak")
		b.ReportMetric(100*flops/fastest/1e9/sm.BestGFLOPS(), "%peak-best")
		if cpu := c1 - c0 - paused; workers == 1 && cpuOK && cpu > 0 && sm.CPUGFLOPS() > 0 {
			b.ReportMetric(100*flops*float64(b.N)/cpu/1e9/sm.CPUGFLOPS(), "%peak-cpu")
		}
	}
	for _, c := range []struct {
		p, q int
		prec Precision
	}{{64, 0, Float64}, {64, 64, Float64}, {256, 0, Float64}, {256, 256, Float64}, {512, 0, Float64}, {2048, 0, Float64}, {4096, 0, Float64}, {8192, 0, Float64}, {32768, 0, Float64}, {100000, 0, Float64}, {256, 256, Float32}} {
		b.Run(fmt.Sprintf("tile/%s/p=%d/q=%d/%v", ks.name, c.p, c.q, c.prec), func(b *testing.B) {
			const ts = DefaultTileSize
			rng := rand.New(rand.NewPCG(1, 2))
			spaces := []Space{randSpace(rng, 2*ts, c.p)}
			if c.q > 0 {
				spaces = append(spaces, randSpace(rng, 2*ts, c.q))
			}
			p := newPlanWith(spaces, 2*ts, 1, ts, kernelAuto, with32(ks, k32))
			p.prec = c.prec
			sc := p.newScratch()
			sl := p.newSlot()
			p.setTile(&sl, 0, 1)
			shift := make([]float64, p.k)
			share(b, c.prec, 1, float64(ts*ts)*float64(2*(c.p+c.q)), func() {
				p.tile(sc, 0, ts, ts, ts, false, shift, sl.tile.S, sl.tile.RowI, sl.viewJ)
			})
		})
	}
	for _, dim := range []int{64, 256} {
		for _, w := range []int{1, 2} {
			b.Run(fmt.Sprintf("compute/%s/n=8192/p=q=%d/workers=%d", ks.name, dim, w), func(b *testing.B) {
				const n = 8192
				rng := rand.New(rand.NewPCG(1, 2))
				spaces := []Space{randSpace(rng, n, dim), randSpace(rng, n, dim)}
				pairs := float64(n) * float64(n-1) / 2
				share(b, Float64, w, pairs*float64(4*dim), func() {
					if _, err := computeWith(b.Context(), spaces, Options{Workers: w}, kernelAuto, with32(ks, k32)); err != nil {
						b.Fatal(err)
					}
				})
			})
		}
	}
}
