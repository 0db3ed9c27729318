//go:build linux

package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/dcor-stream/dcor-stream/block"
)

// TestMemoryChild is the child process of TestMemoryModel: it runs the
// command on the arguments in DCOR_STREAM_MEMORY_ARGS and exits.
func TestMemoryChild(t *testing.T) {
	args := os.Getenv("DCOR_STREAM_MEMORY_ARGS")
	if args == "" {
		t.Skip("the child of TestMemoryModel")
	}
	var out strings.Builder
	if code := run(context.Background(), strings.Split(args, "\t"), nil, &out, &out); code != 0 {
		t.Fatalf("exit %d: %s", code, out.String())
	}
	// The peak RSS of this process: VmHWM is its own address space's
	// (ru_maxrss would also count the parent's RSS at the fork).
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			fmt.Printf("peak-rss-kib %s\n", strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
		}
	}
}

// TestMemoryModel checks the README's memory model of an in-memory run:
// the peak RSS of the command on two float32 .npy files is the runtime's
// baseline (the same child on a tiny input), plus the input as float64,
// plus 24 bytes per sample per space, plus the scratch of the workers
// (block.WorkerBytes each, and one more for the plan), within 1.3×. The
// child is this test binary; its peak RSS is the kernel's VmHWM, which the
// child reads when the command is done.
func TestMemoryModel(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("runs the command on 40 MB of data; the race detector changes the footprint")
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(16, 9))
	write := func(name string, n, d int) string {
		b := make([]byte, 0, 4*n*d)
		for range n * d {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(rng.NormFloat64())))
		}
		p := filepath.Join(dir, name)
		writeNpy(t, p, "<f4", fmt.Sprintf("(%d, %d)", n, d), b)
		return p
	}
	peak := func(x, y string, workers int) int64 {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestMemoryChild$", "-test.count", "1")
		cmd.Env = append(os.Environ(), "DCOR_STREAM_MEMORY_ARGS="+strings.Join([]string{"-quiet", "-workers", fmt.Sprint(workers), "-x", x, "-y", y}, "\t"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		_, v, ok := strings.Cut(string(out), "peak-rss-kib ")
		kib, err := strconv.ParseInt(strings.Fields(v + " x")[0], 10, 64)
		if !ok || err != nil {
			t.Fatalf("the child reported no peak RSS: %s", out)
		}
		return kib << 10
	}
	const n, p, q, workers = 10000, 32, 480, 2
	base := peak(write("tiny_x.npy", 50, 2), write("tiny_y.npy", 50, 2), workers)
	got := peak(write("x.npy", n, p), write("y.npy", n, q), workers)
	data := int64(8 * n * (p + q))
	model := data + 24*n*2 + (workers+1)*block.WorkerBytes([]int{p, q}, 0)
	t.Logf("peak RSS %.1f MB, baseline %.1f MB: %.1f MB above it; model %.1f MB (data %.1f MB)", mb(got), mb(base), mb(got-base), mb(model), mb(data))
	if got-base > model*13/10 || got-base < data {
		t.Errorf("peak RSS %.1f MB above the baseline; the model says %.1f MB (want within 1.3×, and at least the data, %.1f MB)", mb(got-base), mb(model), mb(data))
	}
}

func mb(b int64) float64 { return float64(b) / 1e6 }
