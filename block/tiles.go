package block

import (
	"context"

	"golang.org/x/sync/errgroup"

	"github.com/dcor-stream/dcor-stream/estimator"
)

// tileRef is one tile of a call of addTiles: the rows [li, li+ni) and
// [lj, lj+nj) of the call's buffer, which are the samples [gi, gi+ni) and
// [gj, gj+nj). If diag, the two are the same rows and only the pairs
// i < j count (see plan.tile).
type tileRef struct {
	li, ni, lj, nj int
	gi, gj         int
	diag           bool
}

// engine computes lists of tiles of a fixed plan over row buffers that
// change between calls. It keeps the workers' scratch from call to call.
// It is not safe for concurrent use.
type engine struct {
	p         *plan // spaces unset: each call sets its buffer
	workers   int
	scratches []*scratch
}

// forget drops what a worker's scratch caches of the rows of its last
// tile (the fused kernel's packed rows I, keyed by their position in the
// buffer), which a new buffer invalidates.
func (sc *scratch) forget() {
	if sc.f != nil {
		sc.f.packedNI = 0
	}
}

// add computes the tiles over buf (one Space per space of the plan, rows
// indexed as in tiles) and adds them to st, on up to e.workers workers.
// The tiles are added in the order given; the state does not depend on
// that order (estimator.Stats adds exactly), only on each tile, which is
// computed the same way whatever buffer, call or worker holds it.
func (e *engine) add(ctx context.Context, st *estimator.Stats, buf []Space, tiles []tileRef) error {
	return e.addEach(ctx, st, buf, tiles, nil)
}

// addEach is add calling added(t), if not nil, right after tiles[t] is
// added to st, from the calling goroutine and in the order of tiles. A
// non-nil error from added stops addEach, which returns it; the tiles
// added to st are then exactly those added was called for.
func (e *engine) addEach(ctx context.Context, st *estimator.Stats, buf []Space, tiles []tileRef, added func(t int) error) error {
	if err := ctx.Err(); err != nil || len(tiles) == 0 {
		return err
	}
	q := *e.p
	q.spaces = buf
	p := &q
	workers := max(1, min(e.workers, len(tiles)))
	for len(e.scratches) < workers {
		e.scratches = append(e.scratches, p.newScratch())
	}
	for _, sc := range e.scratches {
		sc.forget()
	}
	slots := make([]slot, min(len(tiles), windowPerWorker*workers))
	for i := range slots {
		slots[i] = p.newSlot()
	}
	refs := make([]tileRef, len(slots))

	g, gctx := errgroup.WithContext(ctx)
	// One goroutine per worker, each with its own scratch: the kernel is
	// CPU bound.
	g.SetLimit(workers)
	jobs := make(chan int)
	for _, sc := range e.scratches[:workers] {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			for i := range jobs {
				if gctx.Err() == nil {
					t, sl := &refs[i], &slots[i]
					p.computeSlot(sc, sl, t.li, t.ni, t.lj, t.nj, t.diag)
				}
				slots[i].done <- struct{}{}
			}
			return nil
		})
	}

	reduce := func(t int) error {
		i := t % len(slots)
		select {
		case <-slots[i].done:
		case <-gctx.Done():
			return gctx.Err()
		}
		if err := gctx.Err(); err != nil {
			return err // the worker may have skipped the tile
		}
		if err := st.AddTile(&slots[i].tile); err != nil {
			return err
		}
		if r := p.rbf; r != nil {
			if err := r.st.AddTile(&slots[i].rbf.tile); err != nil {
				return err
			}
		}
		if added != nil {
			return added(t)
		}
		return nil
	}
	err := func() error {
		for t, ref := range tiles {
			i := t % len(slots)
			if t >= len(slots) {
				if err := reduce(t - len(slots)); err != nil {
					return err
				}
			}
			refs[i] = ref
			setRef(&slots[i], ref, p.k)
			select {
			case jobs <- i:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		for t := max(0, len(tiles)-len(slots)); t < len(tiles); t++ {
			if err := reduce(t); err != nil {
				return err
			}
		}
		return nil
	}()
	close(jobs)
	if werr := g.Wait(); err == nil {
		err = werr
	}
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return err
}

// setRef points sl's tile at ref, in the samples' numbering.
func setRef(sl *slot, ref tileRef, k int) {
	tl := &sl.tile
	tl.I0, tl.J0, tl.Diagonal = ref.gi, ref.gj, ref.diag
	tl.RowJ = nil
	if !ref.diag {
		tl.RowJ = sl.viewJ
	}
	for s := range k {
		tl.RowI[s] = sl.rowI[s][:ref.ni]
		sl.viewJ[s] = sl.rowJ[s][:ref.nj]
	}
	if sl.rbf != nil {
		sl.rbf.set(ref)
	}
}

// gridTiles appends the tiles of the upper triangle of the tile grid of
// the rows [l0, l0+m) of a buffer, the samples [g0, g0+m), with tiles of t
// rows (the last shorter).
func gridTiles(dst []tileRef, l0, m, g0, t int) []tileRef {
	for a := 0; a < m; a += t {
		for b := a; b < m; b += t {
			dst = append(dst, tileRef{li: l0 + a, ni: min(t, m-a), lj: l0 + b, nj: min(t, m-b), gi: g0 + a, gj: g0 + b, diag: a == b})
		}
	}
	return dst
}

// crossTiles appends the tiles of every pair of the rows [la, la+ma) of a
// buffer (samples [ga, ga+ma)) with its rows [lb, lb+mb) (samples
// [gb, gb+mb)), two disjoint sets of samples, in tiles of t rows. The
// earlier samples are the rows I of each tile, as in Compute.
func crossTiles(dst []tileRef, la, ma, ga, lb, mb, gb, t int) []tileRef {
	if gb < ga {
		la, ma, ga, lb, mb, gb = lb, mb, gb, la, ma, ga
	}
	for a := 0; a < ma; a += t {
		for b := 0; b < mb; b += t {
			dst = append(dst, tileRef{li: la + a, ni: min(t, ma-a), lj: lb + b, nj: min(t, mb-b), gi: ga + a, gj: gb + b})
		}
	}
	return dst
}
