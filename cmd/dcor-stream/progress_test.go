package main

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

func TestProgressLines(t *testing.T) {
	var buf bytes.Buffer
	if p := newProgress(&buf, false, false, 1e6); p != nil {
		t.Fatal("progress shown on a non-terminal without -progress")
	}
	if p := newProgress(&buf, true, true, 1e6); p != nil {
		t.Fatal("progress shown with -quiet")
	}
	p := newProgress(&buf, false, true, 1e6)
	clock := time.Unix(0, 0)
	p.now = func() time.Time { return clock }
	for done := 1; done <= 100; done++ {
		clock = clock.Add(time.Second)
		p.update(nil, done, 100)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	// One line per 10 s of the 100 s, and the last one.
	if len(lines) < 9 || len(lines) > 12 {
		t.Fatalf("%d progress lines, want about 10:\n%s", len(lines), buf.String())
	}
	last := lines[len(lines)-1]
	if !strings.Contains(last, "100.0% (100 of 100 tiles)") || !strings.Contains(last, "ETA 0s") {
		t.Errorf("last line %q: want 100%% and ETA 0s", last)
	}
	if !strings.Contains(lines[0], "pairs/s") {
		t.Errorf("line %q has no rate", lines[0])
	}
}

func TestProgressBar(t *testing.T) {
	var buf bytes.Buffer
	p := &progress{w: &buf, terminal: true, every: 0, pairs: 1e6, now: time.Now}
	p.update(nil, 5, 10)
	p.update(nil, 10, 10)
	out := buf.String()
	if !strings.HasPrefix(out, "\r[") || !strings.Contains(out, " 50.0%") || !strings.HasSuffix(out, "\n") {
		t.Errorf("bar output %q: want \\r-redrawn bars ending in a newline", out)
	}
}

// TestProgressFlag: stderr is not a terminal in tests, so progress shows
// only with -progress, and the result on stdout is unchanged.
func TestProgressFlag(t *testing.T) {
	args := []string{"-format", "json", "-tile", "64", "-x", "model_a", "-y", "model_b", example}
	_, want, quiet := runCLI(t, nil, args...)
	if quiet != "" {
		t.Errorf("stderr without -progress: %q", quiet)
	}
	code, got, stderr := runCLI(t, nil, append([]string{"-progress"}, args...)...)
	if code != 0 || got != want {
		t.Fatalf("-progress changed the result: exit %d\n%s\nwant\n%s", code, got, want)
	}
	if !strings.Contains(stderr, "100.0% (136 of 136 tiles)") {
		t.Errorf("-progress stderr %q: want the final 100%% line", stderr)
	}
}

// TestPrecisionFlag: -precision float32 stays within its documented error
// of the float64 reference, and says so in the output.
func TestPrecisionFlag(t *testing.T) {
	args := []string{"-format", "json", "-x", "model_a", "-y", "model_b", "-z", "noise", example}
	_, want, _ := runCLI(t, nil, args...)
	code, got, stderr := runCLI(t, nil, append([]string{"-precision", "float32"}, args...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(got, `"precision":"float32"`) || strings.Contains(want, `"precision"`) {
		t.Errorf("precision field: float32 %q, float64 %q", got, want)
	}
	var g, w map[string]any
	json.Unmarshal([]byte(got), &g)
	json.Unmarshal([]byte(want), &w)
	for _, k := range []string{"dcor", "bcdcor", "pdcor", "bcdcor_xz"} {
		gv, wv := g[k].(float64), w[k].(float64)
		if math.Abs(gv-wv) > 1e-7 {
			t.Errorf("%s: float32 %v, float64 %v: differ by more than 1e-7", k, gv, wv)
		}
	}
	if code, _, _ := runCLI(t, nil, append([]string{"-precision", "float16"}, args...)...); code != 2 {
		t.Errorf("-precision float16: exit %d, want 2", code)
	}
	if code, _, _ := runCLI(t, nil, "matrix", "-precision", "float32", "-spaces", "model_a,model_b", example); code != 0 {
		t.Errorf("matrix -precision float32: exit %d", code)
	}
}

// TestMatrixProgress: matrix takes -progress and -quiet too, in memory
// (tiles) and under -mem (pairs), and its stdout is unchanged.
func TestMatrixProgress(t *testing.T) {
	args := []string{"-format", "json", "-tile", "64", "-spaces", "model_a,model_b,label", example}
	for _, mode := range [][]string{nil, {"-mem", "256KiB"}} {
		base := append(append([]string{"matrix"}, mode...), args...)
		_, want, _ := runCLI(t, nil, base...)
		code, got, stderr := runCLI(t, nil, append([]string{"matrix", "-progress"}, base[1:]...)...)
		if code != 0 || got != want {
			t.Errorf("%v with -progress: exit %d, stdout changed:\n%s\nwant:\n%s", base, code, got, want)
		}
		if !strings.Contains(stderr, "100.0% (") {
			t.Errorf("%v with -progress: stderr %q, want a last line at 100%%", base, stderr)
		}
		if _, _, stderr := runCLI(t, nil, append([]string{"matrix", "-progress", "-quiet"}, base[1:]...)...); strings.Contains(stderr, "%") {
			t.Errorf("%v with -quiet: stderr %q, want no progress", base, stderr)
		}
	}
}
