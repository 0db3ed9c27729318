package block

import (
	"context"
	"fmt"

	"github.com/dcor-stream/dcor-stream/estimator"
)

// Online is the online schedule: the caller adds batches of rows as they
// come (Add) and reads the statistics of all the rows so far at any time
// (Stats). It keeps every row in memory; each batch costs its rows against
// every retained row and among themselves, so n rows in batches cost the
// n(n−1)/2 pairs of Compute, whatever the batch sizes.
//
// The plan is fixed once max(TileSize, 256) rows have arrived (by the
// batch that brings the count to that or more): the centring medians are
// those of the first min(rows, 1024) rows held then, the shifts c_k and
// their yardsticks those of the leading rows, as in Compute (see
// setShifts). Before that, Stats computes the few rows held with Compute.
// (Fixed at TileSize rows, a tile of 2 rows took the centre and the shift
// from a far first row, and lost every other distance's digits.) After it, each batch
// grows the state (estimator.Stats.Grow) and raises a space's bound when
// the batch holds a row farther from the centre than any before
// (estimator.Stats.Widen); each grid change rounds the sums once, so the
// result agrees with Compute on the same rows to about 1e-15 relative per
// change, not to the bit.
//
// An Online is not safe for concurrent use. Its zero value is not usable:
// call NewOnline.
type Online struct {
	opts  Options
	dims  []int
	data  [][]float64 // per space: the n rows so far, row-major
	n     int
	plan  *Plan // nil until max(TileSize, shiftRows) rows have arrived
	st    *estimator.Stats
	buf   []Space
	tiles []tileRef
}

// NewOnline returns an empty online computation for spaces of the given
// dimensions. opts is as for Compute; a TileSize of 0 is DefaultTileSize. It returns an error
// wrapping ErrNoSpaces, ErrShape or ErrExponent.
func NewOnline(dims []int, opts Options) (*Online, error) {
	if _, _, err := opts.resolved(); err != nil {
		return nil, err
	}
	if len(dims) == 0 {
		return nil, ErrNoSpaces
	}
	for k, d := range dims {
		if d < 1 {
			return nil, fmt.Errorf("space %d: dim %d: %w", k, d, ErrShape)
		}
	}
	if opts.TileSize == 0 {
		opts.TileSize = DefaultTileSize
	}
	return &Online{opts: opts, dims: append([]int(nil), dims...), data: make([][]float64, len(dims)), buf: make([]Space, len(dims))}, nil
}

// N returns the number of rows added so far.
func (o *Online) N() int { return o.n }

// Add appends batch, rows of every space (the same count in each, of the
// dimensions given to NewOnline), and adds every pair it makes with the
// rows before and within itself. The batch is copied. It returns an error
// wrapping ErrShape, ErrSampleCount or ErrNotFinite for an invalid batch,
// which is then not added, or ctx.Err(), after which the Online is
// unusable (its state is partial).
func (o *Online) Add(ctx context.Context, batch []Space) error {
	if len(batch) != len(o.dims) {
		return fmt.Errorf("%d spaces, want %d: %w", len(batch), len(o.dims), ErrShape)
	}
	for k, s := range batch {
		if s.Dim != o.dims[k] {
			return fmt.Errorf("space %d: dim %d, want %d: %w", k, s.Dim, o.dims[k], ErrShape)
		}
	}
	m, err := validate(batch)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	n0 := o.n
	for k, s := range batch {
		o.data[k] = append(o.data[k], s.Data...)
	}
	o.n += m
	t := o.opts.TileSize
	switch {
	case o.plan == nil && o.n < max(t, shiftRows):
		return nil // Stats computes these few rows directly
	case o.plan == nil:
		return o.start(ctx)
	}
	pl := o.plan
	o.st.Grow(m)
	o.tiles = crossTiles(o.tiles[:0], 0, n0, 0, n0, m, n0, t)
	o.tiles = gridTiles(o.tiles, n0, m, n0, t)
	return pl.eng.add(ctx, o.st, o.view(), o.tiles)
}

// start fixes the plan from the rows held and adds their pairs.
func (o *Online) start(ctx context.Context) error {
	spaces := o.view()
	pl, err := Prepare(spaces, o.opts)
	if err != nil {
		return err
	}
	if err := pl.ScanBound(spaces); err != nil {
		return err
	}
	st, err := pl.NewStats()
	if err != nil {
		return err
	}
	if err := pl.eng.add(ctx, st, spaces, gridTiles(nil, 0, o.n, 0, pl.TileSize())); err != nil {
		return err
	}
	o.plan, o.st = pl, st
	return nil
}

// view returns the rows held as Spaces.
func (o *Online) view() []Space {
	for k, d := range o.dims {
		o.buf[k] = Space{Data: o.data[k], Dim: d}
	}
	return o.buf
}

// Stats returns the statistics of all the rows added so far (nil before
// the first row). The state belongs to o: it is valid until the next Add,
// and must not be modified; Clone it to keep it.
func (o *Online) Stats() *estimator.Stats {
	if o.n == 0 {
		return nil
	}
	if o.plan != nil {
		return o.st
	}
	// Fewer than max(TileSize, shiftRows) rows: computed directly.
	st, err := Compute(context.Background(), o.view(), o.opts)
	if err != nil {
		panic("block: Compute of validated rows: " + err.Error())
	}
	return st
}
