package job_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dcor-stream/dcor-stream/job"
	"github.com/dcor-stream/dcor-stream/stream"
)

// TestSpecError: every invalid combination of a Spec is a *job.SpecError
// (wrapping ErrSpec), which a command reports as a usage error; errors of
// the data are not.
func TestSpecError(t *testing.T) {
	pair := specs("model_a", "model_b")
	for _, tc := range []struct {
		name string
		spec job.Spec
	}{
		{"every with ci", job.Spec{File: activations, Spaces: pair, Every: 7, CI: 0.95}},
		{"every with cka", job.Spec{File: activations, Spaces: pair, Every: 7, CKA: true}},
		{"every with permutations", job.Spec{File: activations, Spaces: pair, Every: 7, Permutations: 5}},
		{"blocks with ci", job.Spec{File: activations, Spaces: pair, Estimator: "blocks", Block: 100, CI: 0.95}},
		{"blocks with permutations", job.Spec{File: activations, Spaces: pair, Estimator: "blocks", Block: 100, Permutations: 5}},
		{"key-missing without key", job.Spec{File: activations, Spaces: pair, KeyMissing: "drop"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := job.Run(t.Context(), tc.spec)
			var se *job.SpecError
			if !errors.As(err, &se) || !errors.Is(err, job.ErrSpec) {
				t.Errorf("Run: err = %v (%T), want a *job.SpecError wrapping ErrSpec", err, err)
			}
		})
	}
	_, err := job.Run(t.Context(), job.Spec{File: activations, Spaces: specs("model_a", "nope")})
	var se *job.SpecError
	if err == nil || errors.As(err, &se) {
		t.Errorf("a missing column: err = %v, want a data error, not a *job.SpecError", err)
	}
}

// TestCheckpointMismatchMessage: a checkpoint of another job is refused
// saying why once, and "unusable state" once (it was said twice).
func TestCheckpointMismatchMessage(t *testing.T) {
	spec := job.Spec{File: activations, Spaces: specs("model_a", "model_b")}
	spec.Options.Tile = 64
	cp := interrupted(t, spec, 2)
	spec.Checkpoint = cp
	spec.Options.Exponent = 0.5
	_, err := job.Run(t.Context(), spec)
	if !errors.Is(err, job.ErrState) {
		t.Fatalf("resume with another exponent: %v, want ErrState", err)
	}
	msg := err.Error()
	if strings.Count(msg, "unusable state") != 1 || !strings.Contains(msg, "-exponent differs: 1 and 0.5") || !strings.Contains(msg, "remove it to start over") {
		t.Errorf("message %q: want the reason, the remedy and \"unusable state\" once", msg)
	}
}

// TestIntegersPast2to53: int64 x = 2^62 + k against y = k (x = y + a
// constant) has dcor and bcdcor exactly 1, with the same bits in memory,
// under a budget and with intervals: the integers are read minus their
// first value, exactly (float64 would round 2^62 + k to multiples of
// 1024: dcor 0.88).
func TestIntegersPast2to53(t *testing.T) {
	dir := t.TempDir()
	const n = 300
	xb := make([]byte, 0, 8*n)
	yb := make([]byte, 0, 8*n)
	rng := rand.New(rand.NewPCG(5, 6))
	for range n {
		k := rng.Uint64N(1000)
		xb = binary.LittleEndian.AppendUint64(xb, 1<<62+k)
		yb = binary.LittleEndian.AppendUint64(yb, math.Float64bits(float64(k)))
	}
	x, y := filepath.Join(dir, "x.npy"), filepath.Join(dir, "y.npy")
	writeNpy(t, x, fmt.Sprintf("(%d,)", n), xb)
	b, err := os.ReadFile(x)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(x, bytes.Replace(b, []byte("'<f8'"), []byte("'<i8'"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	writeNpy(t, y, fmt.Sprintf("(%d,)", n), yb)
	var want string
	for _, mem := range []int64{0, 64 << 10} {
		spec := job.Spec{Spaces: []stream.Spec{{File: x, Columns: []string{"*"}}, {File: y, Columns: []string{"*"}}}, Memory: mem, CI: 0.95}
		spec.Options.Tile = 64
		out, err := job.Run(t.Context(), spec)
		if err != nil {
			t.Fatal(err)
		}
		if out.Pair.DCor != 1 || out.Pair.BCDCor != 1 {
			t.Errorf("memory %d: dcor %v, bcdcor %v, want 1 and 1", mem, out.Pair.DCor, out.Pair.BCDCor)
		}
		got := fingerprintOf(t, out)
		if want == "" {
			want = got
		} else if got != want {
			t.Errorf("memory %d: the bits differ from the in-memory run's", mem)
		}
	}
}
