package block

import (
	"context"
	"fmt"

	"github.com/dcor-stream/dcor-stream/estimator"
)

// PermPass is the permutation test of Permutations as a pass of a Plan:
// the sums of the tiles of the grid added to a PermutationTest tile by
// tile, x's rows taken from the rows of each call (in memory, AddTiles,
// or in a Panel, AddHeld and AddStream) and y's, read at the random rows
// π_b(I) and π_b(J), from all n samples of y held in memory. Each tile's
// sums are those Permutations computes, added exactly, so the test after
// every tile of the grid is the same, to the bit, whatever the schedule,
// order or buffers, and equal to Permutations'.
//
// Memory: y (8·n·dim bytes) and its rows centred once (as much again, for
// a space of 16 or more dimensions), and per worker a tile of x's
// distances (8·TileSize² bytes) and the scratch of two tiles.
//
// A PermPass is not safe for concurrent use; it uses its Plan's workers.
type PermPass struct {
	pl   *Plan
	test *estimator.PermutationTest
	x, y int
	r    int
	perm *Permutation
	ys   Space
	pre  *centredRows
	work []*permWorker
	sc   *plan // the plan of y over ys, unpermuted
}

type permWorker struct {
	b          int
	px, py     *plan
	scx, scy   *scratch
	slx, sly   slot
	cx, vals   []float64
	bufX       []Space
	permutedAt func(int) int
}

// NewPermPass returns the pass adding to test (of spaces x and y, R
// permutations π_b = perm.At(b, ·)) given st, the complete state of the
// plan, with ys all n rows of space y. It returns an error wrapping
// ErrResume if st was made with other shifts or scales, or ErrShape if ys
// is not y's n rows. It panics if NewStats has not been called.
func (pl *Plan) NewPermPass(st *estimator.Stats, test *estimator.PermutationTest, x, y int, perm *Permutation, ys Space) (*PermPass, error) {
	if pl.n < 0 {
		panic("block: NewPermPass before NewStats")
	}
	p := pl.eng.p
	if err := compatible(st, estimator.New(p.k, pl.n, p.alpha, p.shift, p.scaleExp)); err != nil {
		return nil, err
	}
	if ys.Dim != pl.dims[y] || len(ys.Data) != pl.n*ys.Dim {
		return nil, fmt.Errorf("space %d: %d values of dim %d, the plan has %d rows of dim %d: %w", y, len(ys.Data), ys.Dim, pl.n, pl.dims[y], ErrShape)
	}
	q := *p
	q.spaces = make([]Space, p.k)
	q.spaces[y] = ys
	pp := &PermPass{pl: pl, test: test, x: x, y: y, r: test.R(), perm: perm, ys: ys, sc: &q}
	if pre := q.sub(y, nil); pre.fused {
		pre.precentre()
		pp.pre = pre.centredRows
	}
	return pp, nil
}

// AddTiles adds the sums of the tiles listed (each at most once over the
// pass), x's rows from rows, all n samples of every space in memory (y's
// are read from the pass's), calling added as Plan.AddTiles does.
func (pp *PermPass) AddTiles(ctx context.Context, rows []Space, tiles []Tile, added func(Tile) error) error {
	if err := pp.pl.wholeRows(rows); err != nil {
		return err
	}
	refs, err := pp.pl.refs(tiles)
	if err != nil {
		return err
	}
	return pp.run(ctx, rows, refs, tiles, added)
}

// AddHeld adds the sums of the tiles among pn's held rows that keep
// accepts (all if nil), as Panel.AddHeldTiles adds their statistics.
func (pp *PermPass) AddHeld(ctx context.Context, pn *Panel, keep func(Tile) bool, added func(Tile) error) error {
	buf, tiles, err := pn.heldTiles(keep)
	if err != nil || len(tiles) == 0 {
		return err
	}
	return pp.run(ctx, buf, pn.tiles, tiles, added)
}

// AddStream adds the sums of the tiles between pn's held rows and rows,
// the samples from j0 on, that keep accepts (all if nil), as
// Panel.AddStreamTiles adds their statistics.
func (pp *PermPass) AddStream(ctx context.Context, pn *Panel, j0 int, rows []Space, keep func(Tile) bool, added func(Tile) error) error {
	buf, tiles, err := pn.streamTiles(j0, rows, keep)
	if err != nil || len(tiles) == 0 {
		return err
	}
	return pp.run(ctx, buf, pn.tiles, tiles, added)
}

// run computes the tiles refs, x's rows over buf, on the workers, and adds
// them to the test from the calling goroutine (see runTiles).
func (pp *PermPass) run(ctx context.Context, buf []Space, refs []tileRef, tiles []Tile, added func(Tile) error) error {
	workers := max(1, min(pp.pl.eng.workers, len(refs)))
	t := pp.pl.TileSize()
	for len(pp.work) < workers {
		wk := &permWorker{cx: make([]float64, t*t), vals: make([]float64, pp.r)}
		qx := *pp.pl.eng.p
		qx.spaces = make([]Space, qx.k)
		qx.spaces[pp.x] = buf[pp.x]
		wk.px = qx.sub(pp.x, nil)
		wk.py = pp.sc.sub(pp.y, func(i int) int { return pp.perm.At(wk.b, i) })
		wk.py.centredRows = pp.pre
		wk.scx, wk.scy = wk.px.newScratch(), wk.py.newScratch()
		wk.slx, wk.sly = wk.px.newSlot(), wk.py.newSlot()
		wk.bufX = make([]Space, 1)
		pp.work = append(pp.work, wk)
	}
	for _, wk := range pp.work[:workers] {
		wk.bufX[0] = buf[pp.x]
		wk.px.spaces = wk.bufX
		wk.scx.forget() // a new buffer
	}
	return runTiles(ctx, workers, len(refs), func(w, i int) {
		wk, r := pp.work[w], refs[i]
		cx := wk.cx[:r.ni*r.nj]
		clear(cx)
		wk.scx.capture = cx
		setRef(&wk.slx, r, 1)
		wk.px.tile(wk.scx, r.li, r.ni, r.lj, r.nj, r.diag, wk.px.shift, wk.slx.tile.S, wk.slx.tile.RowI, wk.slx.viewJ)
		setRef(&wk.sly, r, 1)
		wk.scy.against = cx
		for b := range pp.r {
			wk.b = b
			wk.scy.forget() // the rows I are other samples for each b
			wk.scy.dotSum = 0
			wk.py.tile(wk.scy, r.gi, r.ni, r.gj, r.nj, r.diag, wk.py.shift, wk.sly.tile.S, wk.sly.tile.RowI, wk.sly.viewJ)
			wk.vals[b] = 2 * wk.scy.dotSum
		}
	}, func(w, i int) error {
		if err := pp.test.Add(pp.work[w].vals); err != nil || added == nil {
			return err
		}
		return added(tiles[i])
	})
}
