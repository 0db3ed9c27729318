package block

import (
	"context"
	"fmt"

	"github.com/dcor-stream/dcor-stream/estimator"
)

// Tile is the tile (I, J), I <= J, of the grid of a Plan: the pairs of
// the samples [I·T, I·T+T) with the samples [J·T, J·T+T), T the plan's
// TileSize (the last row of tiles shorter); on the diagonal (I == J) the
// pairs i < j. Range numbers the tiles of the upper triangle I
// ascending, then J ascending; Compute takes them in that order, and adds
// each as it is done.
type Tile struct{ I, J int }

// AddTiles adds to st, which must come from pl.NewStats, the tiles listed
// (in any order, each at most once over the whole run), computed over
// rows, which hold all n samples of every space in memory, as given to
// ScanBound (which checked their values: AddTiles checks their shape
// only, so that a run may call it for a batch of tiles at a time at no
// cost). rows is only read, and not retained.
//
// If added is not nil it is called after each tile is added to st, from
// the goroutine that called AddTiles, in the order the workers finish the
// tiles (not that of tiles: record which were done); a non-nil
// error stops AddTiles, which returns it. When AddTiles returns an error
// (added's, ctx.Err(), …) the tiles added to st are exactly those added
// was called for: at most the tiles in flight are lost.
//
// It returns an error wrapping ErrShape for rows that are not the plan's
// n samples, or ErrRange for a tile outside the grid.
func (pl *Plan) AddTiles(ctx context.Context, st *estimator.Stats, rows []Space, tiles []Tile, added func(Tile) error) error {
	if pl.n < 0 {
		panic("block: AddTiles before NewStats")
	}
	if err := pl.wholeRows(rows); err != nil {
		return err
	}
	refs, err := pl.refs(tiles)
	if err != nil {
		return err
	}
	return pl.eng.addEach(ctx, st, rows, refs, each(tiles, added))
}

// wholeRows checks that rows are the plan's n samples of every space.
func (pl *Plan) wholeRows(rows []Space) error {
	if len(rows) != len(pl.dims) {
		return fmt.Errorf("%d spaces, plan has %d: %w", len(rows), len(pl.dims), ErrShape)
	}
	for k, s := range rows {
		if s.Dim != pl.dims[k] || len(s.Data) != pl.n*s.Dim {
			return fmt.Errorf("space %d: %d values of dim %d, the plan has %d rows of dim %d: %w", k, len(s.Data), s.Dim, pl.n, pl.dims[k], ErrShape)
		}
	}
	return nil
}

// refs returns the tiles of the grid as tiles over all n rows.
func (pl *Plan) refs(tiles []Tile) ([]tileRef, error) {
	t := pl.TileSize()
	grid := (pl.n + t - 1) / t
	refs := make([]tileRef, len(tiles))
	for i, tl := range tiles {
		if tl.I < 0 || tl.I > tl.J || tl.J >= grid {
			return nil, fmt.Errorf("tile %v of a grid of %d: %w", tl, grid, ErrRange)
		}
		i0, j0 := tl.I*t, tl.J*t
		refs[i] = tileRef{li: i0, ni: min(t, pl.n-i0), lj: j0, nj: min(t, pl.n-j0), gi: i0, gj: j0, diag: tl.I == tl.J}
	}
	return refs, nil
}

// each adapts added to the index callback of engine.addEach.
func each(tiles []Tile, added func(Tile) error) func(int) error {
	if added == nil {
		return nil
	}
	return func(i int) error { return added(tiles[i]) }
}

// AddHeldTiles is AddHeld for the tiles among the held rows that keep
// accepts (all if keep is nil), calling added as AddTiles does.
func (pn *Panel) AddHeldTiles(ctx context.Context, st *estimator.Stats, keep func(Tile) bool, added func(Tile) error) error {
	buf, tiles, err := pn.heldTiles(keep)
	if err != nil || len(tiles) == 0 {
		return err
	}
	return pn.pl.eng.addEach(ctx, st, buf, pn.tiles, each(tiles, added))
}

// heldTiles sets pn.tiles to the tiles among the held rows that keep
// accepts (all if keep is nil) and returns the buffer they index and the
// tiles of the grid they are.
func (pn *Panel) heldTiles(keep func(Tile) bool) ([]Space, []Tile, error) {
	if err := pn.aligned(pn.i0, pn.held); err != nil {
		return nil, nil, err
	}
	pn.tiles = gridTiles(pn.tiles[:0], 0, pn.held, pn.i0, pn.pl.TileSize())
	return pn.view(pn.held), pn.kept(keep), nil
}

// AddStreamTiles is AddStream for the tiles that keep accepts (all if
// keep is nil), calling added as AddTiles does. The block is copied into
// the panel only if some tile of it is kept.
func (pn *Panel) AddStreamTiles(ctx context.Context, st *estimator.Stats, j0 int, rows []Space, keep func(Tile) bool, added func(Tile) error) error {
	buf, tiles, err := pn.streamTiles(j0, rows, keep)
	if err != nil || len(tiles) == 0 {
		return err
	}
	return pn.pl.eng.addEach(ctx, st, buf, pn.tiles, each(tiles, added))
}

// streamTiles sets pn.tiles to the tiles between the held rows and the
// block rows (samples from j0 on) that keep accepts (all if keep is nil),
// copies the block into the panel if there is any, and returns the buffer
// they index and the tiles of the grid they are.
func (pn *Panel) streamTiles(j0 int, rows []Space, keep func(Tile) bool) ([]Space, []Tile, error) {
	fail := func(err error) ([]Space, []Tile, error) { return nil, nil, err }
	m, err := pn.pl.check(rows)
	if err != nil {
		return fail(err)
	}
	if m > pn.capStream {
		panic("block: Panel.AddStreamTiles block larger than the panel's room")
	}
	switch {
	case j0 < 0 || j0+m > pn.pl.n:
		return fail(fmt.Errorf("rows [%d, %d) of %d: %w", j0, j0+m, pn.pl.n, ErrRange))
	case j0 < pn.i0+pn.held && pn.i0 < j0+m:
		return fail(fmt.Errorf("rows [%d, %d) overlap the held rows [%d, %d): %w", j0, j0+m, pn.i0, pn.i0+pn.held, ErrRange))
	}
	if err := pn.aligned(pn.i0, pn.held); err != nil {
		return fail(err)
	}
	if err := pn.aligned(j0, m); err != nil {
		return fail(err)
	}
	t := pn.pl.TileSize()
	pn.tiles = crossTiles(pn.tiles[:0], 0, pn.held, pn.i0, pn.capHeld, m, j0, t)
	tiles := pn.kept(keep)
	if len(tiles) == 0 {
		return nil, nil, nil
	}
	if err := pn.copyRows(rows, pn.capHeld, j0); err != nil {
		return fail(err)
	}
	return pn.view(pn.capHeld + m), tiles, nil
}

// kept keeps in pn.tiles those that keep accepts (all if keep is nil)
// and returns them as tiles of the grid.
func (pn *Panel) kept(keep func(Tile) bool) []Tile {
	t := pn.pl.TileSize()
	refs := pn.tiles[:0]
	var tiles []Tile
	for _, r := range pn.tiles {
		tl := Tile{r.gi / t, r.gj / t}
		if keep == nil || keep(tl) {
			refs = append(refs, r)
			tiles = append(tiles, tl)
		}
	}
	pn.tiles = refs
	return tiles
}

// WorkerBytes returns an estimate of the scratch memory of one worker of
// Compute, a Plan or a Panel for spaces of the given dimensions and tiles
// of tile rows (0: DefaultTileSize), as Plan.ScratchBytes counts it, without
// allocating anything: callers check it against a budget before
// Prepare allocates it. It saturates at math.MaxInt64 instead of
// overflowing.
func WorkerBytes(dims []int, tile int) int64 {
	if tile <= 0 {
		tile = DefaultTileSize
	}
	t := float64(tile)
	per := float64(slotsPerWorker) * 2 * float64(len(dims)) * t
	for _, d := range dims {
		// The panels of I and J (direct or packed), the norms, and the
		// scaled rows of I and J that exactTile takes on its first tile.
		per += 6*t*float64(d) + 4*t
	}
	if b := 8 * per; b < 1<<62 {
		return int64(b)
	}
	return 1 << 62
}
