package heatmap_test

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dcor-stream/dcor-stream/heatmap"
	"github.com/dcor-stream/dcor-stream/job"
)

// TestWrite draws a small result as PNG and SVG, and refuses a statistic
// the result does not hold.
func TestWrite(t *testing.T) {
	r := &job.MatrixResult{N: 100, Rows: []string{"a", "b"}, Cols: []string{"x", "y", "z"},
		RowDims: []int{4, 4}, ColDims: []int{2, 2, 2},
		BCDCor: [][]float64{{0.9, 0.1, -0.05}, {0.2, 0.5, 0.3}},
		DCor:   [][]float64{{0.95, 0.3, 0.2}, {0.4, 0.7, 0.5}}}
	dir := t.TempDir()
	p := filepath.Join(dir, "h.png")
	if err := heatmap.Write(p, r, "bcdcor"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if img, err := png.Decode(bytes.NewReader(b)); err != nil || img.Bounds().Dx() < 300 {
		t.Fatalf("PNG: %v", err)
	}
	s := filepath.Join(dir, "h.svg")
	if err := heatmap.Write(s, r, "dcor"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(s); !bytes.Contains(b, []byte("<svg")) {
		t.Error("not an SVG")
	}
	if err := heatmap.Write(filepath.Join(dir, "x.png"), r, "pdcor"); err == nil || !strings.Contains(err.Error(), "pdcor") {
		t.Errorf("a missing matrix: %v", err)
	}
}
