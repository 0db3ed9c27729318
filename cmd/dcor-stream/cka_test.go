package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestCKASchedules: -cka prints the same JSON in memory, under -mem and
// from 3 shards merged, in the pair and the matrix modes, cka_linear
// included.
func TestCKASchedules(t *testing.T) {
	for _, in := range [][]string{
		{"-cka", "-tile", "64", "-x", "model_a", "-y", "model_b", example},
		{"matrix", "-cka", "-tile", "64", "-rows", "a_layer1,a_layer2", "-cols", "b_block1,b_block2", networks},
	} {
		args := func(extra ...string) []string {
			if in[0] == "matrix" {
				return append(append([]string{"matrix", "-format", "json"}, extra...), in[1:]...)
			}
			return append(append([]string{"-format", "json"}, extra...), in...)
		}
		code, want, stderr := runCLI(t, nil, args()...)
		if code != 0 || !strings.Contains(want, `"cka_linear"`) {
			t.Fatalf("%v: exit %d, %s%s", in, code, want, stderr)
		}
		code, got, stderr := runCLI(t, nil, args("-mem", "64KiB")...)
		if got = passesField.ReplaceAllString(got, "}"); code != 0 || got != want {
			t.Errorf("%v -mem 64KiB: exit %d %s\n%s\nwant\n%s", in, code, stderr, got, want)
		}
		dir := t.TempDir()
		var states []string
		for s := range 3 {
			path := filepath.Join(dir, fmt.Sprintf("s%d", s))
			if code, _, stderr := runCLI(t, nil, args("-shard", fmt.Sprintf("%d/3", s), "-state", path)...); code != 0 {
				t.Fatalf("shard %d: %s", s, stderr)
			}
			states = append(states, path)
		}
		code, got, stderr = runCLI(t, nil, append([]string{"merge", "-format", "json"}, states...)...)
		if code != 0 || got != want {
			t.Errorf("%v, 3 shards merged: exit %d %s\n%s\nwant\n%s", in, code, stderr, got, want)
		}
	}
}
