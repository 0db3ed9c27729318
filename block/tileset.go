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
	if len(rows) != len(pl.dims) {
		return fmt.Errorf("%d spaces, plan has %d: %w", len(rows), len(pl.dims), ErrShape)
	}
	for k, s := range rows {
		if s.Dim != pl.dims[k] || len(s.Data) != pl.n*s.Dim {
			return fmt.Errorf("space %d: %d values of dim %d, the plan has %d rows of dim %d: %w", k, len(s.Data), s.Dim, pl.n, pl.dims[k], ErrShape)
		}
	}
	t := pl.TileSize()
	grid := (pl.n + t - 1) / t
	refs := make([]tileRef, len(tiles))
	for i, tl := range tiles {
		if tl.I < 0 || tl.I > tl.J || tl.J >= grid {
			return fmt.Errorf("tile %v of a grid of %d: %w", tl, grid, ErrRange)
		}
		i0, j0 := tl.I*t, tl.J*t
		refs[i] = tileRef{li: i0, ni: min(t, pl.n-i0), lj: j0, nj: min(t, pl.n-j0), gi: i0, gj: j0, diag: tl.I == tl.J}
	}
	return pl.eng.addEach(ctx, st, rows, refs, each(tiles, added))
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
	if err := pn.aligned(pn.i0, pn.held); err != nil {
		return err
	}
	pn.tiles = gridTiles(pn.tiles[:0], 0, pn.held, pn.i0, pn.pl.TileSize())
	return pn.addKept(ctx, st, pn.view(pn.held), keep, added)
}

// AddStreamTiles is AddStream for the tiles that keep accepts (all if
// keep is nil), calling added as AddTiles does. The block is copied into
// the panel only if some tile of it is kept.
func (pn *Panel) AddStreamTiles(ctx context.Context, st *estimator.Stats, j0 int, rows []Space, keep func(Tile) bool, added func(Tile) error) error {
	m, err := pn.pl.check(rows)
	if err != nil {
		return err
	}
	if m > pn.capStream {
		panic("block: Panel.AddStreamTiles block larger than the panel's room")
	}
	switch {
	case j0 < 0 || j0+m > pn.pl.n:
		return fmt.Errorf("rows [%d, %d) of %d: %w", j0, j0+m, pn.pl.n, ErrRange)
	case j0 < pn.i0+pn.held && pn.i0 < j0+m:
		return fmt.Errorf("rows [%d, %d) overlap the held rows [%d, %d): %w", j0, j0+m, pn.i0, pn.i0+pn.held, ErrRange)
	}
	if err := pn.aligned(pn.i0, pn.held); err != nil {
		return err
	}
	if err := pn.aligned(j0, m); err != nil {
		return err
	}
	t := pn.pl.TileSize()
	pn.tiles = crossTiles(pn.tiles[:0], 0, pn.held, pn.i0, pn.capHeld, m, j0, t)
	if keep != nil && !pn.anyKept(keep) {
		return nil
	}
	if err := pn.copyRows(rows, pn.capHeld, j0); err != nil {
		return err
	}
	return pn.addKept(ctx, st, pn.view(pn.capHeld+m), keep, added)
}

// anyKept reports whether keep accepts any tile of pn.tiles.
func (pn *Panel) anyKept(keep func(Tile) bool) bool {
	t := pn.pl.TileSize()
	for _, r := range pn.tiles {
		if keep(Tile{r.gi / t, r.gj / t}) {
			return true
		}
	}
	return false
}

// addKept adds the tiles of pn.tiles that keep accepts over buf.
func (pn *Panel) addKept(ctx context.Context, st *estimator.Stats, buf []Space, keep func(Tile) bool, added func(Tile) error) error {
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
	return pn.pl.eng.addEach(ctx, st, buf, refs, each(tiles, added))
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
		// centred rows of I and J that exactTile takes on its first tile.
		per += 6*t*float64(d) + 4*t
	}
	if b := 8 * per; b < 1<<62 {
		return int64(b)
	}
	return 1 << 62
}
