package job

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/dcor-stream/dcor-stream/block"
	"github.com/dcor-stream/dcor-stream/estimator"
)

// Choice is what a Spec.Budget run chose and why: the exact run when its
// predicted time fits the budget, else the block estimator with the
// largest block that fits (its SE falls as the block grows: the variance
// of the mean of n/B block U-statistics is about 4σ₁²/n + 2σ₂²/(nB)).
// The predictions come from rates measured on the job's own data on this
// machine (wall-clock, all workers, so under the machine's load).
type Choice struct {
	Budget    time.Duration
	Estimator string // "exact" or "blocks"
	Block     int    // B of "blocks"; 0 for "exact"

	// Predicted seconds of the exact run (by the univariate path when it
	// applies, else the tiles) and of the estimator chosen; the seconds
	// the calibration took (part of the budget) and the seconds the run
	// took after it.
	PredictedExact, Predicted float64
	Calibration, Elapsed      float64
	Reason                    string
}

// writeJSON writes the choice as fields of an object:
// ,"budget_seconds","predicted_exact_seconds","predicted_seconds",
// "calibration_seconds","elapsed_seconds","reason". A nil Choice writes
// nothing.
func (c *Choice) writeJSON(b *bytes.Buffer) {
	if c == nil {
		return
	}
	fmt.Fprintf(b, `,"budget_seconds":%s,"predicted_exact_seconds":%s,"predicted_seconds":%s,"calibration_seconds":%s,"elapsed_seconds":%s,"reason":%s`,
		Number(c.Budget.Seconds()), Number(round3(c.PredictedExact)), Number(round3(c.Predicted)),
		Number(round3(c.Calibration)), Number(round3(c.Elapsed)), jsonOf(c.Reason))
}

// writeText writes the choice as a paragraph. A nil Choice writes nothing.
func (c *Choice) writeText(b *bytes.Buffer) {
	if c == nil {
		return
	}
	fmt.Fprintf(b, "BUDGET %v: ran %s in %.3g s (+ %.2g s calibration): %s\n", c.Budget, c.Estimator, c.Elapsed, c.Calibration, c.Reason)
}

func round3(v float64) float64 {
	if v == 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return v
	}
	p := math.Pow(10, 2-math.Floor(math.Log10(math.Abs(v))))
	return math.Round(v*p) / p
}

// ErrTimeBudget is returned when no estimator is predicted to fit
// Spec.Budget.
var ErrTimeBudget = errors.New("over the time budget")

// rates are the measured costs of a job on this machine, in wall-clock
// seconds with the job's workers.
type rates struct {
	pair       float64 // per pair of samples, by the tiles, every space
	perBlock   float64 // per Compute call beyond its pairs (setup, scans, state)
	univariate float64 // per n·log2(n) of the univariate path; 0 if it does not apply
}

// Budget decision constants.
const (
	// budgetUse is the share of the budget left after calibration that
	// the predicted time may fill: the rest absorbs the error of the
	// prediction (the machine's load changes; tiles of the whole input
	// reach memory beyond the caches).
	budgetUse = 0.75
	// minBlocks is the fewest blocks the budget gives the block
	// estimator: its delete-one-block SE rests on their spread.
	minBlocks = 16
)

// choose is the decision of a budget run of n samples with rates rt,
// after calibrating for spent: exact if it fits, else the block estimator
// with the largest B that fits. It returns an error wrapping
// ErrTimeBudget if not even the cheapest blocks fit.
func choose(budget, spent time.Duration, n int, rt rates) (Choice, error) {
	c := Choice{Budget: budget, Calibration: spent.Seconds()}
	path := "the tiles"
	if rt.univariate > 0 {
		path = "the univariate O(n log n) path"
		c.PredictedExact = rt.univariate * float64(n) * math.Log2(float64(n))
	} else {
		c.PredictedExact = rt.pair*float64(n)*float64(n-1)/2 + rt.perBlock
	}
	fit := budgetUse * (budget - spent).Seconds()
	if fit <= 0 {
		return c, fmt.Errorf("the budget %v cannot be met: the calibration alone took %.2g s, and the exact run is predicted to take %.3g s: %w",
			budget, spent.Seconds(), c.PredictedExact, ErrTimeBudget)
	}
	if c.PredictedExact <= fit {
		c.Estimator, c.Predicted = "exact", c.PredictedExact
		c.Reason = fmt.Sprintf("the exact run by %s is predicted to take %.3g s, within %.0f%% of the budget left after calibration (%.3g s)",
			path, c.PredictedExact, 100*budgetUse, fit)
		return c, nil
	}
	cost := func(b int) float64 {
		m := float64(n / b)
		return m * (rt.pair*float64(b)*float64(b-1)/2 + rt.perBlock)
	}
	// cost falls while the per-block overhead dominates, then grows
	// about linearly in B: search the growing side.
	lo := max(4, int(math.Sqrt(2*rt.perBlock/max(rt.pair, 1e-300))))
	hi := n / minBlocks
	if lo > hi || cost(lo) > fit {
		return c, fmt.Errorf("the budget %v cannot be met: the exact run is predicted to take %.3g s and the cheapest block estimate (%d blocks of %d rows) %.3g s, beyond %.3g s (%.0f%% of the budget left after %.2g s of calibration): %w",
			budget, c.PredictedExact, n/max(lo, 1), lo, cost(max(lo, 4)), fit, 100*budgetUse, spent.Seconds(), ErrTimeBudget)
	}
	for lo < hi { // the largest B in [lo, hi] with cost(B) ≤ fit
		mid := lo + (hi-lo+1)/2
		if cost(mid) <= fit {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	c.Estimator, c.Block, c.Predicted = "blocks", lo, cost(lo)
	why := "the largest block that fits"
	if lo == n/minBlocks {
		why = fmt.Sprintf("the largest block that leaves %d blocks for the SE", minBlocks)
	}
	c.Reason = fmt.Sprintf("the exact run by %s is predicted to take %.3g s, beyond %.0f%% of the budget left after calibration (%.3g s); the block estimator with B = %d (%s, so the smallest SE) is predicted to take %.3g s",
		path, c.PredictedExact, 100*budgetUse, fit, lo, why, c.Predicted)
	return c, nil
}

// calibration bounds: the rows of the tile calibration grow from
// calibMin, doubling, until one Compute takes calibTime or the rows reach
// calibMax or n.
const (
	calibMin, calibMax = 1024, 16384
	calibTime          = 50 * time.Millisecond
	calibSmall         = 64 // rows of the blocks timing the per-block cost
	calibUnivariate    = 1 << 17
)

// calibrate measures the rates of the job on its first rows.
func (s *Spec) calibrate(ctx context.Context, spaces []block.Space, n int, uni bool) (rates, error) {
	opts := s.blockOptions()
	head := func(rows int) []block.Space {
		out := make([]block.Space, len(spaces))
		for k, sp := range spaces {
			out[k] = block.Space{Data: sp.Data[:rows*sp.Dim], Dim: sp.Dim}
		}
		return out
	}
	var rt rates
	for rows := min(n, calibMin); ; rows = min(n, 2*rows) {
		t0 := time.Now()
		if _, err := block.Compute(ctx, head(rows), opts); err != nil {
			return rt, err
		}
		el := time.Since(t0)
		rt.pair = el.Seconds() / (float64(rows) * float64(rows-1) / 2)
		if el >= calibTime || rows >= n || rows >= calibMax {
			break
		}
	}
	if small := min(n, calibSmall); small >= 4 {
		const reps = 16
		t0 := time.Now()
		for range reps {
			if _, err := block.Compute(ctx, head(small), opts); err != nil {
				return rt, err
			}
		}
		per := time.Since(t0).Seconds() / reps
		rt.perBlock = max(0, per-rt.pair*float64(small)*float64(small-1)/2)
	}
	if uni {
		rows := min(n, calibUnivariate)
		t0 := time.Now()
		if _, err := block.Univariate(ctx, head(rows), opts); err != nil {
			return rt, err
		}
		rt.univariate = time.Since(t0).Seconds() / (float64(rows) * math.Log2(float64(rows)))
	}
	return rt, nil
}

// runBudget is a Spec.Budget run: it loads the input, calibrates, chooses
// (choose), and runs the choice on the data in memory.
func runBudget(ctx context.Context, s *Spec) (*Outcome, error) {
	r := &runner{spec: s}
	tab, err := r.read(ctx)
	if err != nil {
		return nil, err
	}
	if tab.n < 4 {
		return nil, fmt.Errorf("%d samples, need 4: %w", tab.n, estimator.ErrTooFewSamples)
	}
	t0 := time.Now()
	spaces := tab.blockSpaces(s.Options.NormalizeRows, false) // tab goes on to the chosen run
	auto := *s
	auto.Estimator = ""
	uni, err := auto.univariate(tab.n, r.spaceInfos(tab.spaces))
	if err != nil {
		return nil, err
	}
	rt := s.rates
	if rt == nil {
		m, err := s.calibrate(ctx, spaces, tab.n, uni)
		if err != nil {
			return nil, err
		}
		rt = &m
	} else if !uni {
		rt.univariate = 0
	}
	c, err := choose(s.Budget, time.Since(t0), tab.n, *rt)
	if err != nil {
		return nil, err
	}
	sub := *s
	// The rows as read (aligned by Key, if any) are the Data of the run.
	sub.Budget, sub.File, sub.Spaces, sub.Reader, sub.rates = 0, "", nil, nil, nil
	sub.Key, sub.KeyMissing = "", ""
	sub.Data, sub.dropped = tab.spaces, tab.dropped
	if c.Estimator == "blocks" {
		sub.Estimator, sub.Block = "blocks", c.Block
	}
	t1 := time.Now()
	out, err := Run(ctx, sub)
	if err != nil {
		return nil, err
	}
	c.Elapsed = time.Since(t1).Seconds()
	switch {
	case out.Blocks != nil:
		out.Blocks.Budget = &c
	case out.Matrix != nil:
		out.Matrix.Budget = &c
	case out.Pair != nil:
		out.Pair.Budget = &c
	}
	return out, nil
}
