package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dcor-stream/dcor-stream/job"
	"github.com/dcor-stream/dcor-stream/stream"
)

// TestShardMerge: N shards merged, in any order, print exactly what one
// run prints, on the example and on an energy reference case.
func TestShardMerge(t *testing.T) {
	ref := filepath.Join("..", "..", "testdata", "energy")
	inputs := [][]string{
		{"-tile", "64", "-x", "model_a", "-y", "model_b", "-z", "label", example},
		{"-exponent", "0.5", "-tile", "32", "-x", filepath.Join(ref, "d2_pdcor_direct_n300_x.csv"),
			"-y", filepath.Join(ref, "d2_pdcor_direct_n300_y.csv"), "-z", filepath.Join(ref, "d2_pdcor_direct_n300_z.csv")},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i, in := range inputs {
		_, want, _ := runCLI(t, nil, append([]string{"-format", "json"}, in...)...)
		for _, n := range []int{1, 3, 4} {
			dir := t.TempDir()
			var states []string
			for s := range n {
				path := filepath.Join(dir, fmt.Sprintf("s%d", s))
				code, stdout, stderr := runCLI(t, nil, append([]string{"-shard", fmt.Sprintf("%d/%d", s, n), "-state", path}, in...)...)
				if code != 0 || stdout != "" || !strings.Contains(stderr, "written to") {
					t.Fatalf("shard %d/%d: exit %d, stdout %q, stderr %q", s, n, code, stdout, stderr)
				}
				states = append(states, path)
			}
			rng.Shuffle(len(states), func(a, b int) { states[a], states[b] = states[b], states[a] })
			code, got, stderr := runCLI(t, nil, append([]string{"merge", "-format", "json"}, states...)...)
			if code != 0 {
				t.Fatalf("merge: exit %d: %s", code, stderr)
			}
			if got != want {
				t.Errorf("input %d, %d shards merged:\n%s\nwant (one run):\n%s", i, n, got, want)
			}
		}
	}
}

func TestMergeErrors(t *testing.T) {
	dir := t.TempDir()
	shard := func(name, spec string, i, n int, extra ...string) string {
		path := filepath.Join(dir, name)
		args := append([]string{"-shard", fmt.Sprintf("%d/%d", i, n), "-state", path, "-tile", "64", "-x", "model_a", "-y", spec}, extra...)
		if code, _, stderr := runCLI(t, nil, append(args, example)...); code != 0 {
			t.Fatalf("shard: %s", stderr)
		}
		return path
	}
	a0, a1, a2 := shard("a0", "model_b", 0, 3), shard("a1", "model_b", 1, 3), shard("a2", "model_b", 2, 3)
	other := shard("b1", "noise", 1, 3)
	exp := shard("c1", "model_b", 1, 3, "-exponent", "0.5")
	two := shard("d1", "model_b", 1, 2)
	junk := filepath.Join(dir, "junk")
	os.WriteFile(junk, []byte("not a state"), 0o644)
	whole, _ := os.ReadFile(a1)
	trunc := filepath.Join(dir, "trunc")
	os.WriteFile(trunc, whole[:len(whole)-9], 0o644)

	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing shard", []string{a0, a2}, 1, "missing shards [1]"},
		{"duplicate", []string{a0, a1, a1, a2}, 1, "both shard 1/3"},
		{"other data", []string{a0, other, a2}, 1, "space 1 differs: model_b (32 dims) and noise (16 dims)"},
		{"other options", []string{a0, exp, a2}, 1, "-exponent differs: 1 and 0.5"},
		{"other count", []string{a0, two, a2}, 1, "is one of 3 shards"},
		{"not a state", []string{a0, junk}, 1, "not a dcor-stream state file"},
		{"truncated", []string{a0, trunc, a2}, 1, "trunc"},
		{"no such file", []string{a0, filepath.Join(dir, "nope")}, 1, "nope"},
		{"no files", nil, 2, "needs the state files"},
	} {
		code, stdout, stderr := runCLI(t, nil, append([]string{"merge"}, tc.args...)...)
		if code != tc.code || stdout != "" || !strings.Contains(stderr, tc.want) {
			t.Errorf("merge (%s): exit %d (want %d), stdout %q, stderr %q (want it to mention %q)", tc.name, code, tc.code, stdout, stderr, tc.want)
		}
	}
	// Usage errors of -shard.
	for _, args := range [][]string{
		{"-shard", "3/3", "-state", filepath.Join(dir, "x"), "-x", "model_a", "-y", "model_b", example},
		{"-shard", "1", "-state", filepath.Join(dir, "x"), "-x", "model_a", "-y", "model_b", example},
		{"-shard", "0/2", "-x", "model_a", "-y", "model_b", example},
	} {
		if code, _, stderr := runCLI(t, nil, args...); code != 2 {
			t.Errorf("dcor-stream %s: exit %d, want 2; %s", strings.Join(args, " "), code, stderr)
		}
	}
}

// partialCheckpoint writes the checkpoint of the run of args after k tiles,
// as an interrupted run leaves it: the run is cancelled after its k-th
// tile, and the engine saves what it added.
func partialCheckpoint(t *testing.T, path string, k int, args ...string) {
	t.Helper()
	o, err := parseFlags(append([]string{"-checkpoint", path, "-workers", "1"}, args...), os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	spec := o.computeFlags.spec(o.file, nil)
	for _, s := range []string{o.x, o.y} {
		sp, err := stream.ParseSpec(s)
		if err != nil {
			t.Fatal(err)
		}
		spec.Spaces = append(spec.Spaces, sp)
	}
	cp, err := job.OpenStateFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	spec.Checkpoint = cp
	spec.CheckpointEvery = time.Hour
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	spec.Progress = func(p job.Progress) {
		if p.Tiles == k {
			cancel()
		}
	}
	if _, err := job.Run(ctx, spec); !errors.Is(err, job.ErrInterrupted) {
		t.Fatalf("partial run: %v", err)
	}
	st, err := job.ReadStateFile(path)
	if err != nil || st == nil {
		t.Fatalf("partial run left no checkpoint: %v", err)
	}
	done := 0
	for _, v := range st.Done {
		done += v[1] - v[0]
	}
	if done < k || done > k+4 {
		t.Fatalf("checkpoint holds %d tiles, cancelled after %d", done, k)
	}
}

func TestCheckpointResume(t *testing.T) {
	args := []string{"-format", "json", "-tile", "32", "-x", "model_a", "-y", "noise", example}
	_, want, _ := runCLI(t, nil, args...)
	dir := t.TempDir()
	for _, k := range []int{1, 100, 527} {
		cp := filepath.Join(dir, "cp")
		partialCheckpoint(t, cp, k, args...)
		code, got, stderr := runCLI(t, nil, append([]string{"-checkpoint", cp}, args...)...)
		if code != 0 || !strings.Contains(stderr, fmt.Sprintf("resuming from %s: %d of 528 tiles done", cp, k)) {
			t.Fatalf("resume after %d tiles: exit %d, stderr %q", k, code, stderr)
		}
		if got != want {
			t.Errorf("resumed after %d tiles:\n%s\nwant:\n%s", k, got, want)
		}
		if _, err := os.Stat(cp); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("checkpoint left behind after a successful run: %v", err)
		}
	}
	// A checkpoint of other data or other options is refused, not used.
	cp := filepath.Join(dir, "cp")
	partialCheckpoint(t, cp, 10, args...)
	for _, other := range [][]string{
		{"-format", "json", "-tile", "32", "-x", "model_a", "-y", "model_b", example},
		{"-format", "json", "-tile", "32", "-exponent", "1.5", "-x", "model_a", "-y", "noise", example},
	} {
		code, stdout, stderr := runCLI(t, nil, append([]string{"-checkpoint", cp}, other...)...)
		if code != 1 || stdout != "" || !strings.Contains(stderr, "cannot be resumed") || !strings.Contains(stderr, "remove it") {
			t.Errorf("mismatched checkpoint: exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
	}
}

// TestKillResume kills the command with SIGKILL at five random moments,
// resuming each time from its checkpoint; the final output equals that of
// an uninterrupted run, bit for bit.
func TestKillResume(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command and runs it seven times: skipped in -short mode")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "dcor-stream")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// n = 20,000 univariate pairs: long enough (a fraction of a second)
	// for kills to land mid-run.
	data := filepath.Join(dir, "xy.csv")
	var b strings.Builder
	b.WriteString("a,b\n")
	gen := rand.New(rand.NewPCG(8, 8))
	for range 20000 {
		a := gen.NormFloat64()
		fmt.Fprintf(&b, "%v,%v\n", a, a*a+gen.NormFloat64())
	}
	if err := os.WriteFile(data, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	// In memory (a checkpoint every few tiles), and under -mem (4 panels of
	// 5,120 rows: a checkpoint every few streamed blocks).
	for _, mode := range [][]string{nil, {"-mem", "800KiB"}} {
		t.Run(fmt.Sprint("mode=", mode), func(t *testing.T) {
			cp := filepath.Join(dir, "cp")
			// -estimator tiles: the univariate data would otherwise take the
			// O(n log n) path, done before a kill could land.
			args := append(append([]string{"-format", "json", "-tile", "128", "-workers", "2", "-checkpoint", cp, "-checkpoint-every", "5ms",
				"-estimator", "tiles", "-x", "a", "-y", "b"}, mode...), data)
			killResume(t, bin, cp, args)
		})
	}
	// The matrix under -mem 1MiB.
	t.Run("matrix", func(t *testing.T) {
		cp := filepath.Join(dir, "cp")
		killResume(t, bin, cp, []string{"matrix", "-format", "json", "-tile", "128", "-workers", "2", "-checkpoint", cp, "-checkpoint-every", "5ms",
			"-mem", "1MiB", "-spaces", "a,b", data})
	})
}

// killResume runs bin with args once uninterrupted, then killed with
// SIGKILL five times, each time once it has saved a new checkpoint (after
// 0 to 2 more saves, at random), then to the end: its output must be the
// uninterrupted one (but for the passes of a -mem run, which count those
// of the last process), and every run started on a checkpoint must say it
// resumed. The kills wait for the checkpoint file, not for a time, so
// that a loaded machine only makes the test slower (a kill that came
// before the first checkpoint made it flaky); a run that ends before a
// kill lands is run again.
func killResume(t *testing.T, bin, cp string, args []string) {
	passes := regexp.MustCompile(`,"passes":[0-9]+`)
	want, err := exec.Command(bin, args...).Output()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	kills, resumed := 0, 0
	for attempt := 0; kills < 5; attempt++ {
		if attempt == 50 {
			t.Fatalf("only %d of 50 runs saved a checkpoint before they ended", kills)
		}
		_, statErr := os.Stat(cp)
		onCheckpoint := statErr == nil
		cmd := exec.Command(bin, args...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		if waitSaves(cp, 1+rng.IntN(3), exited) {
			cmd.Process.Signal(syscall.SIGKILL)
			kills++
		}
		<-exited
		if onCheckpoint {
			if !strings.Contains(stderr.String(), "resuming") {
				t.Errorf("a run started on a checkpoint did not resume: %s", stderr.String())
			}
			resumed++
		}
	}
	got, err := exec.Command(bin, args...).Output()
	if err != nil {
		t.Fatal(err)
	}
	if passes.ReplaceAllString(string(got), "") != passes.ReplaceAllString(string(want), "") {
		t.Errorf("after 5 kills and resumes:\n%s\nwant (uninterrupted):\n%s", got, want)
	}
	if resumed == 0 {
		t.Errorf("no run resumed from a checkpoint: the kills did not test resuming")
	}
	t.Logf("%d runs resumed from a checkpoint", resumed)
}

// waitSaves waits until the checkpoint file cp has been written saves
// times (a save renames a new file onto it), and reports true; or false
// if exited is closed first (the run ended).
func waitSaves(cp string, saves int, exited <-chan struct{}) bool {
	last, _ := os.Stat(cp)
	for saves > 0 {
		select {
		case <-exited:
			return false
		case <-time.After(time.Millisecond):
		}
		fi, err := os.Stat(cp)
		if err == nil && (last == nil || !os.SameFile(fi, last) || !fi.ModTime().Equal(last.ModTime())) {
			last = fi
			saves--
		}
	}
	return true
}

// TestSigtermResume sends SIGTERM (or SIGINT) to runs that have saved
// their first checkpoint: the command writes a final checkpoint, exits 1
// saying the run can be resumed, and the rerun prints what an
// uninterrupted run prints.
func TestSigtermResume(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command and runs it: skipped in -short mode")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "dcor-stream")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	data := filepath.Join(dir, "xy.csv")
	var b strings.Builder
	b.WriteString("a,b\n")
	gen := rand.New(rand.NewPCG(9, 9))
	for range 20000 {
		a := gen.NormFloat64()
		fmt.Fprintf(&b, "%v,%v\n", a, a*a+gen.NormFloat64())
	}
	if err := os.WriteFile(data, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	passes := regexp.MustCompile(`,"passes":[0-9]+`)
	for _, mode := range [][]string{nil, {"-mem", "800KiB"}} {
		cp := filepath.Join(dir, "cp")
		args := append(append([]string{"-format", "json", "-tile", "128", "-workers", "2", "-checkpoint", cp, "-checkpoint-every", "1h",
			"-estimator", "tiles", "-x", "a", "-y", "b"}, mode...), data)
		want, err := exec.Command(bin, args...).Output()
		if err != nil {
			t.Fatal(err)
		}
		// Each signal is sent once the run has saved its first checkpoint
		// (after its first tile), not after a time: a run that ends first
		// is run again.
		saved := 0
		sigs := []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGTERM}
		for attempt := 0; saved < len(sigs); attempt++ {
			if attempt == 30 {
				t.Fatalf("%v: only %d of 30 runs were signalled before they ended", mode, saved)
			}
			cmd := exec.Command(bin, args...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var err error
			done := make(chan struct{})
			go func() { err = cmd.Wait(); close(done) }()
			if waitSaves(cp, 1, done) {
				cmd.Process.Signal(sigs[saved])
			}
			<-done
			var ee *exec.ExitError
			if err == nil {
				continue // it finished first
			}
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("%v, signal %d: %v, want exit status 1; stderr %q", mode, saved, err, stderr.String())
			}
			if !strings.Contains(stderr.String(), "saved in checkpoint") || !strings.Contains(stderr.String(), "to resume") {
				t.Errorf("%v, signal %d: stderr %q, want a message that it can be resumed", mode, saved, stderr.String())
			}
			saved++
		}
		got, err := exec.Command(bin, args...).Output()
		if err != nil {
			t.Fatal(err)
		}
		if passes.ReplaceAllString(string(got), "") != passes.ReplaceAllString(string(want), "") {
			t.Errorf("%v, after signals and resumes:\n%s\nwant (uninterrupted):\n%s", mode, got, want)
		}
	}
}

// TestInternalError: a panic is an internal error, exit status 3, not a
// usage error.
func TestInternalError(t *testing.T) {
	var stderr strings.Builder
	code := run(t.Context(), []string{"-format", "json", "-x", "model_a", "-y", "model_b", example}, nil, nil, &stderr)
	if code != 3 || !strings.Contains(stderr.String(), "internal error") {
		t.Errorf("a nil stdout: exit %d, stderr %q; want 3 and an internal error", code, stderr.String())
	}
}

// TestMatrixShardsMemMerge: the matrix with a given space, in shards
// under -mem or in memory, merged, prints the in-memory matrix; the pair
// mode's shards run under -mem too.
func TestMatrixShardsMemMerge(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args   []string
		format string
	}{
		{[]string{"matrix", "-spaces", "model_a,model_b", "-given", "label", "-tile", "64"}, "json"},
		{[]string{"matrix", "-rows", "a_layer[1-3]", "-cols", "b_*", "-given", "input", "-normalize-rows", "-tile", "128"}, "csv"},
		{[]string{"-x", "model_a", "-y", "model_b", "-z", "label", "-tile", "64"}, "json"},
	} {
		file := example
		if tc.args[0] == "matrix" && tc.args[2] != "model_a,model_b" {
			file = networks
		}
		code, want, stderr := runCLI(t, nil, append(append(tc.args, "-format", tc.format), file)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", tc.args, code, stderr)
		}
		for _, mem := range []string{"", "256KiB"} {
			var states []string
			for i := range 3 {
				path := filepath.Join(dir, fmt.Sprintf("s%d", i))
				args := append(tc.args, "-shard", fmt.Sprintf("%d/3", i), "-state", path)
				if mem != "" {
					args = append(args, "-mem", mem)
				}
				if code, _, stderr := runCLI(t, nil, append(args, file)...); code != 0 {
					t.Fatalf("%v: exit %d: %s", args, code, stderr)
				}
				states = append(states, path)
			}
			code, got, stderr := runCLI(t, nil, append([]string{"merge", "-format", tc.format}, states...)...)
			if code != 0 || got != want {
				t.Errorf("%v -mem %q, 3 shards merged: exit %d, %s\n%s\nwant:\n%s", tc.args, mem, code, stderr, got, want)
			}
		}
	}
}

// TestStateProtections: -state refuses to overwrite the input or a file
// that is not a state, and -state and -checkpoint cannot be the same.
func TestStateProtections(t *testing.T) {
	dir := t.TempDir()
	csv := filepath.Join(dir, "x.csv")
	os.WriteFile(csv, []byte("a,b\n1,2\n3,4\n5,7\n6,1\n"), 0o644)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-shard", "0/2", "-state", csv, "-x", "a", "-y", "b", csv}, 1, "input"},
		{[]string{"-shard", "0/2", "-state", example, "-x", "model_a", "-y", "model_b", example}, 1, "input"},
		{[]string{"-shard", "0/2", "-state", "../../README.md", "-x", "model_a", "-y", "model_b", example}, 1, "not a dcor-stream state"},
		{[]string{"-shard", "0/2", "-state", "s", "-checkpoint", "s", "-x", "model_a", "-y", "model_b", example}, 2, "same file"},
	} {
		code, _, stderr := runCLI(t, nil, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
}
