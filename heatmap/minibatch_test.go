package heatmap_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dcor-stream/dcor-stream/heatmap"
	"github.com/dcor-stream/dcor-stream/job"
)

// TestMinibatchTitle: the title of a minibatch heatmap says so, and says
// whether the rows were shuffled or look sorted (the order check failed).
func TestMinibatchTitle(t *testing.T) {
	base := job.MatrixResult{N: 1000, Rows: []string{"layer"}, Cols: []string{"labels"}, RowDims: []int{8}, ColDims: []int{10},
		BCDCor: [][]float64{{0.2}}, DCor: [][]float64{{0.3}}, Minibatch: 128, Batches: 7}
	sorted, shuffled := base, base
	sorted.OrderCheck = &job.OrderCheck{Warn: true}
	shuffled.Shuffled, shuffled.ShuffleSeed = true, 7
	dir := t.TempDir()
	for name, c := range map[string]struct {
		r    *job.MatrixResult
		want string
	}{"sorted": {&sorted, "WARNING: the rows look sorted"}, "shuffled": {&shuffled, "rows shuffled (seed 7)"}} {
		p := filepath.Join(dir, name+".svg")
		if err := heatmap.Write(p, c.r, "bcdcor"); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(p)
		if !strings.Contains(string(b), "minibatch mean over 128-sample batches") || !strings.Contains(string(b), c.want) {
			t.Errorf("%s: the SVG's title lacks the minibatch label or %q", name, c.want)
		}
	}
}
