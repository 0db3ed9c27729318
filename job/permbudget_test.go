package job_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dcor-stream/dcor-stream/job"
	"github.com/dcor-stream/dcor-stream/stream"
)

// TestPermutationsRBudget: -permutations R whose table and sums exceed the
// budget, or the machine's memory without one, are refused with
// ErrBudget naming -permutations and the bytes needed, in memory and out
// of core, before anything of that size is allocated (R = 2^40 was a Go
// out-of-memory crash); a small R under the same budget runs.
func TestPermutationsRBudget(t *testing.T) {
	dir := t.TempDir()
	const n = 300
	var sp []stream.Spec
	for k, name := range []string{"x", "y"} {
		data := make([]byte, 8*n)
		for i := range n {
			binary.LittleEndian.PutUint64(data[8*i:], math.Float64bits(math.Sin(float64(i*(k+2)))))
		}
		f := filepath.Join(dir, name+".npy")
		writeNpy(t, f, fmt.Sprintf("(%d, 1)", n), data)
		s, err := stream.ParseSpec(f)
		if err != nil {
			t.Fatal(err)
		}
		sp = append(sp, s)
	}
	for _, c := range []struct {
		r   int
		mem int64
	}{{1 << 40, 0}, {1 << 40, 64 << 20}, {1 << 20, 64 << 20}} {
		_, err := job.Run(t.Context(), job.Spec{Spaces: sp, Permutations: c.r, Memory: c.mem, Estimator: "tiles"})
		if !errors.Is(err, job.ErrBudget) || !strings.Contains(err.Error(), "-permutations") || !strings.Contains(err.Error(), "need") {
			t.Errorf("R = %d, -mem %d: %v, want ErrBudget naming -permutations and its need", c.r, c.mem, err)
		}
	}
	if _, err := job.Run(t.Context(), job.Spec{Spaces: sp, Permutations: 99, Memory: 64 << 20, Estimator: "tiles"}); err != nil {
		t.Errorf("R = 99 under -mem 64 MiB: %v", err)
	}
}
