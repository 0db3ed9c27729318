package main

import (
	"bytes"
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
