// Package block computes the additive statistics of distance covariance
// (see package estimator) for K feature spaces of n samples, tile by tile,
// without ever holding the n×n distance matrices.
//
// For space k with rows x^k_1..x^k_n and exponent α in (0, 2],
//
//	a^k_ij  = |x^k_i - x^k_j|^α            (Euclidean norm, a^k_ii = 0)
//	a'^k_ij = a^k_ij - c_k                 (i != j; the shift c_k of estimator)
//
// Compute walks the upper triangle of the grid of TileSize×TileSize blocks
// of pairs. For each tile it computes every space's distance tile once and
// from them the tile's contribution (an estimator.Tile)
//
//	S_kl += sum_{i in I, j in J} a'^k_ij a'^l_ij   for all k <= l
//	r^k_i += sum_{j in J} a'^k_ij,  r^k_j += sum_{i in I} a'^k_ij
//
// Tiles are computed concurrently and added to the estimator.Stats one by
// one in a fixed order, so the result is bit-identical for any number of
// workers.
//
// The package knows nothing of file formats: a Space is a dense row-major
// slice of float64.
package block

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"

	"github.com/dcor-stream/dcor-stream/estimator"
	"github.com/dcor-stream/dcor-stream/internal/finite"
)

// Errors returned by Compute, wrapped with context.
var (
	// ErrNoSpaces is returned when Compute is given no feature space.
	ErrNoSpaces = errors.New("block: no feature spaces")
	// ErrSampleCount is returned when the spaces hold different numbers of rows.
	ErrSampleCount = errors.New("block: spaces differ in sample count")
	// ErrShape is returned for a space with Dim < 1 or len(Data) not a
	// multiple of Dim.
	ErrShape = errors.New("block: invalid space shape")
	// ErrExponent is returned for a distance exponent outside (0, 2].
	ErrExponent = errors.New("block: exponent outside (0, 2]")
	// ErrNotFinite is returned when a space holds a NaN or an infinity.
	ErrNotFinite = errors.New("block: value is not finite")
)

// Space is one feature space: n rows of Dim float64 values, row-major
// (len(Data) == n*Dim, row i is Data[i*Dim : (i+1)*Dim]).
//
// Compute only reads Data; it must not be modified while Compute runs.
type Space struct {
	Data []float64
	Dim  int
}

// Rows returns n = len(Data)/Dim, or 0 if Dim < 1.
func (s Space) Rows() int {
	if s.Dim < 1 {
		return 0
	}
	return len(s.Data) / s.Dim
}

// Options configures Compute. The zero value selects every default.
type Options struct {
	Exponent float64 // optional; default 1; must be in (0, 2]
	TileSize int     // optional; default DefaultTileSize rows
	Workers  int     // optional; default runtime.GOMAXPROCS(0)

	// Precision of the inner products of the Gram spaces (Dim >= 16):
	// Float64 (the default and the reference) or Float32, which computes
	// them in float32 from rows centred in float64 and keeps norms,
	// distances, the refinement of cancelled pairs and every sum in
	// float64 (see Float32). The direct and univariate paths (Dim < 16)
	// are float64 in both modes. Anything else is an ErrPrecision.
	Precision Precision
}

// Schedule is the run control of ComputeSchedule: which tiles, a state to
// resume, a progress callback. The zero value computes every tile.
type Schedule struct {
	// Tiles restricts the run to the tiles [Tiles.From, Tiles.To) of the
	// fixed tile order (see TileCount and Shard). Optional; the zero value
	// means every tile.
	Tiles Range

	// Resume continues an interrupted run: a state that ComputeSchedule
	// returned or passed to Progress for the same spaces and options,
	// holding the tiles of the range for which Done reports true (those
	// Progress was called with). The other tiles of the range are added
	// into Resume, which is returned. Optional; a nil Done is no tile.
	Resume *estimator.Stats
	Done   func(Tile) bool

	// Progress, if not nil, is called after each tile is added, from the
	// goroutine that called ComputeSchedule, with the state, the tile,
	// the number of tiles of the range done so far (those Done reported
	// included) and the range's size. The tiles are added in the order
	// the workers finish them, not in tile order: a run to be resumed
	// records which were done. The workers go on meanwhile; st must not
	// be kept or modified after Progress returns (encode it to keep it).
	// A non-nil error stops the run, which returns it; st then holds
	// exactly the tiles Progress was called with (and Done's).
	Progress func(st *estimator.Stats, t Tile, done, total int) error
}

// resolved checks o and returns its exponent α (1 for 0) and worker count
// (GOMAXPROCS for 0): the one place where Options are validated. It
// returns an error wrapping ErrExponent or ErrPrecision, and panics if
// TileSize or Workers is negative (programmer misuse).
func (o Options) resolved() (alpha float64, workers int, err error) {
	if o.TileSize < 0 || o.Workers < 0 {
		panic("block: negative tile size or worker count")
	}
	alpha = o.Exponent
	if alpha == 0 {
		alpha = 1
	}
	if !(alpha > 0 && alpha <= 2) {
		return 0, 0, fmt.Errorf("exponent %v: %w", o.Exponent, ErrExponent)
	}
	if err := o.Precision.valid(); err != nil {
		return 0, 0, err
	}
	workers = o.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	return alpha, workers, nil
}

// DefaultTileSize is the tile edge used when Options.TileSize is 0. Tiles of
// 256 rows keep a worker's panels, Gram tile and partials in L2 for small
// and moderate dimensions while making the per-tile overhead (scheduling,
// reduction, panel copies) negligible: measured at n = 8192, tiles of 128
// to 1024 rows ran within 5-10% of each other for Dim 1, 8 and 64, and 64
// rows up to 25% slower (see BenchmarkTileSize). It also sets how many
// pairs the shifts c_k are estimated from.
const DefaultTileSize = 256

const (
	// meanRows is the number of leading rows whose column means centre a
	// space.
	meanRows = 4096
	// roundingBits is the number of significant bits kept of the centring
	// means and of the shifts c_k, so that small-integer data stays exactly
	// representable after centring and shifting.
	roundingBits = 8
	// slotsPerWorker is the number of tile partials per worker: one the
	// worker computes into and one waiting for the reducer, so that a
	// worker rarely waits for a free slot, and the partials stay
	// O(workers × TileSize × K).
	slotsPerWorker = 2
)

// Compute returns the additive statistics of all pairs of the n samples of
// the K = len(spaces) feature spaces, with the distances
//
//	a^k_ij = |x^k_i - x^k_j|^α,  α = opts.Exponent
//
// accumulated shifted by
//
//	c_k = mean of a^k_ij over i < j < m,  m = min(n, TileSize)
//
// rounded to 8 significant bits (0 if n < 2), as recorded in the returned
// state (see estimator.Stats.Shift).
//
// Each space is centred by its column means over its first min(n, 4096)
// rows (rounded to 8 significant bits) as its rows are copied into a
// worker's panels; Data is never modified and never copied whole. Memory
// beyond the returned state is O(Workers × TileSize × (sum of Dim + K)),
// plus a TileSize² Gram tile per worker and space of Dim >= 16.
//
// Squared distances are direct sums of squared differences below Dim 16;
// from Dim 16 up they come from the Gram form |x_i|² + |x_j|² - 2 x_i·x_j
// (the fused kernel of fused.go: a register-blocked FMA micro-kernel in
// assembly on amd64 with AVX2 or AVX-512, pure Go elsewhere and under the
// purego build tag), recomputed by direct differences where the Gram form
// cancels (below 1e-6·(|x_i|² + |x_j|²)), so that duplicated rows are at
// distance exactly 0 in either kernel. With opts.Precision = Float32 the
// inner products of those spaces are computed in float32 and everything
// else in float64; the refinement threshold is then 1e-3 (see Float32).
// The direct and univariate paths are float64 in both modes.
//
// The result is bit-identical for every Workers value. Compute returns an
// error wrapping ErrNoSpaces, ErrSampleCount, ErrShape, ErrExponent or
// ErrNotFinite for invalid input, and ctx.Err() if ctx is cancelled before
// the last tile is added. It panics if opts.TileSize or opts.Workers is
// negative.
func Compute(ctx context.Context, spaces []Space, opts Options) (*estimator.Stats, error) {
	return computeRun(ctx, spaces, opts, Schedule{}, kernelAuto, bestKernels())
}

// ComputeSchedule is Compute for the tiles, resume point and progress
// callback of sch (see Schedule). Beyond Compute's, it returns an error
// wrapping ErrRange for a range or resume point outside the tile order, or
// ErrResume for a state to resume made from other spaces or options.
func ComputeSchedule(ctx context.Context, spaces []Space, opts Options, sch Schedule) (*estimator.Stats, error) {
	return computeRun(ctx, spaces, opts, sch, kernelAuto, bestKernels())
}

// compute is Compute with the choice of kernel.
func compute(ctx context.Context, spaces []Space, opts Options, kern kernel) (*estimator.Stats, error) {
	return computeRun(ctx, spaces, opts, Schedule{}, kern, bestKernels())
}

// computeWith is compute with the strip kernels of the fused Gram path.
func computeWith(ctx context.Context, spaces []Space, opts Options, kern kernel, impl kernels) (*estimator.Stats, error) {
	return computeRun(ctx, spaces, opts, Schedule{}, kern, impl)
}

// computeRun is ComputeSchedule with the kernel and the strip kernels of
// the fused Gram path.
func computeRun(ctx context.Context, spaces []Space, opts Options, run Schedule, kern kernel, impl kernels) (*estimator.Stats, error) {
	alpha, workers, err := opts.resolved()
	if err != nil {
		return nil, err
	}
	n, err := validate(spaces)
	if err != nil {
		return nil, err
	}
	tileSize := tileEdge(n, opts)

	p := newPlanOn(spaces, n, alpha, tileSize, kern, impl, workers)
	p.setPrecision(opts.Precision)
	grid := (n + tileSize - 1) / tileSize
	tiles := grid * (grid + 1) / 2
	workers = max(1, min(workers, tiles))

	scratches := make([]*scratch, workers)
	for w := range scratches {
		scratches[w] = p.newScratch()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p.setShifts()
	st := estimator.New(p.k, n, alpha, p.shift, p.scaleExp)
	rng := run.Tiles
	if rng == (Range{}) {
		rng = Range{0, tiles}
	}
	if rng.From < 0 || rng.From > rng.To || rng.To > tiles {
		return nil, fmt.Errorf("tiles [%d, %d) of %d: %w", rng.From, rng.To, tiles, ErrRange)
	}
	if run.Resume != nil {
		if err := compatible(run.Resume, st); err != nil {
			return nil, err
		}
		st = run.Resume
	}
	sch := &schedule{rng: rng, done: run.Done, progress: run.Progress}
	if run.Resume == nil {
		sch.done = nil
	}
	if err := p.run(ctx, st, scratches, grid, sch); err != nil {
		return nil, err
	}
	return st, nil
}

// compatible reports whether a state to resume was made with the same
// samples, exponent, shifts and bounds as fresh, a new state for this run.
func compatible(resume, fresh *estimator.Stats) error {
	if resume.K() != fresh.K() || resume.N() != fresh.N() || resume.Exponent() != fresh.Exponent() {
		return fmt.Errorf("state of %d spaces, %d samples, exponent %v; this run has %d, %d, %v: %w",
			resume.K(), resume.N(), resume.Exponent(), fresh.K(), fresh.N(), fresh.Exponent(), ErrResume)
	}
	for k := range fresh.K() {
		if resume.Shift(k) != fresh.Shift(k) || resume.Scale(k) != fresh.Scale(k) {
			return fmt.Errorf("space %d: state shift %v scale 2^%d, this run %v 2^%d: %w",
				k, resume.Shift(k), -resume.Scale(k), fresh.Shift(k), -fresh.Scale(k), ErrResume)
		}
	}
	return nil
}

// validate checks the spaces and returns their common sample count.
func validate(spaces []Space) (int, error) { return check(spaces, true) }

// validateShape is validate without the check that the values are
// finite.
func validateShape(spaces []Space) (int, error) { return check(spaces, false) }

// check checks each space's shape and, if values, that its values are
// finite, before the next space, and returns their common sample count.
func check(spaces []Space, values bool) (int, error) {
	if len(spaces) == 0 {
		return 0, ErrNoSpaces
	}
	n := -1
	for k, s := range spaces {
		m, err := shapeOf(k, s, n)
		if err != nil {
			return 0, err
		}
		n = m
		if !values || finite.All(s.Data) {
			continue
		}
		for i, v := range s.Data {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return 0, fmt.Errorf("space %d: row %d column %d: %v: %w", k, i/s.Dim, i%s.Dim, v, ErrNotFinite)
			}
		}
	}
	return n, nil
}

// shapeOf returns the row count of space k, checking its shape and that
// it has n rows (n < 0: any).
func shapeOf(k int, s Space, n int) (int, error) {
	if s.Dim < 1 {
		return 0, fmt.Errorf("space %d: dim %d: %w", k, s.Dim, ErrShape)
	}
	if len(s.Data)%s.Dim != 0 {
		return 0, fmt.Errorf("space %d: %d values not a multiple of dim %d: %w", k, len(s.Data), s.Dim, ErrShape)
	}
	m := len(s.Data) / s.Dim
	if n >= 0 && m != n {
		return 0, fmt.Errorf("space %d: %d rows vs %d: %w", k, m, n, ErrSampleCount)
	}
	return m, nil
}

// slot is one tile partial in flight: a worker sets the tile's
// coordinates, computes the tile into it and hands it to the reducer,
// which adds it to the state and frees the slot.
type slot struct {
	tile  estimator.Tile
	t     int // the tile's index in the list of the engine's call
	s     []float64
	rowI  [][]float64 // K buffers of TileSize
	rowJ  [][]float64 // K buffers of TileSize
	viewJ [][]float64 // tile.RowJ of off-diagonal tiles
	rbf   *rbfSlot    // the kernel tile (rbf.go), with plan.rbf
}

// run computes the tiles of the upper triangle of the grid×grid tile grid
// that sch runs, but those sch.done reports, on len(scratches) workers and
// adds them to st, on the worker pool of the package (engine.addEach),
// runBatch tiles at a time. The tiles are added in the order they are
// done; the state adds exactly, so it is the same for any worker count
// and timing.
func (p *plan) run(ctx context.Context, st *estimator.Stats, scratches []*scratch, grid int, sch *schedule) error {
	e := &engine{p: p, workers: len(scratches), scratches: scratches}
	total, done := sch.rng.To-sch.rng.From, 0
	if sch.done != nil {
		rangeTiles(grid, sch.rng, func(t Tile) error {
			if sch.done(t) {
				done++
			}
			return nil
		})
	}
	refs := make([]tileRef, 0, min(runBatch, total-done))
	added := func(t int) error {
		done++
		if sch.progress == nil {
			return nil
		}
		r := refs[t]
		return sch.progress(st, Tile{r.gi / p.tileSize, r.gj / p.tileSize}, done, total)
	}
	flush := func() error {
		err := e.addEach(ctx, st, p.spaces, refs, added)
		refs = refs[:0]
		return err
	}
	err := rangeTiles(grid, sch.rng, func(t Tile) error {
		if sch.done != nil && sch.done(t) {
			return nil
		}
		i0, j0 := t.I*p.tileSize, t.J*p.tileSize
		refs = append(refs, tileRef{li: i0, ni: min(p.tileSize, p.n-i0), lj: j0, nj: min(p.tileSize, p.n-j0), gi: i0, gj: j0, diag: t.I == t.J})
		if len(refs) == runBatch {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

// runBatch is the number of tiles run lists at once (56 bytes each).
const runBatch = 1 << 16

// rangeTiles calls f for the tiles of rng, in the tile order of a grid of
// grid×grid tiles, and returns f's first error.
func rangeTiles(grid int, rng Range, f func(Tile) error) error {
	idx := 0 // the position of (bi, bj) in the tile order
	for bi := 0; bi < grid && idx < rng.To; bi++ {
		for bj := bi; bj < grid && idx < rng.To; bj, idx = bj+1, idx+1 {
			if idx < rng.From {
				continue
			}
			if err := f(Tile{bi, bj}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *plan) newSlot() slot {
	sl := slot{
		s:     make([]float64, p.k*(p.k+1)/2),
		rowI:  make([][]float64, p.k),
		rowJ:  make([][]float64, p.k),
		viewJ: make([][]float64, p.k),
	}
	for k := range p.k {
		sl.rowI[k] = make([]float64, p.tileSize)
		sl.rowJ[k] = make([]float64, p.tileSize)
	}
	sl.tile.S = sl.s
	sl.tile.RowI = make([][]float64, p.k)
	if p.rbf != nil {
		sl.rbf = p.newRBFSlot()
	}
	return sl
}

// setTile points sl's tile at the tile (bi, bj) of the grid.
func (p *plan) setTile(sl *slot, bi, bj int) {
	i0, j0 := bi*p.tileSize, bj*p.tileSize
	ni, nj := min(p.tileSize, p.n-i0), min(p.tileSize, p.n-j0)
	tl := &sl.tile
	tl.I0, tl.J0, tl.Diagonal = i0, j0, bi == bj
	tl.RowJ = nil
	if !tl.Diagonal {
		tl.RowJ = sl.viewJ
	}
	for k := range p.k {
		tl.RowI[k] = sl.rowI[k][:ni]
		sl.viewJ[k] = sl.rowJ[k][:nj]
	}
}
