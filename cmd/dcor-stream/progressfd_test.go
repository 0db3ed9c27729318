package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/dcor-stream/dcor-stream/job"
)

type progressLine struct {
	Pass, Done, Total int
	Pairs             int64
	TotalPairs        int64 `json:"total_pairs"`
}

// readProgress parses the lines of a -progress-fd stream.
func readProgress(t *testing.T, b []byte) []progressLine {
	t.Helper()
	var lines []progressLine
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var l progressLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("progress line %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	return lines
}

// TestProgressStreamPasses: every pass's first and last update is
// written whatever the clock, and a pass starts where the tiles count
// from 0 again.
func TestProgressStreamPasses(t *testing.T) {
	var buf bytes.Buffer
	calls := 0
	update := progressLines(&buf, func(job.Progress) { calls++ })
	for range 3 {
		for done := 1; done <= 50; done++ {
			update(job.Progress{Tiles: done, TotalTiles: 50, Pairs: int64(10 * done), TotalPairs: 500})
		}
	}
	if calls != 150 {
		t.Errorf("the chained Progress was called %d times, want 150", calls)
	}
	lines := readProgress(t, buf.Bytes())
	var ends []progressLine
	for i, l := range lines {
		if i > 0 && lines[i-1].Pass == l.Pass && lines[i-1].Done >= l.Done {
			t.Errorf("line %d: %+v after %+v: want done increasing within a pass", i, l, lines[i-1])
		}
		if l.Done == l.Total {
			ends = append(ends, l)
		}
	}
	want := []progressLine{{1, 50, 50, 500, 500}, {2, 50, 50, 500, 500}, {3, 50, 50, 500, 500}}
	if len(ends) != 3 || ends[0] != want[0] || ends[1] != want[1] || ends[2] != want[2] {
		t.Errorf("last lines of the passes %+v, want %+v", ends, want)
	}
	if lines[0].Pass != 1 || lines[0].Done != 1 {
		t.Errorf("first line %+v: want pass 1, done 1", lines[0])
	}
}

// TestProgressFD runs -ci -permutations (three passes) with -progress-fd
// on a pipe, in a child process that inherits the pipe as descriptor 3
// (the run's from then on, as in a program's child: in this process the
// *os.File the command makes of it would close the descriptor when
// collected, after the test had closed and maybe reused it): the stream
// ends each pass complete, and the result is that of the run without it.
func TestProgressFD(t *testing.T) {
	args := []string{"-format", "json", "-tile", "128", "-ci", "-permutations", "9", "-x", "model_a", "-y", "model_b", example}
	if os.Getenv("DCOR_STREAM_PROGRESS_CHILD") != "" {
		code, stdout, stderr := runCLI(t, nil, append([]string{"-progress-fd", "3"}, args...)...)
		fmt.Print(stdout)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		return
	}
	if runtime.GOOS == "windows" {
		t.Skip("no inherited descriptors but 2 on Windows")
	}
	_, want, _ := runCLI(t, nil, args...)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	child := exec.Command(os.Args[0], "-test.run", "^TestProgressFD$", "-test.count", "1")
	child.Env = append(os.Environ(), "DCOR_STREAM_PROGRESS_CHILD=1")
	child.ExtraFiles = []*os.File{w}
	var stdout bytes.Buffer
	child.Stdout = &stdout
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	var stream bytes.Buffer
	stream.ReadFrom(r)
	if err := child.Wait(); err != nil || !strings.HasPrefix(stdout.String(), want) {
		t.Fatalf("with -progress-fd: %v, stdout %q; want %q", err, stdout.String(), want)
	}
	lines := readProgress(t, stream.Bytes())
	var passes []int
	for _, l := range lines {
		if l.Done == l.Total {
			passes = append(passes, l.Pass)
		}
		if l.Total != 36 || l.TotalPairs != 1000*999/2 {
			t.Errorf("line %+v: want 36 tiles of 499500 pairs i < j (n = 1000, tile 128)", l)
		}
	}
	if len(passes) != 3 || passes[0] != 1 || passes[1] != 2 || passes[2] != 3 {
		t.Errorf("complete passes %v, want [1 2 3]; lines %+v", passes, lines)
	}
}

func TestProgressFDUsage(t *testing.T) {
	for _, fd := range []string{"1", "-3", "987"} {
		code, _, stderr := runCLI(t, nil, "-progress-fd", fd, "-x", "model_a", "-y", "model_b", example)
		if code != 2 || !bytes.Contains([]byte(stderr), []byte("-progress-fd "+fd+":")) {
			t.Errorf("-progress-fd %s: exit %d, stderr %q; want a usage error", fd, code, stderr)
		}
	}
}
