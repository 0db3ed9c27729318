package block

import (
	"context"
	"sync/atomic"

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

// forEach calls, for every i in [0, count), the function that
// newWorker returned in one of up to workers goroutines, in any order:
// each goroutine calls newWorker(w) once (w its index, below workers),
// then its function for the next i not yet taken, until none is left. It
// returns the first error of a function, or ctx.Err() if ctx is
// cancelled before every i is done (no i is started after that).
//
// It is the one worker pool of the package: the tile schedule (engine),
// the extra passes over the tiles (forTiles) and the univariate sums run
// on it. Nothing it runs needs an order: every state adds exactly, and
// index-parallel results are written to their own slots.
func forEach(ctx context.Context, workers, count int, newWorker func(w int) func(i int) error) error {
	if count <= 0 {
		return ctx.Err()
	}
	workers = max(1, min(workers, count))
	var next atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	// CPU bound: one goroutine per worker.
	g.SetLimit(workers)
	for w := range workers {
		g.Go(func() error {
			do := newWorker(w)
			for {
				if err := gctx.Err(); err != nil {
					return err
				}
				i := int(next.Add(1) - 1)
				if i >= count {
					return nil
				}
				if err := do(i); err != nil {
					return err
				}
			}
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// forTiles calls, for every tile (bi, bj) of the upper triangle of p's
// tile grid, the tile function of one of workers goroutines (forEach);
// newWorker is called once in each goroutine and returns its tile
// function (holding its own scratch and buffers). The passes that use it
// add exact sums, so the order of the tiles does not matter. It returns
// the first error of a tile function, or ctx.Err().
func (p *plan) forTiles(ctx context.Context, workers int, newWorker func() func(bi, bj int) error) error {
	grid := (p.n + p.tileSize - 1) / p.tileSize
	return forEach(ctx, workers, grid*(grid+1)/2, func(int) func(int) error {
		do := newWorker()
		// The row of tiles of the last index and its first index: a
		// goroutine's indices increase, so it walks the rows once.
		bi, first := 0, 0
		return func(i int) error {
			for i >= first+grid-bi {
				first += grid - bi
				bi++
			}
			return do(bi, bi+i-first)
		}
	})
}

// bounds returns the rows of tile (bi, bj): its first rows and counts.
func (p *plan) bounds(bi, bj int) (i0, ni, j0, nj int) {
	i0, j0 = bi*p.tileSize, bj*p.tileSize
	return i0, min(p.tileSize, p.n-i0), j0, min(p.tileSize, p.n-j0)
}
