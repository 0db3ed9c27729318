package job

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"

	"github.com/dcor-stream/dcor-stream/block"
	"github.com/dcor-stream/dcor-stream/stream"
)

// panelLayout is the memory of a run under a budget.
type panelLayout struct {
	held, streamed int // rows of a panel, and of a streamed block
	clamped        bool
}

// rowSumBytes is the memory of the state's exact row sums per sample and
// space: three limbs of 8 bytes, the layout of ordinary data (a space whose
// distances span more than about 2^64 widens it, beyond the budget).
const rowSumBytes = 24

// layoutPanels chooses the panel: the streamed blocks are up to 4 tiles,
// and the held panel the largest multiple of them that fits what the
// budget leaves after the stream's buffers (the block, its copy in the
// panel and an input batch), the workers' scratch and the row sums of
// the state; at least one tile each.
func layoutPanels(pl *block.Plan, budget int64, n int) panelLayout {
	t := pl.TileSize()
	rb := pl.RowBytes()
	fixed := pl.ScratchBytes() + rowSumBytes*int64(n)*int64(len(pl.Dims()))
	streamed := t
	for c := 4; c > 1; c-- {
		if fixed+3*int64(c*t)*rb+int64(c*t)*rb <= budget {
			streamed = c * t
			break
		}
	}
	left := budget - fixed - 3*int64(streamed)*rb
	held := int(max(0, left/rb)) / streamed * streamed
	l := panelLayout{held: held, streamed: streamed}
	if held < streamed {
		l.held, l.clamped = streamed, true
	}
	// No larger than the data, in whole blocks.
	l.held = min(l.held, max(streamed, (n+streamed-1)/streamed*streamed))
	return l
}

// outOfCore is the schedule of DESIGN §3 under a memory budget: a first
// pass finds the plan (leading rows), the bounds, n and the fingerprint;
// then each pass holds a panel of rows, adds its own tiles and streams
// every later row past it, adding the tiles of the shard not yet done.
// Each later pass hashes what it reads and compares it with the first.
func (r *runner) outOfCore(ctx context.Context) (out *Outcome, err error) {
	s := r.spec
	rd, closeReader, err := s.openReader(ctx, true, 1024)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := closeReader(); err == nil && cerr != nil {
			out, err = nil, cerr
		}
	}()
	if err := s.checkContrasts(r.spaceInfos(rd.Spaces())); err != nil {
		return nil, err
	}
	pl, sums, passes, err := r.scanPass(ctx, rd)
	if err != nil {
		return nil, err
	}
	fresh, err := pl.NewStats()
	if err != nil {
		return nil, err
	}
	n := pl.N()
	dropped := 0
	if s.DropInvalid {
		dropped = int(max(0, rd.Dropped()))
	}
	r.begin(n, dropped, r.spaceInfos(rd.Spaces()), sums)
	uni, err := s.univariate(n, r.hdr.Spaces)
	if err != nil {
		return nil, err
	}
	k := int64(len(r.hdr.Spaces))
	if need := int64(n) * (8*k + univariateBytes*k + univariatePairBytes); uni && need > s.Memory {
		// The same path as in memory (so that a job's schedules agree to
		// the bit) needs O(n) memory: beyond the budget, auto takes the
		// tiles, which agree with it to rounding.
		if s.Estimator == "univariate" {
			return nil, fmt.Errorf("the exact univariate path holds about %s for %d samples, over the budget %s: raise it, or use the tiles (O(n²) pairs within the budget): %w",
				size(need), n, size(s.Memory), ErrBudget)
		}
		s.notify("the exact univariate path needs about %s, over the budget %s: computing by tiles (the same statistics to rounding, not to the bit)", size(need), size(s.Memory))
		uni = false
	}
	rbf := s.rbfOn(uni)
	if uni {
		spaces, err := readAll(ctx, rd, s.Options.NormalizeRows)
		if err != nil {
			return nil, err
		}
		return r.univariate(ctx, spaces)
	}
	if rbf {
		if r.kernErr != nil {
			return nil, r.kernErr
		}
		if err := r.startRBF(pl, r.kern); err != nil {
			return nil, err
		}
	}
	if err := r.checkPassBudget(pl); err != nil {
		return nil, err
	}
	if err := r.resume(ctx, fresh); err != nil {
		return nil, err
	}
	if err := r.resumeRBF(pl); err != nil {
		return nil, err
	}
	// The CKA sums are held besides the panels; beyond the budget and
	// the slack of one worker's scratch they do not fit.
	parts := r.partBytes()
	if parts > s.Memory+scratchSlack {
		return nil, s.errCKABudget(parts)
	}
	files := s.files()
	name := files[0]
	if len(rd.Files()) > 1 {
		name = fmt.Sprintf("the inputs (%v)", rd.Files())
	}
	pp := panelPasses{rd: rd, pl: pl, check: passChecker(name, pl.TileSize(), sums), passes: passes}
	if r.hdr.Phase == "" {
		pp.lay = layoutPanels(pl, max(0, s.Memory-parts), n)
		pp.held = func(ctx context.Context, pn *block.Panel) error {
			return pn.AddHeldTiles(ctx, r.st, r.keep, r.added)
		}
		pp.stream = func(ctx context.Context, pn *block.Panel, j0 int, rows []block.Space) error {
			return pn.AddStreamTiles(ctx, r.st, j0, rows, r.keep, r.added)
		}
		if err := r.panels(ctx, &pp); err != nil {
			return r.finish(ctx, err)
		}
	}
	held := func(k ...int) ([]block.Space, error) { return r.readSpaces(ctx, &pp, k...) }
	for _, ph := range s.passes() {
		if phaseIndex(r.hdr.Phase) > phaseIndex(ph) {
			continue // done before a resume
		}
		pass, err := r.startPass(ctx, pl, ph, held)
		if err != nil {
			return r.finish(ctx, err)
		}
		// The panels of the pass share the budget with what it holds.
		pp.lay = layoutPanels(pl, max(0, s.Memory-parts-r.passBytes(ph, pl.TileSize())), n)
		pp.held = func(ctx context.Context, pn *block.Panel) error {
			return pass.AddHeld(ctx, pn, r.keep, r.added)
		}
		pp.stream = func(ctx context.Context, pn *block.Panel, j0 int, rows []block.Space) error {
			return pass.AddStream(ctx, pn, j0, rows, r.keep, r.added)
		}
		if err := r.panels(ctx, &pp); err != nil {
			return r.finish(ctx, err)
		}
	}
	out, err = r.finish(ctx, nil)
	if out != nil {
		out.Passes, out.PanelRows = pp.passes, pp.lay.held
		if out.Pair != nil {
			out.Pair.Passes = pp.passes
		}
		if out.Matrix != nil {
			out.Matrix.Passes = pp.passes
		}
	}
	return out, err
}

// panelPasses are the passes of one pass over the tiles under a budget:
// the input, the plan, the layout of the panels, what a panel's held
// rows and a streamed block add, and the passes so far.
type panelPasses struct {
	rd     *stream.Reader
	pl     *block.Plan
	lay    panelLayout
	check  func(int, [sha256.Size]byte) error
	held   func(ctx context.Context, pn *block.Panel) error
	stream func(ctx context.Context, pn *block.Panel, j0 int, rows []block.Space) error
	passes int
}

// panels makes one pass over the tiles of the shard not done: a pass
// over the input per panel of held rows.
func (r *runner) panels(ctx context.Context, pp *panelPasses) error {
	s := r.spec
	lay, pl, n := pp.lay, pp.pl, pp.pl.N()
	if lay.clamped {
		s.notify("-mem %s is less than the smallest panel; using panels of one tile (%d rows)", size(s.Memory), lay.held)
	}
	pn := pl.NewPanel(lay.held, lay.streamed)
	t := pl.TileSize()
	var sp []block.Space
	panels := 0
	for bi := 0; bi < r.g.g; {
		// The next panel: from the first tile row with work left.
		for bi < r.g.g && r.lastNeeded(bi, bi+1) < 0 {
			bi++
		}
		if bi == r.g.g {
			break
		}
		i0 := bi * t
		m := min(lay.held, n-i0)
		rowsOfTiles := (m + t - 1) / t
		lastJ := r.lastNeeded(bi, bi+rowsOfTiles)
		if err := r.panelPass(ctx, pp, pn, i0, m, lastJ, &sp); err != nil {
			return err
		}
		pp.passes++
		panels++
		if s.AfterPass != nil {
			s.AfterPass(pp.passes)
		}
		bi += rowsOfTiles
	}
	s.notify("out of core: %d rows in %d panels of %d rows, %d passes over the input", n, panels, lay.held, pp.passes)
	return nil
}

// lastNeeded returns the largest J of a tile still to be computed in the
// tile rows [a, b), or -1 if there is none.
func (r *runner) lastNeeded(a, b int) int {
	last := -1
	from, to := r.hdr.Tiles[0], r.hdr.Tiles[1]
	for i := a; i < min(b, r.g.g); i++ {
		first := r.g.index(block.Tile{I: i, J: i})
		end := first + r.g.g - i // one past the row's last index
		for idx := min(end, to) - 1; idx >= max(first, from); idx-- {
			if !r.done.has(idx) {
				last = max(last, i+idx-first)
				break
			}
		}
	}
	return last
}

// scanPass is the first pass: it keeps the first rows until it has
// block.LeadRows of them (or the data ends) to prepare the plan, takes
// every row into the bounds and hashes every row (the chunk sums of the
// fingerprint); with Spec.CKA it adds the rows to the linear CKA sums.
func (r *runner) scanPass(ctx context.Context, rd *stream.Reader) (*block.Plan, [][sha256.Size]byte, int, error) {
	s := r.spec
	bo := s.blockOptions()
	lead := block.LeadRows(bo)
	t := s.stateOptions().Tile
	pass, err := rd.NewPass(ctx, 0, 1024)
	if err != nil {
		return nil, nil, 0, err
	}
	defer pass.Close()
	h := newChunkHasher(t, 0)
	var (
		first [][]float64
		dims  []int
		pl    *block.Plan
		sp    []block.Space
		have  int
		lin   *linearSums // the linear CKA sums (Spec.CKA)
	)
	prepare := func() error {
		infos := r.spaceInfos(rd.Spaces())
		for k := range infos {
			infos[k].Dim = dims[k]
		}
		if err := s.checkBudget(infos, s.files()); err != nil {
			return err
		}
		// The workers' scratch takes at most half the budget: fewer
		// workers if need be (the result does not depend on them); one
		// at least, within the slack of checkBudget.
		per := block.WorkerBytes(dims, t)
		bo.Workers = max(1, min(s.workers(), int(s.Memory/2/max(per, 1))))
		fs := make([]block.Space, len(first))
		for k := range first {
			fs[k] = block.Space{Data: first[k], Dim: dims[k]}
		}
		var err error
		if pl, err = block.Prepare(fs, bo); err != nil {
			return err
		}
		first = nil
		if s.wantsRBF() {
			r.kern, r.kernErr = s.rbfOf(fs, infos)
		}
		if s.CKA {
			// At least a limb and a float64 of a block's sums per entry:
			// refused before they are allocated.
			if need := 16 * s.linearEntries(dims); need > s.Memory+scratchSlack {
				return s.errCKABudget(need)
			}
			lin = s.newLinearSums(fs, s.linearRows())
			if err := lin.add(ctx, fs); err != nil {
				return err
			}
		}
		return pl.ScanBound(fs)
	}
	for {
		b, err := pass.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, 0, err
		}
		if err := h.add(b.Spaces, b.Dims, b.N); err != nil {
			return nil, nil, 0, err
		}
		sp = r.transform(sp, b)
		if pl != nil {
			if err := pl.ScanBound(sp); err != nil {
				return nil, nil, 0, err
			}
			if lin != nil {
				if err := lin.add(ctx, sp); err != nil {
					return nil, nil, 0, err
				}
			}
			continue
		}
		if first == nil {
			first = make([][]float64, len(sp))
			dims = append([]int(nil), b.Dims...)
		}
		for k, x := range sp {
			first[k] = append(first[k], x.Data...)
		}
		have += b.N
		if have >= lead {
			if err := prepare(); err != nil {
				return nil, nil, 0, err
			}
		}
	}
	if err := h.flush(); err != nil {
		return nil, nil, 0, err
	}
	if pl == nil {
		if first == nil { // no rows
			first = make([][]float64, len(rd.Spaces()))
			dims = make([]int, len(first))
			for k, x := range rd.Spaces() {
				dims[k] = max(1, x.Dim)
			}
		}
		if err := prepare(); err != nil {
			return nil, nil, 0, err
		}
	}
	if lin != nil {
		p, err := lin.part()
		if err != nil {
			return nil, nil, 0, err
		}
		r.parts = append(r.parts, p)
	}
	if s.AfterPass != nil {
		s.AfterPass(1)
	}
	return pl, h.sums, 1, nil
}

// transform views the spaces of a block as block spaces, normalising the
// rows (in the block's memory) if asked.
func (r *runner) transform(dst []block.Space, b *stream.Block) []block.Space {
	dst = dst[:0]
	for k, x := range b.Spaces {
		if r.spec.Options.NormalizeRows {
			NormalizeRows(x, b.Dims[k])
		}
		dst = append(dst, block.Space{Data: x, Dim: b.Dims[k]})
	}
	return dst
}

// panelPass holds the rows [i0, i0+m) in pn, adds their tiles still to be
// done, then streams the later rows past them, up to the end of tile
// column lastJ, adding the tiles still to be done. Every row read is
// hashed and checked against the first pass.
func (r *runner) panelPass(ctx context.Context, pp *panelPasses, pn *block.Panel, i0, m, lastJ int, sp *[]block.Space) error {
	pl := pp.pl
	pass, err := pp.rd.NewPass(ctx, int64(i0), pp.lay.streamed)
	if err != nil {
		return err
	}
	defer pass.Close()
	h := newChunkHasher(r.hdr.Options.Tile, i0)
	h.check = pp.check
	t := pl.TileSize()
	end := min(pl.N(), (lastJ+1)*t) // rows past end are not needed
	// stop ends the pass early, after the rows before read: the last
	// chunk, shorter, is checked if they are all the rows.
	stop := func(read int) error {
		if read == pl.N() {
			return h.flush()
		}
		return nil
	}
	pn.Hold(i0)
	for {
		b, err := pass.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if err := h.add(b.Spaces, b.Dims, b.N); err != nil {
			return err
		}
		*sp = r.transform(*sp, b)
		row0 := int(b.Row0)
		if row0 < i0+m {
			if err := pn.Append(*sp); err != nil {
				return err
			}
			if pn.Held() == m {
				if err := pp.held(ctx, pn); err != nil {
					return err
				}
				if i0+m >= end {
					return stop(i0 + m) // no later rows needed
				}
			}
			continue
		}
		if err := pp.stream(ctx, pn, row0, *sp); err != nil {
			return err
		}
		if row0+b.N >= end {
			return stop(row0 + b.N)
		}
	}
	if err := h.flush(); err != nil {
		return err
	}
	if pn.Held() != m {
		return fmt.Errorf("%w: the input ended at row %d in this pass, at %d in the first: %w", stream.ErrRowMismatch, i0+pn.Held(), pl.N(), ErrChanged)
	}
	return nil
}

// readSpaces reads every row of the spaces ks into memory, in one more
// pass over the input, hashed and checked against the first pass.
func (r *runner) readSpaces(ctx context.Context, pp *panelPasses, ks ...int) ([]block.Space, error) {
	pass, err := pp.rd.NewPass(ctx, 0, 1024)
	if err != nil {
		return nil, err
	}
	defer pass.Close()
	h := newChunkHasher(r.hdr.Options.Tile, 0)
	h.check = pp.check
	n := pp.pl.N()
	out := make([]block.Space, len(ks))
	for i, k := range ks {
		d := pp.pl.Dims()[k]
		out[i] = block.Space{Data: make([]float64, 0, n*d), Dim: d}
	}
	var sp []block.Space
	for {
		b, err := pass.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if err := h.add(b.Spaces, b.Dims, b.N); err != nil {
			return nil, err
		}
		sp = r.transform(sp, b)
		for i, k := range ks {
			data := out[i].Data
			if len(data)+len(sp[k].Data) > cap(data) {
				return nil, fmt.Errorf("%w: more rows in this pass than the %d of the first: %w", stream.ErrRowMismatch, n, ErrChanged)
			}
			out[i].Data = append(data, sp[k].Data...)
		}
	}
	if err := h.flush(); err != nil {
		return nil, err
	}
	for _, s := range out {
		if len(s.Data) != n*s.Dim {
			return nil, fmt.Errorf("%w: the input ended at row %d in this pass, at %d in the first: %w", stream.ErrRowMismatch, len(s.Data)/s.Dim, n, ErrChanged)
		}
	}
	pp.passes++
	if r.spec.AfterPass != nil {
		r.spec.AfterPass(pp.passes)
	}
	return out, nil
}

// readAll reads every row of rd into memory (one pass), rows normalised
// if asked.
func readAll(ctx context.Context, rd *stream.Reader, normalize bool) ([]block.Space, error) {
	data, err := rd.ReadAll(ctx)
	if err != nil {
		return nil, err
	}
	infos := rd.Spaces()
	spaces := make([]block.Space, len(infos))
	for k, sp := range infos {
		if normalize {
			NormalizeRows(data[k], sp.Dim)
		}
		spaces[k] = block.Space{Data: data[k], Dim: max(1, sp.Dim)}
	}
	return spaces, nil
}
