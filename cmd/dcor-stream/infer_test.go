package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCIEverySchedule: -ci prints the same bytes in memory, under -mem,
// and from shards in two rounds (merge -state, then -from), in the pair
// mode with Z, with -permutations (with and without Z: pdcov's test too),
// and the matrix mode with a given space and with -permutations (a
// p-value per entry).
func TestCIEverySchedule(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
	}{
		{"partial", []string{"-tile", "128", "-x", "model_a", "-y", "model_b", "-z", "label", example}},
		{"permutations", []string{"-permutations", "19", "-seed", "4", "-tile", "128", "-x", "model_a", "-y", "model_b", example}},
		{"pdcov-permutations", []string{"-permutations", "19", "-seed", "4", "-tile", "128", "-x", "model_a", "-y", "model_b", "-z", "label", example}},
		{"matrix", []string{"matrix", "-tile", "128", "-rows", "model_a,model_b", "-cols", "label", "-given", "model_a", example}},
		{"matrix-permutations", []string{"matrix", "-permutations", "19", "-seed", "4", "-tile", "128", "-rows", "model_a,model_b", "-cols", "label,noise", example}},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := func(extra ...string) []string {
				if c.args[0] == "matrix" {
					return append(append([]string{"matrix"}, extra...), c.args[1:]...)
				}
				return append(extra, c.args...)
			}
			code, want, stderr := runCLI(t, nil, args("-ci", "-ci-level", "0.9", "-format", "json")...)
			if code != 0 || !strings.Contains(want, "_se") || strings.HasSuffix(c.name, "permutations") && !strings.Contains(want, `"perm_p_value"`) ||
				c.name == "pdcov-permutations" && !strings.Contains(want, `"pdcor_perm_p_value"`) {
				t.Fatalf("in memory: exit %d, %s%s", code, want, stderr)
			}
			code, got, stderr := runCLI(t, nil, args("-ci", "-ci-level", "0.9", "-format", "json", "-mem", "256KiB")...)
			if code != 0 {
				t.Fatalf("-mem: exit %d: %s", code, stderr)
			}
			if regexp.MustCompile(`,"passes":\d+`).ReplaceAllString(got, "") != want {
				t.Errorf("-mem:\n%s\nwant\n%s", got, want)
			}
			dir := t.TempDir()
			var first, second []string
			for i := range 2 {
				s := filepath.Join(dir, fmt.Sprint("s", i))
				if code, _, stderr := runCLI(t, nil, args("-ci", "-shard", fmt.Sprint(i, "/2"), "-state", s)...); code != 0 || !strings.Contains(stderr, "two rounds") {
					t.Fatalf("round 1, shard %d: exit %d: %s", i, code, stderr)
				}
				first = append(first, s)
			}
			whole := filepath.Join(dir, "whole")
			if code, _, stderr := runCLI(t, nil, append([]string{"merge", "-state", whole}, first...)...); code != 0 {
				t.Fatalf("merge -state: exit %d: %s", code, stderr)
			}
			for i := range 2 {
				j := filepath.Join(dir, fmt.Sprint("j", i))
				if code, _, stderr := runCLI(t, nil, args("-ci", "-shard", fmt.Sprint(i, "/2"), "-from", whole, "-state", j)...); code != 0 {
					t.Fatalf("round 2, shard %d: exit %d: %s", i, code, stderr)
				}
				second = append(second, j)
			}
			code, got, stderr = runCLI(t, nil, append([]string{"merge", "-format", "json", "-ci-level", "0.9"}, second...)...)
			if code != 0 || got != want {
				t.Errorf("two rounds of shards: exit %d, %s\n%s\nwant\n%s", code, stderr, got, want)
			}
			if c.args[0] == "matrix" {
				// -compare prints the same contrast from one run and from
				// the merge; without -ci it is a usage error.
				pair := "model_a,label-model_b,label"
				_, one, _ := runCLI(t, nil, args("-ci", "-ci-level", "0.9", "-format", "json", "-compare", pair)...)
				_, merged, _ := runCLI(t, nil, append([]string{"merge", "-format", "json", "-ci-level", "0.9", "-compare", pair}, second...)...)
				if !strings.Contains(one, `"compare":[{"a":{"row":"model_a","col":"label"}`) || one != merged {
					t.Errorf("-compare: one run\n%s\nmerge\n%s", one, merged)
				}
				if code, _, stderr := runCLI(t, nil, args("-compare", pair)...); code != 2 || !strings.Contains(stderr, "needs -ci") {
					t.Errorf("-compare without -ci: exit %d, %s", code, stderr)
				}
				// A bad label: exit 2 naming it and the labels, before
				// any pass (no notice of the jackknife pass), in a run
				// and in a merge.
				for _, bad := range [][]string{args("-ci", "-compare", "model_a,nope-model_b,label"),
					append([]string{"merge", "-compare", "model_a,nope-model_b,label"}, second...)} {
					code, stdout, stderr := runCLI(t, nil, bad...)
					if code != 2 || stdout != "" || !strings.Contains(stderr, `-compare "model_a,nope-model_b,label": want ROW,COL-ROW,COL, rows among [model_a model_b] and columns among [label`) || strings.Contains(stderr, "jackknife pass") {
						t.Errorf("%v: exit %d, stdout %q, stderr %s; want exit 2 naming the label and the labels, before the jackknife pass", bad[:2], code, stdout, stderr)
					}
				}
			}
			if code, _, stderr := runCLI(t, nil, args("-from", whole)...); !strings.HasSuffix(c.name, "permutations") && (code != 2 || !strings.Contains(stderr, "-from is the second round of -ci")) {
				t.Errorf("-from without -ci: exit %d, %s", code, stderr)
			}
		})
	}
}
