package job

import (
	"context"
	"fmt"
	"math"

	"golang.org/x/sync/errgroup"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/dcor-stream/dcor-stream/block"
)

// runMinibatch is the minibatch estimator, of a matrix job or of a pair
// (the 1×1 layout of X and Y, given Z if there is one: pairLayout):
// every statistic is the mean, over batches of B samples, of the
// statistic of the batch alone. The batches are consecutive rows, or with
// Spec.Shuffle the rows in the order of the seeded permutation
// block.NewPermutation(n, Spec.ShuffleSeed).Of(0) (8n bytes of row
// indices); a last batch of fewer than B samples is kept if it
// has at least 4 (U-statistics need n ≥ 4) and dropped otherwise. The
// batches are computed concurrently, one worker each, and averaged in
// batch order, so the result does not depend on the number of workers.
// Its flags are the union of the batches' flags.
//
// Consecutive batches assume rows in random order. Unless shuffled, the
// result carries the OrderCheck of that assumption, and Spec.Notify is
// told when it fails.
func runMinibatch(ctx context.Context, s *Spec) (*Outcome, error) {
	r := &runner{spec: s}
	tab, _, err := r.load(ctx)
	if err != nil {
		return nil, err
	}
	infos := r.spaceInfos(tab.spaces)
	spaces := tab.blockSpaces(s.Options.NormalizeRows, true)
	lay := s.Matrix
	if lay == nil {
		lay = pairLayout(len(spaces)) // labelled as the matrix's: see spaceInfos
	}
	batch, n := s.Minibatch, tab.n
	var bounds [][2]int
	for i0 := 0; i0 < n; i0 += batch {
		i1 := min(n, i0+batch)
		if i1-i0 < 4 {
			break
		}
		bounds = append(bounds, [2]int{i0, i1})
	}
	if len(bounds) == 0 {
		return nil, fmt.Errorf("-minibatch %d: %d samples make no batch of at least 4", batch, n)
	}
	var order []int
	if s.Shuffle {
		order = block.NewPermutation(n, s.ShuffleSeed).Of(0)
	}
	parts, err := batchResults(ctx, s, spaces, lay, bounds, order)
	if err != nil {
		return nil, err
	}
	res := newMatrixResult(n, len(lay.Rows), len(lay.Cols), lay.Given >= 0)
	res.PValue = nil // a mean of p-values is no p-value
	res.Minibatch, res.Batches = batch, len(bounds)
	res.UnusedSamples = n - bounds[len(bounds)-1][1]
	if s.Shuffle {
		res.Shuffled, res.ShuffleSeed = true, s.ShuffleSeed
	}
	for gi, dst := range minibatchGrids(res) {
		for i := range dst {
			for j := range dst[i] {
				dst[i][j] = batchMean(parts, gi, i, j)
			}
		}
	}
	for _, p := range parts {
		for i := range res.Flags {
			for j := range res.Flags[i] {
				res.Flags[i][j] |= p.Flags[i][j]
			}
		}
	}
	opts := s.stateOptions()
	res.setLabels(infos, lay)
	res.Exponent, res.Dropped, res.NormalizeRows = opts.Exponent, tab.dropped, opts.NormalizeRows
	if opts.Precision != block.Float64.String() {
		res.Precision = opts.Precision
	}
	if !s.Shuffle && len(bounds) >= 2 {
		// The order check: as many batches of randomly drawn rows as
		// orderCheckBatches allows, compared with the consecutive ones.
		random := bounds[:min(len(bounds), orderCheckBatches)]
		if random[len(random)-1][1]-random[len(random)-1][0] < batch {
			random = random[:len(random)-1] // whole batches only
		}
		rparts, err := batchResults(ctx, s, spaces, lay, random, block.NewPermutation(n, orderCheckSeed).Of(0))
		if err != nil {
			return nil, err
		}
		res.OrderCheck = orderCheck(res, lay, parts, rparts)
		if c := res.OrderCheck; c.Warn {
			s.notify("%s", c.Warning())
		}
	}
	return &Outcome{Results: Results{Matrix: res}}, nil
}

// pairLayout is the layout of a pair job of k spaces as a matrix: X
// against Y, given Z if k = 3.
func pairLayout(k int) *Matrix {
	m := &Matrix{Rows: []int{0}, Cols: []int{1}, Given: NoGiven, RowTitle: "x", ColTitle: "y"}
	if k == 3 {
		m.Given = 2
	}
	return m
}

// minibatchGrids are the statistics the minibatch estimator averages, in
// the order of minibatchStats.
func minibatchGrids(m *MatrixResult) [][][]float64 {
	return [][][]float64{m.BCDCor, m.DCor, m.DCorSq, m.PDCor, m.SemiPartial}
}

var minibatchStats = []string{"bcdcor", "dcor", "dcor_sq", "pdcor", "semi_partial"}

// batchMean is the mean of entry (i, j) of grid gi over the batches, in
// batch order.
func batchMean(parts []*MatrixResult, gi, i, j int) float64 {
	var sum float64
	for _, p := range parts {
		sum += minibatchGrids(p)[gi][i][j]
	}
	return sum / float64(len(parts))
}

// batchResults computes the statistics of each batch [i0, i1) of the rows
// in the order order (nil: the identity), one worker per batch.
func batchResults(ctx context.Context, s *Spec, spaces []block.Space, lay *Matrix, bounds [][2]int, order []int) ([]*MatrixResult, error) {
	parts := make([]*MatrixResult, len(bounds))
	g, gctx := errgroup.WithContext(ctx)
	// Batches are small: one worker per batch, as many batches at once as
	// workers (CPU bound).
	g.SetLimit(s.workers())
	bopts := s.blockOptions()
	bopts.Workers = 1
	for b, bd := range bounds {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			sub := make([]block.Space, len(spaces))
			for k, sp := range spaces {
				d := sp.Dim
				if order == nil {
					sub[k] = block.Space{Data: sp.Data[bd[0]*d : bd[1]*d], Dim: d}
					continue
				}
				x := make([]float64, 0, (bd[1]-bd[0])*d)
				for i := bd[0]; i < bd[1]; i++ {
					row := order[i]
					x = append(x, sp.Data[row*d:(row+1)*d]...)
				}
				sub[k] = block.Space{Data: x, Dim: d}
			}
			st, err := block.Compute(gctx, sub, bopts)
			if err != nil {
				return err
			}
			parts[b], err = matrixOf(gctx, st, lay)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return parts, ctx.Err()
}

// orderCheckBatches bounds the batches of random rows the order check
// computes (about 20% more work for 128-sample batches of 20,000 rows),
// and orderCheckSeed is their permutation's seed.
const (
	orderCheckBatches = 32
	orderCheckSeed    = 0x5eed
)

// OrderCheck is the minibatch estimator's check of the order of the rows.
// The mean over consecutive batches estimates the same thing as the mean
// over batches of rows drawn at random only if the rows are in random
// order; sorted by class, say, each batch sees one class and the
// per-batch statistics say little of the whole. So the check computes
// Batches batches of randomly drawn rows (a fixed permutation) and
// compares, for every entry and statistic, the per-batch values of the
// two kinds with a two-sample t-test (pooled variance; both kinds are
// draws of the same per-batch statistic when the order is random, and
// sharing rows only makes them closer). It warns when an entry differs by
// at least 0.01 with a two-sided p-value below 0.001 divided by the number
// of entries tested (Bonferroni): the worst entry is reported.
type OrderCheck struct {
	Batches     int     // batches of random rows
	Stat        string  // the worst entry: statistic, row, col
	Row, Col    string  //
	Consecutive float64 // its mean over the consecutive batches
	Random      float64 // its mean over the random batches
	T, DF, P    float64 // the t statistic, its degrees of freedom, the two-sided p-value
	Threshold   float64 // the p-value below which it warns
	Warn        bool
}

// Warning is the message of a failed check.
func (c *OrderCheck) Warning() string {
	return fmt.Sprintf("WARNING: the rows do not look randomly ordered: %s(%s, %s) is %.4f over consecutive batches and %.4f over %d batches of randomly drawn rows (t = %.3g, p = %.2g); the minibatch mean of sorted rows (by class, say) says little of the whole: use -shuffle SEED, or drop -minibatch for the exact statistic",
		c.Stat, c.Row, c.Col, c.Consecutive, c.Random, c.Batches, c.T, c.P)
}

// orderCheck tests the consecutive batches' values (parts) against the
// random ones (random) entry by entry, skipping a space against itself.
func orderCheck(res *MatrixResult, lay *Matrix, parts, random []*MatrixResult) *OrderCheck {
	type cand struct {
		gi, i, j int
		c, r, t  float64
	}
	var tested []cand
	b, k := float64(len(parts)), float64(len(random))
	df := b + k - 2
	for gi, g := range minibatchGrids(res) {
		for i := range g {
			for j := range g[i] {
				if lay.Rows[i] == lay.Cols[j] {
					continue
				}
				mc, mr := batchMean(parts, gi, i, j), batchMean(random, gi, i, j)
				var ss float64
				for _, p := range parts {
					d := minibatchGrids(p)[gi][i][j] - mc
					ss += float64(d * d)
				}
				for _, p := range random {
					d := minibatchGrids(p)[gi][i][j] - mr
					ss += float64(d * d)
				}
				se := math.Sqrt(ss/df) * math.Sqrt(1/b+1/k)
				t := 0.0
				switch {
				case mc == mr:
				case se == 0:
					t = math.Inf(1)
				default:
					t = math.Abs(mc-mr) / se
				}
				tested = append(tested, cand{gi, i, j, mc, mr, t})
			}
		}
	}
	c := &OrderCheck{Batches: len(random), DF: df, P: 1}
	if len(tested) == 0 {
		return c
	}
	c.Threshold = 0.001 / float64(len(tested))
	worst := -1
	for x, e := range tested {
		// The worst entry among those that differ by at least 0.01;
		// else the worst of all.
		big := math.Abs(e.c-e.r) >= 0.01
		if worst < 0 {
			worst = x
			continue
		}
		w := tested[worst]
		wbig := math.Abs(w.c-w.r) >= 0.01
		if big && !wbig || big == wbig && e.t > w.t {
			worst = x
		}
	}
	e := tested[worst]
	c.Stat, c.Row, c.Col = minibatchStats[e.gi], res.Rows[e.i], res.Cols[e.j]
	c.Consecutive, c.Random, c.T = e.c, e.r, e.t
	if !math.IsInf(e.t, 1) {
		c.P = 2 * distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.CDF(-e.t)
	} else {
		c.P = 0
	}
	c.Warn = math.Abs(e.c-e.r) >= 0.01 && c.P < c.Threshold
	return c
}
