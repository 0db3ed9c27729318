package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestBudget: -budget runs the exact statistic when it fits, saying so
// with its predictions in the JSON; a budget nothing fits is a data error
// naming the time; -budget refuses an estimator of its own.
func TestBudget(t *testing.T) {
	code, stdout, stderr := runCLI(t, nil, "-budget", "1h", "-format", "json", "-x", "model_a", "-y", "model_b", example)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	if got["estimator"] != "exact" || got["budget_seconds"] != 3600.0 || !(got["predicted_exact_seconds"].(float64) > 0) || got["reason"] == "" || got["bcdcor"] == nil {
		t.Errorf("-budget 1h: %s", stdout)
	}
	code, _, stderr = runCLI(t, nil, "-budget", "1ns", "-x", "model_a", "-y", "model_b", example)
	if code != 1 || !strings.Contains(stderr, "over the time budget") {
		t.Errorf("-budget 1ns: exit %d, stderr %q", code, stderr)
	}
	xy := []string{"-x", "model_a", "-y", "model_b"}
	for _, args := range [][]string{
		append(xy, "-budget", "1s", "-estimator", "tiles", example),
		append(xy, "-budget", "1s", "-ci", example),
		append(xy, "-shuffle", "3", example),
		append(xy, "-estimator", "blocks", "-shuffle", "3", "-"),
	} {
		code, _, stderr = runCLI(t, nil, args...)
		if code != 2 || strings.Contains(stderr, "more than one FILE") {
			t.Errorf("%v: exit %d, want 2; %s", args, code, stderr)
		}
	}
}

// TestBlocksMatrixCLI: the matrix mode takes -estimator blocks, prints
// the SEs of every estimate and names the estimator; the V-statistic
// heatmap is refused.
func TestBlocksMatrixCLI(t *testing.T) {
	code, stdout, stderr := runCLI(t, nil, "matrix", "-spaces", "model_a,model_b", "-given", "noise", "-estimator", "blocks", "-block", "100", "-shuffle", "5", example)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, w := range []string{"ESTIMATOR: blocks", "10 blocks of 100", "-shuffle 5", "bcdcor_se:", "pdcor_se:", "semi_partial_se:"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("text output without %q:\n%s", w, stdout)
		}
	}
	if strings.Contains(stdout, "\ndcor:") || strings.Contains(stdout, "p_value:") {
		t.Errorf("the block matrix prints V-statistics or p-values:\n%s", stdout)
	}
	code, _, _ = runCLI(t, nil, "matrix", "-spaces", "model_a,model_b", "-estimator", "blocks", "-heatmap", t.TempDir()+"/h.png", "-heatmap-stat", "dcor", example)
	if code != 2 {
		t.Errorf("-heatmap-stat dcor with blocks: exit %d, want 2", code)
	}
}
