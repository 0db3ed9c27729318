package job

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"time"

	"github.com/dcor-stream/dcor-stream/block"
	"github.com/dcor-stream/dcor-stream/estimator"
	"github.com/dcor-stream/dcor-stream/stream"
)

// runner is one Run of the tile schedule, in memory or out of core: the
// parts they share (the header, the resume, the record of the tiles done,
// the checkpoints, the progress and the end).
type runner struct {
	spec *Spec
	hdr  Header
	g    grid
	st   *estimator.Stats
	// parts are the state's Parts: set (fresh) before resume, which
	// replaces them by the checkpoint's.
	parts []Part
	done  tileSet
	prog  Progress

	saved   time.Time // last checkpoint
	resumed int

	// kern: the kernels of RBF CKA, or why not, fixed by the first pass
	// of a run under a budget.
	kern    block.RBF
	kernErr error
}

// begin fixes the header of the run once n, the spaces and the chunk sums
// of the inputs are known.
func (r *runner) begin(n, dropped int, spaces []SpaceInfo, sums [][sha256.Size]byte) {
	s := r.spec
	r.hdr = Header{
		Options: s.stateOptions(),
		Spaces:  spaces,
		N:       n,
		Dropped: dropped,
		Shard:   s.Shard,
		Shards:  s.shards(),
	}
	if s.Matrix != nil {
		m := *s.Matrix
		r.hdr.Matrix = &m
	}
	r.hdr.Fingerprint = fingerprint(n, spaces, sums)
	r.g = newGrid(n, r.hdr.Options.Tile)
	r.hdr.Tiles = shardRange(r.g, s.Shard, s.shards())
	r.prog.TotalTiles = r.hdr.Tiles[1] - r.hdr.Tiles[0]
	r.prog.TotalPairs = r.g.rangePairs(r.hdr.Tiles[0], r.hdr.Tiles[1])
	// No more workers than tiles: each holds scratch of its own in the
	// passes (4,096 workers for the 78 tiles of n = 3,000 doubled the
	// peak memory).
	s.Options.Workers = max(1, min(s.workers(), r.prog.TotalTiles))
}

// resume sets the state to fresh (or to the complete state Spec.From, for
// the jackknife pass of a shard), or to the checkpoint's if there is one
// of this job.
func (r *runner) resume(ctx context.Context, fresh *estimator.Stats) error {
	r.st = fresh
	if from := r.spec.From; from != nil {
		if err := r.startFrom(from, fresh); err != nil {
			return err
		}
	}
	cp := r.spec.Checkpoint
	if cp == nil {
		return nil
	}
	saved, err := cp.Load(ctx)
	if err != nil || saved == nil {
		return err
	}
	// A checkpoint of the state pass resumes it; one of the jackknife
	// pass, that pass.
	hdr := r.hdr
	hdr.Phase = saved.Phase
	why := Compatible(&saved.Header, &hdr)
	if why == nil && (saved.Shard != r.hdr.Shard || saved.Shards != r.hdr.Shards) {
		why = fmt.Errorf("it is shard %d/%d, this run is %d/%d", saved.Shard, saved.Shards, r.hdr.Shard, r.hdr.Shards)
	}
	if why == nil {
		why = sameGrid(saved.Stats, fresh)
	}
	// The parts of a checkpoint of a pass are those of the run and of
	// its passes up to that one.
	want := (&State{Parts: r.parts}).kinds()
	passes := r.spec.passes()
	for _, ph := range passes {
		switch {
		case phaseIndex(ph) > phaseIndex(saved.Phase):
		case ph == phasePermutations:
			want = append(want, permKinds(&r.hdr)...)
		default:
			want = append(want, ph)
		}
	}
	slices.Sort(want)
	switch {
	case why != nil:
	case saved.Phase != "" && !slices.Contains(passes, saved.Phase):
		why = fmt.Errorf("it is of the %s pass, which this run does not ask", saved.Phase)
	case saved.Phase == "" && r.spec.From != nil:
		why = fmt.Errorf("it is of the state pass, and this run is given the complete state (-from)")
	case r.spec.From != nil:
		var same bool
		if same, why = sameStats(saved.Stats, r.st); why == nil && !same {
			why = fmt.Errorf("its %s pass is of another complete state than -from", saved.Phase)
		}
	}
	if seed, n, ok := saved.permSeedR(); why == nil && ok && (seed != r.spec.Seed || n != r.spec.Permutations) {
		why = fmt.Errorf("it holds %d permutations of seed %d, this run asks %d of seed %d", n, seed, r.spec.Permutations, r.spec.Seed)
	}
	if q, _ := saved.Part(kindPDCovPerm).(*pdcovPermPart); why == nil && q != nil && (q.seed != r.spec.Seed || q.test.R() != r.spec.Permutations) {
		why = fmt.Errorf("it holds %d pdcov permutations of seed %d, this run asks %d of seed %d", q.test.R(), q.seed, r.spec.Permutations, r.spec.Seed)
	}
	if why == nil && !slices.Equal(saved.kinds(), want) {
		why = fmt.Errorf("it holds the parts %v, this run's %v (other statistics asked)", saved.kinds(), want)
	}
	if why == nil {
		why = checkParts(saved.Parts, r.parts)
	}
	if why != nil {
		if !errors.Is(why, ErrState) {
			why = fmt.Errorf("%w: %w", why, ErrState)
		}
		return fmt.Errorf("checkpoint %s cannot be resumed (remove it to start over): %w", cp, why)
	}
	r.st, r.parts, r.hdr.Phase = saved.Stats, saved.Parts, saved.Phase
	r.done = tileSet{iv: saved.Done}
	r.resumed = r.done.count()
	for _, v := range saved.Done {
		r.prog.ResumedPairs += r.g.rangePairs(v[0], v[1])
	}
	r.prog.ResumedTiles = r.resumed
	r.prog.Tiles, r.prog.Pairs = r.prog.ResumedTiles, r.prog.ResumedPairs
	r.spec.notify("resuming from %s: %d of %d tiles done", cp, r.resumed, r.prog.TotalTiles)
	return nil
}

// sameGrid reports why a saved state was not made with the centring and
// shifts of this run (which the same data and options give).
func sameGrid(saved, fresh *estimator.Stats) error {
	if saved.K() != fresh.K() || saved.N() != fresh.N() || saved.Exponent() != fresh.Exponent() {
		return errors.New("its estimator state is of another shape")
	}
	for k := range fresh.K() {
		if saved.Shift(k) != fresh.Shift(k) || saved.Scale(k) != fresh.Scale(k) {
			return fmt.Errorf("its shift and scale of space %d are %v and 2^%d, this run's %v and 2^%d", k, saved.Shift(k), -saved.Scale(k), fresh.Shift(k), -fresh.Scale(k))
		}
	}
	return nil
}

// keep reports whether a tile is still to be computed: in the shard's
// range and not done.
func (r *runner) keep(tl block.Tile) bool {
	idx := r.g.index(tl)
	return idx >= r.hdr.Tiles[0] && idx < r.hdr.Tiles[1] && !r.done.has(idx)
}

// todoBatch is the number of tiles listed at once: the list and the
// block package's references to it take about 70 bytes per tile.
const todoBatch = 1 << 16

// todo appends to dst the tiles still to be computed from the tile index
// *next on, in tile order, up to todoBatch of them, and advances *next.
func (r *runner) todo(dst []block.Tile, next *int) []block.Tile {
	dst = dst[:0]
	for ; *next < r.hdr.Tiles[1] && len(dst) < todoBatch; *next++ {
		if !r.done.has(*next) {
			dst = append(dst, r.g.tile(*next))
		}
	}
	return dst
}

// added records a tile added to the state: the done set, the progress,
// and a checkpoint when one is due.
func (r *runner) added(tl block.Tile) error {
	r.done.add(r.g.index(tl))
	r.prog.Tiles++
	r.prog.Pairs += r.g.pairs(tl)
	if f := r.spec.Progress; f != nil {
		f(r.prog)
	}
	if r.spec.Checkpoint == nil {
		return nil
	}
	every := r.spec.CheckpointEvery
	if every == 0 {
		every = time.Minute
	}
	if !r.saved.IsZero() && time.Since(r.saved) < every {
		return nil
	}
	r.saved = time.Now()
	return r.spec.Checkpoint.Save(context.Background(), r.state())
}

// state is the state so far. It shares r.st.
func (r *runner) state() *State {
	h := r.hdr
	h.Done = r.done.intervals()
	return &State{Header: h, Stats: r.st, Parts: r.parts}
}

// finish ends the run after the schedule returned err: on cancellation it
// saves the checkpoint; on success it removes it, and returns the outcome.
func (r *runner) finish(ctx context.Context, err error) (*Outcome, error) {
	cp := r.spec.Checkpoint
	if err != nil {
		if ctx.Err() == nil || !errors.Is(err, ctx.Err()) {
			return nil, err
		}
		if cp == nil {
			return nil, fmt.Errorf("%w (%d of %d tiles done, not saved: no checkpoint): %w", ErrInterrupted, r.done.count(), r.prog.TotalTiles, ctx.Err())
		}
		if serr := cp.Save(context.WithoutCancel(ctx), r.state()); serr != nil {
			return nil, fmt.Errorf("%w, and saving the checkpoint failed: %v: %w", ErrInterrupted, serr, ctx.Err())
		}
		return nil, fmt.Errorf("%w: %d of %d tiles saved in checkpoint %s; run the same command again to resume: %w",
			ErrInterrupted, r.done.count(), r.prog.TotalTiles, cp, ctx.Err())
	}
	st := r.state()
	if !st.Complete() {
		return nil, fmt.Errorf("job: internal error: %d of %d tiles done at the end", r.done.count(), r.prog.TotalTiles)
	}
	out := &Outcome{State: st, Resumed: r.resumed}
	if st.Whole() {
		res, err := st.ResultsContext(ctx)
		if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			// Every tile is done: a checkpoint saves them, and the run
			// again only evaluates the results.
			if cp == nil {
				return nil, fmt.Errorf("%w while evaluating the results (every tile done, not saved: no checkpoint): %w", ErrInterrupted, ctx.Err())
			}
			if serr := cp.Save(context.WithoutCancel(ctx), st); serr != nil {
				return nil, fmt.Errorf("%w, and saving the checkpoint failed: %v: %w", ErrInterrupted, serr, ctx.Err())
			}
			return nil, fmt.Errorf("%w while evaluating the results: every tile saved in checkpoint %s; run the same command again to resume: %w",
				ErrInterrupted, cp, ctx.Err())
		}
		if err != nil {
			return nil, err
		}
		if st.HasIntervals() && r.spec.CI > 0 {
			if err := st.Intervals(&res, r.spec.CI); err != nil {
				return nil, err
			}
			if m := res.Matrix; m != nil {
				if err := m.AddContrasts(r.spec.Compare); err != nil {
					return nil, err
				}
			}
		}
		if st.HasPermutations() {
			if err := st.Permutations(&res); err != nil {
				return nil, err
			}
		}
		out.Results = res
	} else if (r.spec.CI > 0 || r.spec.Permutations > 0) && len(r.spec.passes()) == 0 {
		r.spec.notify("-ci and -permutations of a shard take two rounds: merge the states of this round (merge -state FILE), then run each shard again with -from FILE (see docs/sharding.md)")
	}
	if cp != nil {
		if err := cp.Remove(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// spaceInfos describes the spaces of a reader or of in-memory data.
// A space without a label of Spec.Labels that is a .npy file's one
// column is labelled by the file's stem, in every mode, as MatrixSpaces
// labels the matrix's.
func (r *runner) spaceInfos(spaces []stream.Space) []SpaceInfo {
	out := make([]SpaceInfo, len(spaces))
	files := r.spec.files()
	for k, sp := range spaces {
		out[k] = SpaceInfo{Name: sp.Name, Columns: sp.Columns, Dim: sp.Dim}
		if r.spec.Labels != nil {
			out[k].Label = r.spec.Labels[k]
		}
		if out[k].Label == "" && k < len(files) {
			out[k].Label = defaultLabel(files[k], sp.Columns, "")
		}
	}
	return out
}

// maxWorkers bounds the workers of a run: the work is CPU bound, and
// goroutines beyond the machine's cores only take memory and scheduling
// (-workers 10^7 took minutes before the first tile). The result does not
// depend on the workers.
const maxWorkers = 4096

// workers is the number of workers of the run, at most maxWorkers.
func (s *Spec) workers() int {
	if s.Options.Workers > 0 {
		return min(s.Options.Workers, maxWorkers)
	}
	return runtime.GOMAXPROCS(0)
}

// scratchSlack is what one worker's scratch may take beyond a memory
// budget: the tile's Gram block and panels of one worker at the default
// tile size exceed the smallest budgets (-mem 64KiB), which are otherwise
// honoured by holding panels of one tile.
const scratchSlack = 16 << 20

// checkBudget refuses spaces whose rows or whose one worker's scratch
// cannot fit the memory allowed (the budget plus scratchSlack, else the
// machine's memory, if known), before anything of that size is
// allocated.
func (s *Spec) checkBudget(spaces []SpaceInfo, files []string) error {
	limit := s.Memory + scratchSlack
	what := fmt.Sprintf("the budget -mem %s (and %s of slack for one worker)", size(s.Memory), size(scratchSlack))
	if s.Memory == 0 {
		limit = physicalMemory()
		what = fmt.Sprintf("this machine's memory (%s)", size(limit))
	}
	if limit <= 0 {
		return nil
	}
	dims := make([]int, len(spaces))
	for k, sp := range spaces {
		dims[k] = max(1, sp.Dim)
	}
	per := block.WorkerBytes(dims, s.stateOptions().Tile)
	for k, sp := range spaces {
		one := []int{max(1, sp.Dim)}
		row := 8 * float64(sp.Dim)
		if w := block.WorkerBytes(one, s.stateOptions().Tile); w > limit || row > float64(max(s.Memory, limit-scratchSlack)) {
			return fmt.Errorf("%s: space %q has %d dimensions: a row takes %s and one worker's scratch %s, more than %s: %w",
				files[k], sp.Name, sp.Dim, size(int64(math.Min(row, 1<<62))), size(w), what, ErrBudget)
		}
	}
	if per > limit {
		return fmt.Errorf("the spaces have %d dimensions in all: one worker's scratch takes %s, more than %s: %w", sum(dims), size(per), what, ErrBudget)
	}
	return nil
}

func sum(v []int) int {
	s := 0
	for _, x := range v {
		s += x
	}
	return s
}

// size formats a byte count.
func size(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.3g GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.3g MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.3g KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}

// errShape reports a space of Spec.Data that is not n rows of Dim values.
func errShape(k int, sp stream.Space) error {
	return fmt.Errorf("space %d (%s): %d values, dim %d: %w", k, sp.Name, len(sp.Data), sp.Dim, block.ErrShape)
}
