// Package peak measures the floating-point peak of this machine: the
// rate of a register-only loop of independent fused multiply-adds
// (fma_amd64.s, written by block/asmgen/peak), on one core and on all of
// them at once, in the vector widths and precisions of the kernels of
// block/. Benchmarks report their throughput as a share of this peak,
// measured in the same run, so that a figure from a loaded or throttled
// machine, or from another CPU, can be read.
//
// Each iteration of the loop does acc independent FMAs on vectors of
// lanes elements: 2·acc·lanes flops.
package peak

//go:generate go run -C ../../block/asmgen ./peak -out ../../bench/peak/fma_amd64.s -stubs ../../bench/peak/fma_stubs_amd64.go -pkg peak

import (
	"os"
	"runtime"
	"strings"
	"sync"
	"time"
)

// Kind is one of the FMA loops.
type Kind struct {
	Name  string // "avx2/float64", …
	lanes int    // elements per vector
	acc   int    // accumulators (FMAs per iteration)
	loop  func(n int)
}

// Kinds returns the loops this CPU runs (none without AVX2 and FMA, or
// built with -tags purego, or on another architecture).
func Kinds() []Kind { return kinds() }

// Lookup returns the loop of that name and whether this CPU runs it.
func Lookup(name string) (Kind, bool) {
	for _, k := range kinds() {
		if k.Name == name {
			return k, true
		}
	}
	return Kind{}, false
}

// Measure returns the GFLOP/s of k on workers goroutines at once, each
// locked to its OS thread and running the loop for about d: the best of
// three rounds of d (a round's rate is the slowest worker's iterations
// over the round's wall time, times workers).
func Measure(k Kind, workers int, d time.Duration) float64 {
	if workers < 1 {
		panic("peak: workers < 1")
	}
	// Calibrate the iterations of one round on one worker.
	n := 1 << 16
	for {
		t0 := time.Now()
		k.loop(n)
		if el := time.Since(t0); el > d/20 {
			n = int(float64(n) * float64(d) / float64(el))
			break
		}
		n *= 4
	}
	best := 0.0
	for range 3 {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				<-start
				k.loop(n)
			}()
		}
		t0 := time.Now()
		close(start)
		wg.Wait()
		el := time.Since(t0).Seconds()
		best = max(best, float64(workers)*float64(n)*float64(2*k.acc*k.lanes)/el/1e9)
	}
	return best
}

// Sampler measures the peak in slices that can be interleaved with the
// code measured, so that both see the same share of the cores on a busy
// machine: the ratio of the two average rates is the share, where a peak
// measured before or after would see another load. The zero value is not
// usable; use NewSampler.
type Sampler struct {
	k       Kind
	workers int
	n       int // iterations of a slice of about d
	flops   float64
	seconds float64
	cpu     float64 // CPU seconds of the workers' threads (ThreadCPU)
	best    float64 // GFLOP/s of the fastest slice
}

// NewSampler returns a Sampler of k on workers cores with slices of about d.
func NewSampler(k Kind, workers int, d time.Duration) *Sampler {
	if workers < 1 {
		panic("peak: workers < 1")
	}
	n := 1 << 12
	for {
		t0 := time.Now()
		k.loop(n)
		if el := time.Since(t0); el > d/8 {
			n = max(1, int(float64(n)*float64(d)/float64(el)))
			break
		}
		n *= 2
	}
	return &Sampler{k: k, workers: workers, n: n}
}

// Sample runs one slice: the loop on every worker at once.
func (s *Sampler) Sample() {
	var wg sync.WaitGroup
	start := make(chan struct{})
	cpu := make([]float64, s.workers)
	for w := range s.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			<-start
			c0, _ := ThreadCPU()
			s.k.loop(s.n)
			c1, _ := ThreadCPU()
			cpu[w] = c1 - c0
		}()
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	el := time.Since(t0).Seconds()
	s.seconds += el
	s.best = max(s.best, float64(s.workers)*float64(s.n)*float64(2*s.k.acc*s.k.lanes)/el/1e9)
	for _, c := range cpu {
		s.cpu += c
	}
	s.flops += float64(s.workers) * float64(s.n) * float64(2*s.k.acc*s.k.lanes)
}

// GFLOPS returns the mean rate of the slices run so far.
func (s *Sampler) GFLOPS() float64 { return s.flops / s.seconds / 1e9 }

// BestGFLOPS returns the rate of the fastest slice run so far: on a
// shared machine, the slice that had its cores to itself, to compare
// with the fastest run of the code measured.
func (s *Sampler) BestGFLOPS() float64 { return s.best }

// CPUGFLOPS returns the rate of the slices run so far per second of CPU
// time of their threads (0 where ThreadCPU is not available): on a
// machine whose cores are shared, what a thread does while it runs, less
// sensitive to the time the scheduler gives it than GFLOPS.
func (s *Sampler) CPUGFLOPS() float64 {
	if s.cpu <= 0 {
		return 0
	}
	return s.flops / s.cpu / 1e9
}

// CPU returns the model name of the first processor in /proc/cpuinfo
// (Linux), else GOARCH.
func CPU() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	return runtime.GOARCH
}
