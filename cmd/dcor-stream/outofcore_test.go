package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"gonum.org/v1/gonum/floats/scalar"
)

// exampleStream returns the example as an Arrow IPC stream.
func exampleStream(t *testing.T) []byte {
	t.Helper()
	f, err := os.Open(example)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := ipc.NewFileReader(f, ipc.WithAllocator(memory.DefaultAllocator))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(r.Schema()))
	for i := range r.NumRecords() {
		rec, err := r.RecordBatch(i)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var passesField = regexp.MustCompile(`,"passes":(\d+)}`)

// anyPasses is the "passes" member of the pair's or the matrix's JSON.
var anyPasses = regexp.MustCompile(`,"passes":\d+`)

// TestOutOfCoreEqualsInMemory: under -mem small enough for several passes
// the JSON output is the in-memory run's, character for character, plus
// the "passes" member.
func TestOutOfCoreEqualsInMemory(t *testing.T) {
	stream := exampleStream(t)
	for _, tc := range []struct {
		name  string
		args  []string
		stdin bool
	}{
		{"pair", []string{"-x", "model_a", "-y", "model_b"}, false},
		{"partial", []string{"-x", "model_b", "-y", "label", "-z", "model_a"}, false},
		{"exponent", []string{"-exponent", "0.5", "-x", "noise", "-y", "label", "-z", "model_b", "-workers", "3"}, false},
		{"tile", []string{"-tile", "100", "-x", "model_a", "-y", "noise"}, false},
		{"stdin", []string{"-x", "model_b", "-y", "label", "-z", "model_a"}, true},
		{"permutations", []string{"-permutations", "9", "-seed", "3", "-x", "model_b", "-y", "label", "-workers", "2"}, false},
		{"pdcov-permutations", []string{"-permutations", "9", "-seed", "3", "-x", "model_b", "-y", "label", "-z", "model_a", "-workers", "2"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, file := []byte(nil), example
			if tc.stdin {
				in, file = stream, "-"
			}
			args := append([]string{"-format", "json"}, tc.args...)
			code, want, stderr := runCLI(t, in, append(args, file)...)
			if code != 0 {
				t.Fatalf("in memory: exit %d: %s", code, stderr)
			}
			code, got, stderr := runCLI(t, in, append(append(args, "-mem", "64KiB", "-tmpdir", t.TempDir()), file)...)
			if code != 0 {
				t.Fatalf("-mem 64KiB: exit %d: %s", code, stderr)
			}
			m := passesField.FindStringSubmatch(got)
			if m == nil {
				t.Fatalf("-mem 64KiB: no passes field in %s", got)
			}
			if p, _ := strconv.Atoi(m[1]); p < 3 {
				t.Errorf("-mem 64KiB: %d passes, want >= 3", p)
			}
			if stripped := passesField.ReplaceAllString(got, "}"); stripped != want {
				t.Errorf("-mem 64KiB:\n%s\nin memory:\n%s", stripped, want)
			}
			for _, line := range []string{"using panels of one tile", "passes over the input"} {
				if !strings.Contains(stderr, line) {
					t.Errorf("-mem 64KiB: stderr lacks %q:\n%s", line, stderr)
				}
			}
		})
	}
}

// TestOutOfCoreText: the text output is the in-memory one, and a large
// budget is one panel: two passes.
func TestOutOfCoreText(t *testing.T) {
	args := []string{"-x", "model_a", "-y", "noise", "-z", "label", example}
	_, want, _ := runCLI(t, nil, args...)
	code, got, stderr := runCLI(t, nil, append([]string{"-mem", "1GiB"}, args...)...)
	if code != 0 || got != want {
		t.Errorf("-mem 1GiB: exit %d, stdout:\n%s\nwant:\n%s", code, got, want)
	}
	if !strings.Contains(stderr, "1 panels of 1024 rows, 2 passes") {
		t.Errorf("-mem 1GiB: stderr %q, want one panel and 2 passes", stderr)
	}
}

// TestOutOfCoreProgress: under -mem, -progress counts pairs and ends at
// all of them, whatever the panels; stdout is unchanged.
func TestOutOfCoreProgress(t *testing.T) {
	args := []string{"-format", "json", "-x", "model_a", "-y", "model_b", example}
	for _, mem := range []string{"1GiB", "100KiB"} {
		_, want, _ := runCLI(t, nil, append([]string{"-mem", mem}, args...)...)
		code, got, stderr := runCLI(t, nil, append([]string{"-progress", "-mem", mem}, args...)...)
		if code != 0 || got != want {
			t.Errorf("-progress -mem %s: exit %d, stdout:\n%s\nwant:\n%s", mem, code, got, want)
		}
		// n = 1000: 1000·999/2 pairs.
		if !strings.Contains(stderr, "100.0% (4.995e+05 of 4.995e+05 pairs)") {
			t.Errorf("-progress -mem %s: stderr %q, want a last line at 100%% of 4.995e+05 pairs", mem, stderr)
		}
	}
	if _, _, stderr := runCLI(t, nil, append([]string{"-quiet", "-progress", "-mem", "100KiB"}, args...)...); strings.Contains(stderr, "pairs") {
		t.Errorf("-quiet -progress -mem: stderr %q, want no progress", stderr)
	}
}

// TestOutOfCoreChanged: a file rewritten between passes is an error, exit
// status 1.
func TestOutOfCoreChanged(t *testing.T) {
	src, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "acts.arrow")
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	o, err := parseFlags([]string{"-mem", "64KiB", "-x", "model_a", "-y", "model_b", path}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	o.afterPass = func(pass int) {
		if pass == 2 {
			if err := os.WriteFile(path, append(src, 0), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	var stdout bytes.Buffer
	err = compute(t.Context(), o, nil, &stdout, &stderr)
	t.Logf("error: %v", err)
	if code := exitCode(err, "dcor-stream", &stderr); code != 1 || !strings.Contains(stderr.String(), "changed") {
		t.Errorf("file changed after pass 2: exit %d, stderr:\n%s", code, &stderr)
	}
	if stdout.Len() != 0 {
		t.Errorf("file changed after pass 2: stdout %q, want nothing", &stdout)
	}
}

// TestOutOfCoreCheckpoint: a -mem run stopped after any pass resumes from
// its checkpoint and prints what an uninterrupted run prints; a checkpoint
// is refused by a run with another -mem, or without -mem.
func TestOutOfCoreCheckpoint(t *testing.T) {
	cp := filepath.Join(t.TempDir(), "cp")
	args := []string{"-format", "json", "-x", "model_a", "-y", "model_b", "-z", "label", "-mem", "64KiB", example}
	withCP := append([]string{"-checkpoint", cp, "-checkpoint-every", "1ns"}, args...)
	// The passes of the process differ after a resume; the rest may not.
	passes := regexp.MustCompile(`,"passes":[0-9]+`)
	_, want, _ := runCLI(t, nil, args...)
	want = passes.ReplaceAllString(want, "")
	for _, stop := range []int{1, 2, 4} {
		os.Remove(cp)
		var stderr bytes.Buffer
		o, err := parseFlags(withCP, &stderr)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		o.afterPass = func(pass int) {
			if pass == stop {
				cancel()
			}
		}
		err = compute(ctx, o, nil, io.Discard, &stderr)
		cancel()
		if err == nil {
			t.Fatalf("stopped after pass %d: no error", stop)
		}
		if _, err := os.Stat(cp); err != nil && stop > 1 {
			t.Fatalf("stopped after pass %d: no checkpoint: %v", stop, err)
		}
		code, got, stderrText := runCLI(t, nil, withCP...)
		if code != 0 || passes.ReplaceAllString(got, "") != want {
			t.Errorf("resumed after pass %d: exit %d, stdout:\n%s\nwant:\n%s", stop, code, got, want)
		}
		if stop > 1 && !strings.Contains(stderrText, "resuming from") {
			t.Errorf("after pass %d: stderr %q, want a resume", stop, stderrText)
		}
		if _, err := os.Stat(cp); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("after the run resumed from pass %d: the checkpoint is still there (%v)", stop, err)
		}
	}

	// A checkpoint resumes under another -mem, without -mem, and under
	// other -workers (the done tiles are recorded, not a panel layout);
	// a checkpoint of other spaces is refused, saying which.
	for _, tc := range []struct {
		args []string
		want string // "" to resume
	}{
		{[]string{"-checkpoint", cp, "-mem", "8MiB", "-workers", "1", "-format", "json", "-x", "model_a", "-y", "model_b", "-z", "label", example}, ""},
		{[]string{"-checkpoint", cp, "-workers", "3", "-format", "json", "-x", "model_a", "-y", "model_b", "-z", "label", example}, ""},
		{[]string{"-checkpoint", cp, "-mem", "64KiB", "-x", "model_a", "-y", "model_b", "-z", "model_a", example}, "space 2 differs"},
	} {
		os.Remove(cp)
		o, err := parseFlags(withCP, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		o.afterPass = func(pass int) {
			if pass == 3 {
				cancel()
			}
		}
		compute(ctx, o, nil, io.Discard, io.Discard)
		cancel()
		code, got, stderr := runCLI(t, nil, tc.args...)
		if tc.want == "" {
			if code != 0 || !strings.Contains(stderr, "resuming from") || passes.ReplaceAllString(got, "") != want {
				t.Errorf("%v: exit %d, stderr %q, stdout:\n%s\nwant a resume and:\n%s", tc.args, code, stderr, got, want)
			}
			continue
		}
		if code != 1 || !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, "remove it") {
			t.Errorf("%v: exit %d, stderr %q, want 1 and %q", tc.args, code, stderr, tc.want)
		}
	}
}

// TestEvery: -every N prints one JSON line per N rows with the statistics
// of the rows so far, then the result, which equals the in-memory one to
// 1e-12; from a file and from standard input.
func TestEvery(t *testing.T) {
	args := []string{"-format", "json", "-x", "model_b", "-y", "label", "-z", "model_a"}
	for _, stdin := range []bool{false, true} {
		in, file := []byte(nil), example
		if stdin {
			in, file = exampleStream(t), "-"
		}
		_, want, _ := runCLI(t, in, append(args, file)...)
		code, got, stderr := runCLI(t, in, append(append(args, "-every", "300"), file)...)
		if code != 0 {
			t.Fatalf("-every 300: exit %d: %s", code, stderr)
		}
		lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
		if len(lines) != 4 {
			t.Fatalf("-every 300 over 1000 rows: %d lines, want 4:\n%s", len(lines), got)
		}
		for i, line := range lines {
			var v map[string]any
			if err := json.Unmarshal([]byte(line), &v); err != nil {
				t.Fatalf("line %d: %v: %s", i, err, line)
			}
			if wantN := min(300*(i+1), 1000); v["n"] != float64(wantN) {
				t.Errorf("line %d: n = %v, want %d", i, v["n"], wantN)
			}
		}
		var g, w map[string]any
		json.Unmarshal([]byte(lines[3]), &g)
		json.Unmarshal([]byte(want), &w)
		for k, wv := range w {
			if f, ok := wv.(float64); ok {
				if gf, _ := g[k].(float64); !scalar.EqualWithinAbsOrRel(gf, f, 1e-300, 1e-12) {
					t.Errorf("stdin=%v: final %s = %v, want %v", stdin, k, gf, f)
				}
			}
		}
	}
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"64MiB", 64 << 20}, {"8GiB", 8 << 30}, {"512MB", 512e6}, {"4096", 4096},
		{"64KiB", 64 << 10}, {"1.5GiB", 3 << 29}, {"100kb", 1e5}, {"7 B", 7},
	} {
		if got, err := parseSize(tc.in); err != nil || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v, want %d", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "0", "-5MiB", "12XB", "MiB", "1e30"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q): no error", in)
		}
	}
}

func TestOutOfCoreUsage(t *testing.T) {
	for _, args := range [][]string{
		{"-mem", "lots", "-x", "model_a", "-y", "model_b", example},
		{"-mem", "64MiB", "-every", "10", "-x", "model_a", "-y", "model_b", example},
		{"-every", "-1", "-x", "model_a", "-y", "model_b", example},
	} {
		if code, _, stderr := runCLI(t, nil, args...); code != 2 {
			t.Errorf("%s: exit %d, want 2: %s", strings.Join(args, " "), code, stderr)
		}
	}
}

// TestMatrixOutOfCore: the matrix mode under -mem prints what it prints in
// memory, with -given, -normalize-rows and a rectangular layout.
func TestMatrixOutOfCore(t *testing.T) {
	for _, args := range [][]string{
		{"matrix", "-format", "json", "-spaces", "a_layer*", networks},
		{"matrix", "-format", "csv", "-rows", "a_layer[1-3]", "-cols", "b_*", "-given", "input", "-normalize-rows", networks},
		{"matrix", "-format", "json", "-exponent", "0.5", "-spaces", "model_a,noise,label", example},
	} {
		code, want, stderr := runCLI(t, nil, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		mem := append([]string{args[0], "-mem", "256KiB"}, args[1:]...)
		code, got, stderr := runCLI(t, nil, mem...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", mem, code, stderr)
		}
		if !strings.Contains(stderr, "passes over the input") {
			t.Errorf("%v: stderr %q does not report the passes", mem, stderr)
		}
		if got = anyPasses.ReplaceAllString(got, ""); got != want { // see TestMatrixMemPasses
			t.Errorf("%v:\n%s\nwant (in memory):\n%s", mem, got, want)
		}
	}
	if code, _, stderr := runCLI(t, nil, "matrix", "-mem", "1MiB", "-minibatch", "100", "-spaces", "a_layer*", networks); code != 2 {
		t.Errorf("-mem with -minibatch: exit %d, want 2 (%s)", code, stderr)
	}
}

// TestMatrixMemPasses: under -mem the matrix's JSON carries "passes", as
// the pair's does, and is otherwise the in-memory run's.
func TestMatrixMemPasses(t *testing.T) {
	args := []string{"matrix", "-quiet", "-format", "json", "-rows", "a_layer[1-2]", "-cols", "b_*", "-tile", "128", networks}
	code, want, stderr := runCLI(t, nil, args...)
	if code != 0 || strings.Contains(want, `"passes"`) {
		t.Fatalf("in memory: exit %d, %s; stdout %s (want no passes)", code, stderr, want)
	}
	code, got, stderr := runCLI(t, nil, append(args, "-mem", "64KiB")...)
	m := regexp.MustCompile(`,"passes":(\d+),"flags":`).FindStringSubmatch(got)
	if code != 0 || m == nil || m[1] == "0" || m[1] == "1" {
		t.Fatalf("-mem 64KiB: exit %d, %s; stdout %s; want \"passes\" of several passes before \"flags\"", code, stderr, got)
	}
	if got = strings.Replace(got, `,"passes":`+m[1], "", 1); got != want {
		t.Errorf("-mem 64KiB, without its passes:\n%s\nin memory:\n%s", got, want)
	}
}
