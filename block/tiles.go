package block

import (
	"context"

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
// The tiles are added in the order they are done; the state does not
// depend on that order (estimator.Stats adds exactly), only on each tile,
// which is computed the same way whatever buffer, call or worker holds it.
func (e *engine) add(ctx context.Context, st *estimator.Stats, buf []Space, tiles []tileRef) error {
	return e.addEach(ctx, st, buf, tiles, nil)
}

// addEach is add calling added(t), if not nil, right after tiles[t] is
// added to st, from the calling goroutine, in the order the tiles are
// done. A non-nil error from added stops addEach, which returns it; the
// tiles added to st are then exactly those added was called for.
//
// The workers take the tiles on the package's one loop (forEach), each
// computing a tile into a free slot of partials and handing it to the
// calling goroutine, which adds it to st and frees the slot. The slots,
// slotsPerWorker a worker, bound the partials in flight; the one reducer
// costs a few µs a tile, against tens to hundreds for computing it.
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
	slots := make([]slot, min(len(tiles), slotsPerWorker*workers))
	free := make(chan *slot, len(slots))
	for i := range slots {
		slots[i] = p.newSlot()
		free <- &slots[i]
	}
	// ready holds every slot, so that a worker never waits to hand one.
	ready := make(chan *slot, len(slots))

	wctx, stop := context.WithCancel(ctx)
	defer stop()
	var werr error
	go func() {
		defer close(ready)
		werr = forEach(wctx, workers, len(tiles), func(w int) func(int) error {
			sc := e.scratches[w]
			return func(t int) error {
				var sl *slot
				select {
				case sl = <-free:
				case <-wctx.Done():
					return wctx.Err()
				}
				ref := tiles[t]
				sl.t = t
				setRef(sl, ref, p.k)
				p.computeSlot(sc, sl, ref.li, ref.ni, ref.lj, ref.nj, ref.diag)
				ready <- sl
				return nil
			}
		})
	}()
	var err error
	for sl := range ready { // closed once forEach has returned
		if err == nil {
			err = ctx.Err()
		}
		if err == nil {
			err = st.AddTile(&sl.tile)
		}
		if r := p.rbf; err == nil && r != nil {
			err = r.st.AddTile(&sl.rbf.tile)
		}
		if err == nil && added != nil {
			err = added(sl.t)
		}
		if err != nil {
			stop()
		}
		free <- sl
	}
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if err != nil {
		return err
	}
	return werr
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
