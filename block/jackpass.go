package block

import (
	"context"

	"golang.org/x/sync/errgroup"

	"github.com/dcor-stream/dcor-stream/estimator"
)

// JackPass is the jackknife pass of a Plan (see Jackknife): the per-row
// sums of the tiles of the grid, given the complete state, added to a
// Jackknife tile by tile, from rows in memory (AddTiles) or in a Panel
// (AddHeld, AddStream), so that a run under a memory budget, a shard or
// a resumed run adds a tile's sums where and when it computes it. Each
// tile's sums are computed by the kernels of Jackknife from the tile's
// rows alone, and added exactly, so the Jackknife after every tile of the
// grid is the same, to the bit, whatever the schedule, order or buffers.
//
// Memory: the state's final row sums r' (8 bytes per sample and space),
// and per worker a scratch and the per-row sums of one tile.
//
// A JackPass is not safe for concurrent use; it uses its Plan's workers.
type JackPass struct {
	pl   *Plan
	jk   *estimator.Jackknife
	st   *estimator.Stats // read only (the exact tiles' row sums)
	rl   *finalRows
	work []*jackWorker
}

type jackWorker struct {
	sc  *scratch
	acc *jackAcc
	sl  slot
}

// NewJackPass returns the pass adding to jk, the per-row sums of the
// complete state st (pl's NewStats with every tile added). It returns an
// error wrapping ErrResume if st was made with other shifts or scales.
// It panics if NewStats has not been called.
func (pl *Plan) NewJackPass(st *estimator.Stats, jk *estimator.Jackknife) (*JackPass, error) {
	if pl.n < 0 {
		panic("block: NewJackPass before NewStats")
	}
	p := pl.eng.p
	if err := compatible(st, estimator.New(p.k, pl.n, p.alpha, p.shift, p.scaleExp)); err != nil {
		return nil, err
	}
	return &JackPass{pl: pl, jk: jk, st: st, rl: newFinalRows(p, st)}, nil
}

// AddTiles adds the sums of the tiles listed (each at most once over the
// pass), computed over rows, all n samples of every space in memory, and
// calls added as Plan.AddTiles does. Errors are those of Plan.AddTiles.
func (jp *JackPass) AddTiles(ctx context.Context, rows []Space, tiles []Tile, added func(Tile) error) error {
	pl := jp.pl
	if err := pl.wholeRows(rows); err != nil {
		return err
	}
	refs, err := pl.refs(tiles)
	if err != nil {
		return err
	}
	return jp.run(ctx, rows, refs, tiles, added)
}

// AddHeld adds the sums of the tiles among pn's held rows that keep
// accepts (all if nil), as Panel.AddHeldTiles adds their statistics. pn
// must be a panel of the pass's Plan.
func (jp *JackPass) AddHeld(ctx context.Context, pn *Panel, keep func(Tile) bool, added func(Tile) error) error {
	buf, tiles, err := pn.heldTiles(keep)
	if err != nil || len(tiles) == 0 {
		return err
	}
	return jp.run(ctx, buf, pn.tiles, tiles, added)
}

// AddStream adds the sums of the tiles between pn's held rows and rows,
// the samples from j0 on, that keep accepts (all if nil), as
// Panel.AddStreamTiles adds their statistics.
func (jp *JackPass) AddStream(ctx context.Context, pn *Panel, j0 int, rows []Space, keep func(Tile) bool, added func(Tile) error) error {
	buf, tiles, err := pn.streamTiles(j0, rows, keep)
	if err != nil || len(tiles) == 0 {
		return err
	}
	return jp.run(ctx, buf, pn.tiles, tiles, added)
}

// run computes the tiles refs over buf on the workers and adds them to
// the Jackknife from the calling goroutine, calling added(tiles[t]) after
// tile t; when it returns an error, the tiles added are exactly those
// added was called for.
func (jp *JackPass) run(ctx context.Context, buf []Space, refs []tileRef, tiles []Tile, added func(Tile) error) error {
	if err := ctx.Err(); err != nil || len(refs) == 0 {
		return err
	}
	q := *jp.pl.eng.p
	q.spaces = buf
	q.uni = false    // the jackknife needs the distances themselves
	q.prec = Float64 // and the float32 epilogue may sum them away
	p := &q
	workers := max(1, min(jp.pl.eng.workers, len(refs)))
	for len(jp.work) < workers {
		jp.work = append(jp.work, &jackWorker{sc: p.newScratch(), acc: newJackAcc(p, jp.rl, jp.st), sl: p.newSlot()})
	}
	for _, wk := range jp.work[:workers] {
		wk.sc.forget()
		wk.sc.jack = wk.acc
	}
	return runTiles(ctx, workers, len(refs), func(w, t int) {
		wk, r := jp.work[w], refs[t]
		setRef(&wk.sl, r, p.k)
		wk.acc.reset(r.gi, r.ni, r.gj, r.nj, r.diag)
		p.jackTile(wk.sc, &wk.sl, r.li, r.ni, r.lj, r.nj, r.diag)
	}, func(w, t int) error {
		if err := jp.jk.AddTile(jp.work[w].acc.finish()); err != nil || added == nil {
			return err
		}
		return added(tiles[t])
	})
}

// runTiles runs the tiles 0..count−1 of an extra pass on workers
// goroutines: compute(w, t) computes tile t into worker w's buffers, then
// add(w, t), from the calling goroutine, adds them to the pass's sums
// before worker w takes another tile. When it returns an error (add's,
// ctx.Err()), the tiles added are exactly those add returned nil for.
func runTiles(ctx context.Context, workers, count int, compute func(w, t int), add func(w, t int) error) error {
	if err := ctx.Err(); err != nil || count == 0 {
		return err
	}
	type done struct{ w, t int }
	jobs := make(chan int)
	out := make(chan done)
	free := make([]chan struct{}, workers)
	// stop ends the workers when the pass fails here (an error of add).
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	g, gctx := errgroup.WithContext(sctx)
	// CPU bound: one goroutine per worker, and one feeding them.
	g.SetLimit(workers + 1)
	for w := range workers {
		free[w] = make(chan struct{}, 1)
		g.Go(func() error {
			for t := range jobs {
				compute(w, t)
				select {
				case out <- done{w, t}:
				case <-gctx.Done():
					return gctx.Err()
				}
				select {
				case <-free[w]:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(jobs)
		for t := range count {
			select {
			case jobs <- t:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	var err error
	for range count {
		var d done
		select {
		case d = <-out:
		case <-gctx.Done():
			err = gctx.Err()
		}
		if err == nil {
			err = add(d.w, d.t)
		}
		if err != nil {
			break
		}
		free[d.w] <- struct{}{}
	}
	if err != nil {
		stop()
	}
	werr := g.Wait()
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if err != nil {
		return err
	}
	return werr
}
