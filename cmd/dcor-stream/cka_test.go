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
		if got = anyPasses.ReplaceAllString(got, ""); code != 0 || got != want {
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

// TestRBFFlags: -rbf-sigma-x and -rbf-sigma-y set the bandwidths printed;
// -rbf-sigma sets every space's in the matrix mode; the flags without
// -cka and bad bandwidths are usage errors; -heatmap-stat cka_rbf draws.
func TestRBFFlags(t *testing.T) {
	code, out, stderr := runCLI(t, nil, "-cka", "-format", "json", "-rbf-sigma", "2", "-rbf-sigma-y", "3", "-x", "model_a", "-y", "model_b", example)
	if code != 0 || !strings.Contains(out, `"rbf_sigma_x":2,"rbf_sigma_y":3`) || !strings.Contains(out, `"cka_rbf":`) {
		t.Errorf("exit %d: %s%s", code, out, stderr)
	}
	code, out, stderr = runCLI(t, nil, "matrix", "-cka", "-format", "json", "-rbf-sigma", "4", "-spaces", "model_a,model_b", example)
	if code != 0 || !strings.Contains(out, `"rbf_sigma_rows":[4,4],"rbf_sigma_cols":[4,4]`) || !strings.Contains(out, `"hsic_rbf_u":[[`) {
		t.Errorf("matrix: exit %d: %s%s", code, out, stderr)
	}
	for _, args := range [][]string{
		{"-rbf-sigma", "2", "-x", "model_a", "-y", "model_b", example},
		{"-cka", "-rbf-sigma-x", "-1", "-x", "model_a", "-y", "model_b", example},
		{"-cka", "-rbf-sigma", "NaN", "-x", "model_a", "-y", "model_b", example},
		{"matrix", "-rbf-sigma-x", "2", "-cka", "-spaces", "model_a,model_b", example},
		{"matrix", "-heatmap", filepath.Join(t.TempDir(), "h.png"), "-heatmap-stat", "cka_rbf", "-spaces", "model_a,model_b", example},
	} {
		if code, _, stderr := runCLI(t, nil, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, stderr)
		}
	}
	png := filepath.Join(t.TempDir(), "h.png")
	if code, _, stderr := runCLI(t, nil, "matrix", "-cka", "-heatmap", png, "-heatmap-stat", "cka_rbf", "-spaces", "model_a,model_b,noise", example); code != 0 {
		t.Errorf("heatmap of cka_rbf: exit %d: %s", code, stderr)
	}
}
