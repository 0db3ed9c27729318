package block

import (
	"context"

	"golang.org/x/sync/errgroup"

	"github.com/dcor-stream/dcor-stream/estimator"
)

// passPlan returns the plan of an extra pass over the tiles of a complete
// state st (the jackknife, the permutation tests): Compute's plan for the
// spaces and options, checked to have st's shifts and scales, and the
// number of workers. It panics if opts.TileSize or opts.Workers is
// negative; it returns the errors of Compute for invalid spaces, or one
// wrapping ErrResume if st was made otherwise.
func passPlan(spaces []Space, st *estimator.Stats, opts Options) (*plan, int, error) {
	alpha, workers, err := opts.resolved()
	if err != nil {
		return nil, 0, err
	}
	n, err := validate(spaces)
	if err != nil {
		return nil, 0, err
	}
	p := newPlan(spaces, n, alpha, tileEdge(n, opts), kernelAuto)
	p.setShifts()
	if err := compatible(st, estimator.New(p.k, n, alpha, p.shift, p.scaleExp)); err != nil {
		return nil, 0, err
	}
	return p, workers, nil
}

// forTiles calls, for every tile (bi, bj) of the upper triangle of p's
// tile grid, the tile function of one of workers goroutines; newWorker is
// called once in each goroutine and returns its tile function (holding
// its own scratch and buffers). The passes that use it add exact sums, so
// the order of the tiles does not matter. It returns the first error of a
// tile function, or ctx.Err().
func (p *plan) forTiles(ctx context.Context, workers int, newWorker func() func(bi, bj int) error) error {
	grid := (p.n + p.tileSize - 1) / p.tileSize
	type tile struct{ bi, bj int }
	jobs := make(chan tile)
	g, gctx := errgroup.WithContext(ctx)
	// CPU bound: one goroutine per worker, and one feeding them.
	g.SetLimit(workers + 1)
	for range workers {
		g.Go(func() error {
			do := newWorker()
			for t := range jobs {
				if gctx.Err() != nil {
					continue
				}
				if err := do(t.bi, t.bj); err != nil {
					return err
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(jobs)
		for bi := range grid {
			for bj := bi; bj < grid; bj++ {
				select {
				case jobs <- tile{bi, bj}:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// bounds returns the rows of tile (bi, bj): its first rows and counts.
func (p *plan) bounds(bi, bj int) (i0, ni, j0, nj int) {
	i0, j0 = bi*p.tileSize, bj*p.tileSize
	return i0, min(p.tileSize, p.n-i0), j0, min(p.tileSize, p.n-j0)
}
