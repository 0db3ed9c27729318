package job

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/dcor-stream/dcor-stream/stream"
)

// TestChoose: the decision of a budget run from injected rates: exact when
// its prediction fits the share of the budget left after calibration (by
// the univariate path when it applies), else the largest block whose
// predicted cost fits (capped to leave minBlocks blocks), else ErrTimeBudget.
func TestChoose(t *testing.T) {
	for _, tc := range []struct {
		name   string
		n      int
		budget time.Duration
		spent  time.Duration
		rt     rates
		want   string // "exact", "blocks" or "error"
	}{
		{"small n exact", 4000, 10 * time.Second, 30 * time.Millisecond, rates{pair: 3e-9, perBlock: 1e-4}, "exact"},
		{"large n blocks", 200000, 10 * time.Second, 200 * time.Millisecond, rates{pair: 5e-9, perBlock: 1e-4}, "blocks"},
		{"blocks capped by minBlocks", 200000, 60 * time.Second, 0, rates{pair: 5e-9, perBlock: 1e-4}, "blocks"},
		{"univariate fits", 10_000_000, 10 * time.Second, 0, rates{pair: 1e-9, perBlock: 1e-5, univariate: 1e-8}, "exact"},
		{"univariate too slow", 100_000_000, 10 * time.Second, 0, rates{pair: 1e-10, perBlock: 1e-6, univariate: 1e-8}, "blocks"},
		{"nothing fits", 10_000_000, time.Second, 0, rates{pair: 5e-9, perBlock: 1e-2}, "error"},
		{"calibration ate the budget", 200000, time.Second, 2 * time.Second, rates{pair: 5e-9, perBlock: 1e-4}, "error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := choose(tc.budget, tc.spent, tc.n, tc.rt)
			if tc.want == "error" {
				if !errors.Is(err, ErrTimeBudget) {
					t.Fatalf("choose = %+v, %v; want ErrTimeBudget", c, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Estimator != tc.want {
				t.Fatalf("estimator %q, want %q (%s)", c.Estimator, tc.want, c.Reason)
			}
			fit := budgetUse * (tc.budget - tc.spent).Seconds()
			if !(c.Predicted <= fit) || c.Reason == "" {
				t.Errorf("predicted %v s beyond %v s, or no reason %q", c.Predicted, fit, c.Reason)
			}
			if c.Estimator == "exact" {
				return
			}
			if !(c.PredictedExact > fit) {
				t.Errorf("blocks chosen while exact (%v s) fits %v s", c.PredictedExact, fit)
			}
			cost := func(b int) float64 {
				return float64(tc.n/b) * (tc.rt.pair*float64(b)*float64(b-1)/2 + tc.rt.perBlock)
			}
			if math.Abs(cost(c.Block)-c.Predicted) > 1e-12 {
				t.Errorf("predicted %v, cost(%d) = %v", c.Predicted, c.Block, cost(c.Block))
			}
			if c.Block < tc.n/minBlocks && cost(c.Block+1) <= fit && cost(c.Block+2) <= fit {
				t.Errorf("B = %d is not the largest block that fits: cost(B+2) = %v ≤ %v", c.Block, cost(c.Block+2), fit)
			}
			if c.Block > tc.n/minBlocks {
				t.Errorf("B = %d leaves fewer than %d blocks of %d samples", c.Block, minBlocks, tc.n)
			}
		})
	}
}

// TestBudgetRun: a budget run with injected rates runs what it chose on
// the data in memory, and gives the same bits as that estimator asked
// directly; its results carry the choice.
func TestBudgetRun(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n = 640
	x, y := make([]float64, 3*n), make([]float64, 2*n)
	for i := range n {
		for j := range 3 {
			x[3*i+j] = float64(rng.IntN(50))
		}
		y[2*i], y[2*i+1] = x[3*i]+float64(rng.IntN(30)), float64(rng.IntN(9))
	}
	data := []stream.Space{{Name: "x", Data: x, Dim: 3}, {Name: "y", Data: y, Dim: 2}}
	slow := &rates{pair: 1e-3, perBlock: 0} // exact: 204 s; B = 23 fits 3 s·0.75
	out, err := Run(t.Context(), Spec{Data: data, Budget: 4 * time.Second, rates: slow})
	if err != nil {
		t.Fatal(err)
	}
	b := out.Blocks
	if b == nil || b.Budget == nil || b.Budget.Estimator != "blocks" || b.Block != b.Budget.Block || !(b.BCDCorSE > 0) {
		t.Fatalf("slow rates: %+v", out)
	}
	direct, err := Run(t.Context(), Spec{Data: data, Estimator: "blocks", Block: b.Block})
	if err != nil {
		t.Fatal(err)
	}
	if direct.Blocks.BlockResult != b.BlockResult {
		t.Errorf("budget blocks %+v, direct %+v", b.BlockResult, direct.Blocks.BlockResult)
	}

	fast := &rates{pair: 1e-12, perBlock: 0}
	out, err = Run(t.Context(), Spec{Data: data, Budget: time.Second, rates: fast})
	if err != nil {
		t.Fatal(err)
	}
	exact, err := Run(t.Context(), Spec{Data: data})
	if err != nil {
		t.Fatal(err)
	}
	if p := out.Pair; p == nil || p.Budget == nil || p.Budget.Estimator != "exact" || p.Result != exact.Pair.Result {
		t.Errorf("fast rates: %+v, exact %+v", out.Pair, exact.Pair)
	}
	if _, err := Run(t.Context(), Spec{Data: data, Budget: time.Second, Estimator: "tiles"}); !errors.Is(err, ErrSpec) {
		t.Errorf("a budget with an estimator: %v, want ErrSpec", err)
	}
}

// TestChooseSpentBudget: when the calibration alone took longer than the
// budget, the message says so, without a negative time left.
func TestChooseSpentBudget(t *testing.T) {
	_, err := choose(time.Millisecond, 81*time.Millisecond, 3000, rates{pair: 5e-9, perBlock: 1e-4})
	if !errors.Is(err, ErrTimeBudget) || !strings.Contains(err.Error(), "the calibration alone took 0.081 s") || strings.Contains(err.Error(), " -") {
		t.Errorf("err = %v, want ErrTimeBudget saying the calibration took the budget, and no negative seconds", err)
	}
}

// TestWorkersBounded: absurd worker counts are bounded: by maxWorkers,
// and the fingerprint's hashing by its chunks (each worker allocated a
// chunk's buffer: 10^7 workers took minutes before the first tile).
func TestWorkersBounded(t *testing.T) {
	if w := (&Spec{Options: Options{Workers: 10_000_000}}).workers(); w > maxWorkers {
		t.Errorf("workers() = %d for -workers 10^7, want at most %d", w, maxWorkers)
	}
	x := make([]float64, 40)
	allocs := testing.AllocsPerRun(2, func() {
		if _, err := hashChunks(t.Context(), [][]float64{x}, []int{1}, 40, 16, 1<<18); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 100 {
		t.Errorf("hashChunks of 3 chunks on 2^18 workers: %v allocations, want a few per chunk", allocs)
	}
}
