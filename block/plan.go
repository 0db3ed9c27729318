package block

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/dcor-stream/dcor-stream/estimator"
	"github.com/dcor-stream/dcor-stream/internal/finite"
)

// ErrBound is returned when a row given to a Panel lies farther from the
// centre than every row ScanBound saw: the data changed since the pass
// that fixed the bounds.
var ErrBound = errors.New("block: row outside the bounds of the plan (data changed between passes?)")

// Plan is the out-of-core schedule's fixed part: everything Compute derives
// from the data before its first tile, fixed up front so that the tiles
// can then be computed from rows held in memory a panel at a time, over as
// many passes over the data as memory requires.
//
// A Plan is made by Prepare from the leading rows; then every row is given
// to ScanBound, in order or not, in blocks of any size (a first pass, which
// also counts the n samples); NewStats then returns the empty state, and
// Panels compute the tiles into it. The state after every tile of the upper triangle of
// the tile grid has been added once, by any schedule, holds the same bytes
// as Compute's on the whole data with the same Options:
//
//   - the centring means are the column means of the first min(n, 4096)
//     rows, the shifts c_k the mean distance of the first tile, both as in
//     Compute, from the same rows;
//   - the bounds are computed from the largest centred row norm of every
//     row, as in Compute;
//   - a tile (I, J) of the grid of TileSize rows is computed by the same
//     kernel from the same rows, whichever panel holds them, and rounded
//     once onto the state's grid, and the state adds exactly, so neither
//     the panel nor the order matters.
//
// A Plan is not safe for concurrent use. It holds no data rows after
// Prepare returns.
type Plan struct {
	eng     engine
	n       int // -1 until NewStats
	whole   int // n if first held every row (fewer than LeadRows), else -1
	dims    []int
	r2      []float64 // largest centred squared row norm seen by ScanBound
	scanned int       // rows given to ScanBound
}

// LeadRows returns the number of leading rows Prepare needs: max(4096,
// tile size), the rows of the centring means and of the first tile.
func LeadRows(opts Options) int {
	if opts.TileSize < 0 {
		panic("block: negative tile size")
	}
	return max(meanRows, tileEdge(math.MaxInt, opts))
}

// Prepare returns the plan of a run from first, the first LeadRows(opts)
// rows of every space, or all of them if there are fewer (more rows are
// ignored). It fixes the centring means, the shifts c_k, the kernels and
// the tile size, which depend on these rows only; the bounds and n come
// from ScanBound. first is not retained.
//
// It returns an error wrapping ErrNoSpaces, ErrShape, ErrSampleCount
// (spaces of different row counts), ErrExponent or ErrNotFinite. It
// panics if opts.TileSize or opts.Workers is negative.
func Prepare(first []Space, opts Options) (*Plan, error) {
	alpha, workers, err := opts.resolved()
	if err != nil {
		return nil, err
	}
	lead := LeadRows(opts)
	cut := make([]Space, len(first))
	for k, s := range first {
		if s.Dim >= 1 && len(s.Data) > lead*s.Dim {
			s.Data = s.Data[:lead*s.Dim]
		}
		cut[k] = s
	}
	m, err := validate(cut)
	if err != nil {
		return nil, err
	}
	// For n >= lead rows, Compute's tile edge and means do not depend on
	// n; for fewer, first is all the data and n = m.
	p := newPlanOn(cut, m, alpha, tileEdge(m, opts), kernelAuto, bestKernels(), workers)
	p.setPrecision(opts.Precision)
	sc := p.newScratch()
	p.setShifts()
	p.spaces = nil
	pl := &Plan{eng: engine{p: p, workers: workers, scratches: []*scratch{sc}}, n: -1, r2: make([]float64, p.k), dims: make([]int, p.k)}
	pl.whole = -1
	if m < lead {
		pl.whole = m
	}
	for k, s := range cut {
		pl.dims[k] = s.Dim
	}
	return pl, nil
}

// N returns the number of samples of the plan: the rows ScanBound saw,
// once NewStats has been called; -1 before.
func (pl *Plan) N() int { return pl.n }

// TileSize returns the tile edge: panels and streamed blocks start at
// multiples of it.
func (pl *Plan) TileSize() int { return pl.eng.p.tileSize }

// Dims returns the dimension of every space.
func (pl *Plan) Dims() []int { return append([]int(nil), pl.dims...) }

// RowBytes returns the bytes of one row of every space held in a Panel.
func (pl *Plan) RowBytes() int64 {
	var d int64
	for _, v := range pl.dims {
		d += int64(v)
	}
	return 8 * d
}

// ScratchBytes returns an estimate of the memory the workers use beyond
// the panels: per worker, the centred panels and packed copies of a tile's
// rows, a TileSize² Gram tile per space of Dim >= 16, and the partials of
// the tiles in flight.
func (pl *Plan) ScratchBytes() int64 {
	p := pl.eng.p
	t := int64(p.tileSize)
	var per int64
	for _, d := range pl.dims {
		// The panels of I and J (direct or packed), the norms, and the
		// scaled rows of I and J that exactTile takes on its first tile.
		per += 6*t*int64(d) + 4*t
	}
	per += int64(slotsPerWorker) * 2 * int64(p.k) * t
	return 8 * int64(pl.eng.workers) * per
}

// ScanBound takes a block of rows of every space (any rows, in any order
// and blocks, each row once: the first pass) into the bounds. It returns
// an error wrapping ErrShape or ErrSampleCount for a block that does not
// match the plan, or ErrNotFinite.
func (pl *Plan) ScanBound(rows []Space) error {
	if err := pl.checkDims(rows); err != nil {
		return err
	}
	m, err := validateShape(rows)
	if err != nil {
		_, err = validate(rows) // in validate's order
		return err
	}
	p := pl.eng.p
	// The rows' norms in chunks on the workers (each a sum in column
	// order; the largest of them does not depend on the split), with the
	// check that every value is finite.
	const chunk = 1024 // rows
	type part struct{ k, lo, hi int }
	var parts []part
	for k := range rows {
		for lo := 0; lo < m; lo += chunk {
			parts = append(parts, part{k, lo, min(m, lo+chunk)})
		}
	}
	r2 := make([]float64, len(parts))
	allOK := make([]bool, len(parts))
	forEach(context.Background(), pl.eng.workers, len(parts), func(int) func(int) error {
		return func(i int) error {
			t := parts[i]
			s := rows[t.k]
			data := s.Data[t.lo*s.Dim : t.hi*s.Dim]
			allOK[i] = finite.All(data)
			r2[i] = maxNorm2(data, s.Dim, p.mean[t.k], p.scale[t.k], 0)
			return nil
		}
	})
	for i := range parts {
		if !allOK[i] {
			_, err := validate(rows) // the error of the first value that is not
			return err
		}
	}
	switch {
	case pl.n >= 0:
		panic("block: ScanBound after NewStats")
	case pl.whole >= 0 && pl.scanned+m > pl.whole:
		return fmt.Errorf("%d rows scanned, but Prepare was given all %d rows (fewer than LeadRows): %w", pl.scanned+m, pl.whole, ErrSampleCount)
	}
	for i, t := range parts {
		pl.r2[t.k] = max(pl.r2[t.k], r2[i])
	}
	pl.scanned += m
	return nil
}

// check validates a block of rows against the plan's spaces and returns
// its row count.
func (pl *Plan) check(rows []Space) (int, error) {
	if err := pl.checkDims(rows); err != nil {
		return 0, err
	}
	return validate(rows)
}

// checkDims checks the count and dimensions of the spaces of a block of
// rows against the plan's.
func (pl *Plan) checkDims(rows []Space) error {
	if len(rows) != len(pl.dims) {
		return fmt.Errorf("%d spaces, plan has %d: %w", len(rows), len(pl.dims), ErrShape)
	}
	for k, s := range rows {
		if s.Dim != pl.dims[k] {
			return fmt.Errorf("space %d: dim %d, plan has %d: %w", k, s.Dim, pl.dims[k], ErrShape)
		}
	}
	return nil
}

// NewStats ends the scan: n is the number of rows ScanBound saw, and the
// returned empty state has the bounds of those rows. It returns an error
// wrapping ErrSampleCount if Prepare was given fewer than LeadRows rows
// (so all of them) and ScanBound saw another number of rows. It panics if
// called twice.
func (pl *Plan) NewStats() (*estimator.Stats, error) {
	if pl.n >= 0 {
		panic("block: NewStats called twice")
	}
	if pl.whole >= 0 && pl.scanned != pl.whole {
		return nil, fmt.Errorf("%d rows scanned, but Prepare was given all %d rows (fewer than LeadRows): %w", pl.scanned, pl.whole, ErrSampleCount)
	}
	pl.n = pl.scanned
	p := pl.eng.p
	return estimator.New(p.k, pl.n, p.alpha, p.shift, p.scaleExp), nil
}

// Panel is the memory of the out-of-core schedule: the held rows
// [I0, I0+Held) of every space, contiguous, and room after them for a
// block of rows streamed past them. AddHeld adds the tiles among the held
// rows, AddStream the tiles between the held rows and a block.
//
// For the tiles to be those of Compute, the held rows and every streamed
// block start at a multiple of the plan's TileSize and hold a multiple of
// it, or end at row n; the methods return an error wrapping ErrRange
// otherwise. Each tile of the grid must be added exactly once over the
// whole run: a panel's AddHeld once, and AddStream once for each pair of
// a panel and a block of other rows (for instance every later block).
//
// Memory: RowBytes() × (held + streamed) rows, allocated by NewPanel, plus
// the plan's scratch. A Panel is not safe for concurrent use, and uses its
// Plan's scratch: use one Panel of a Plan at a time.
type Panel struct {
	pl        *Plan
	buf       [][]float64 // per space: capHeld+capStream rows
	capHeld   int
	capStream int
	i0, held  int
	tiles     []tileRef
	spaces    []Space
}

// NewPanel returns an empty panel holding up to held rows, with room for
// blocks of up to streamed rows. It panics if held or streamed is < 1, or
// if NewStats has not been called.
func (pl *Plan) NewPanel(held, streamed int) *Panel {
	if held < 1 || streamed < 1 {
		panic("block: panel of < 1 row")
	}
	if pl.n < 0 {
		panic("block: NewPanel before NewStats")
	}
	pn := &Panel{pl: pl, capHeld: held, capStream: streamed, buf: make([][]float64, len(pl.dims)), spaces: make([]Space, len(pl.dims))}
	for k, d := range pl.dims {
		pn.buf[k] = make([]float64, (held+streamed)*d)
	}
	return pn
}

// Hold empties the panel, to hold rows from row i0 on.
func (pn *Panel) Hold(i0 int) {
	pn.i0, pn.held = i0, 0
}

// I0 returns the first row held; Held the number of rows held.
func (pn *Panel) I0() int   { return pn.i0 }
func (pn *Panel) Held() int { return pn.held }

// Append copies rows, the rows [I0+Held, I0+Held+m) of every space, into
// the held rows. It returns an error wrapping ErrShape for rows that do
// not match the plan, ErrRange past row n, or ErrBound for a row outside
// the plan's bounds. It panics if the panel would hold more rows than
// NewPanel allowed.
func (pn *Panel) Append(rows []Space) error {
	m, err := pn.pl.check(rows)
	if err != nil {
		return err
	}
	if pn.held+m > pn.capHeld {
		panic("block: Panel.Append beyond the panel's size")
	}
	if pn.i0+pn.held+m > pn.pl.n {
		return fmt.Errorf("rows [%d, %d) of %d: %w", pn.i0+pn.held, pn.i0+pn.held+m, pn.pl.n, ErrRange)
	}
	if err := pn.copyRows(rows, pn.held, pn.i0+pn.held); err != nil {
		return err
	}
	pn.held += m
	return nil
}

// copyRows copies rows (samples from g on) to the rows from at of the
// buffer, checking each against the bounds.
func (pn *Panel) copyRows(rows []Space, at, g int) error {
	mean, scale := pn.pl.eng.p.mean, pn.pl.eng.p.scale
	for k, s := range rows {
		d := s.Dim
		for i := 0; i*d < len(s.Data); i++ {
			row := s.Data[i*d : (i+1)*d]
			if maxNorm2(row, d, mean[k], scale[k], 0) > pn.pl.r2[k] {
				return fmt.Errorf("space %d: row %d: %w", k, g+i, ErrBound)
			}
		}
		copy(pn.buf[k][at*d:], s.Data)
	}
	return nil
}

// aligned reports whether the rows [r0, r0+m) are whole tiles of the grid.
func (pn *Panel) aligned(r0, m int) error {
	t := pn.pl.TileSize()
	if r0%t != 0 || m%t != 0 && r0+m != pn.pl.n {
		return fmt.Errorf("rows [%d, %d) are not whole tiles of %d rows of %d: %w", r0, r0+m, t, pn.pl.n, ErrRange)
	}
	return nil
}

// view sets pn.spaces to the first m rows of the buffer.
func (pn *Panel) view(m int) []Space {
	for k, d := range pn.pl.dims {
		pn.spaces[k] = Space{Data: pn.buf[k][:m*d], Dim: d}
	}
	return pn.spaces
}

// AddHeld adds to st the tiles among the held rows: every pair i < j of
// them. st must come from the plan's NewStats. It returns an error
// wrapping ErrRange if the held rows are not whole tiles, or ctx.Err().
func (pn *Panel) AddHeld(ctx context.Context, st *estimator.Stats) error {
	if err := pn.aligned(pn.i0, pn.held); err != nil {
		return err
	}
	pn.tiles = gridTiles(pn.tiles[:0], 0, pn.held, pn.i0, pn.pl.TileSize())
	return pn.pl.eng.add(ctx, st, pn.view(pn.held), pn.tiles)
}

// AddStream adds to st the tiles between the held rows and rows, the rows
// [j0, j0+m) of every space (m at most the panel's streamed size), which
// must not overlap the held rows: every pair of a held row and a row of
// the block. The block is copied into the panel; rows is not retained.
// Errors are those of Append and AddHeld.
func (pn *Panel) AddStream(ctx context.Context, st *estimator.Stats, j0 int, rows []Space) error {
	m, err := pn.pl.check(rows)
	if err != nil {
		return err
	}
	if m > pn.capStream {
		panic("block: Panel.AddStream block larger than the panel's room")
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
	if err := pn.copyRows(rows, pn.capHeld, j0); err != nil {
		return err
	}
	t := pn.pl.TileSize()
	pn.tiles = crossTiles(pn.tiles[:0], 0, pn.held, pn.i0, pn.capHeld, m, j0, t)
	return pn.pl.eng.add(ctx, st, pn.view(pn.capHeld+m), pn.tiles)
}
