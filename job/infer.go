package job

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/dcor-stream/dcor-stream/block"
	"github.com/dcor-stream/dcor-stream/estimator"
)

// The jackknife of -ci (DESIGN §5) needs the final row sums r' of the
// complete state, so it is a second pass over the tiles: a run with
// Spec.CI computes the state (the first pass), then the jackknife sums of
// every tile of its shard (the second). A state of the second pass has
// Header.Phase "jackknife": its Stats are the complete state of the whole
// job, its Done the tiles of the second pass, and its part "jackknife"
// their per-row sums. Checkpoints hold either pass, and a run resumes
// where it stopped.
//
// Shards take two rounds, as the second pass of every shard needs the
// merged state of the first:
//
//	round 1: -ci -shard I/N -state sI            (each I; the state pass)
//	         merge s0 … sN−1 → the state of the whole job (state file)
//	round 2: -ci -shard I/N -from merged -state jI   (the jackknife pass)
//	         merge j0 … jN−1 → the statistics with their intervals
//
// Merge adds the jackknife parts of the jI, whose Stats must be the same.
const phaseJackknife = "jackknife"

// jackPart is the part "jackknife" of a state: the per-row sums of the
// jackknife pass over the tiles of the state's Done.
type jackPart struct{ jk *estimator.Jackknife }

func init() {
	registerPart(phaseJackknife, func(b []byte) (Part, error) {
		jk := new(estimator.Jackknife)
		if err := jk.UnmarshalBinary(b); err != nil {
			return nil, err
		}
		return &jackPart{jk}, nil
	})
}

func (p *jackPart) Kind() string                   { return phaseJackknife }
func (p *jackPart) MarshalBinary() ([]byte, error) { return p.jk.MarshalBinary() }
func (p *jackPart) Merge(o Part) error {
	q, ok := o.(*jackPart)
	if !ok {
		return fmt.Errorf("a %s part is not a jackknife part: %w", o.Kind(), ErrState)
	}
	return p.jk.Merge(q.jk)
}

// jackknife returns the jackknife of a state of the second pass, bound to
// its Stats, or nil.
func (s *State) jackknife() (*estimator.Jackknife, error) {
	p, _ := s.Part(phaseJackknife).(*jackPart)
	if p == nil || s.Phase != phaseJackknife {
		return nil, nil
	}
	if err := p.jk.SetStats(s.Stats); err != nil {
		return nil, fmt.Errorf("%v: %w", err, ErrState)
	}
	return p.jk, nil
}

// HasIntervals reports whether s is a complete state of the jackknife
// pass of a whole job, of which Intervals gives the intervals.
func (s *State) HasIntervals() bool {
	return s.Phase == phaseJackknife && s.Whole() && s.Part(phaseJackknife) != nil
}

// Intervals adds to res, the Results of s, the delete-one jackknife
// standard errors and normal intervals at level (in (0, 1)) that s holds
// (see HasIntervals): in the pair mode PairExtras' CI fields, in the
// matrix mode BCDCorSE and BCDCorCov.
func (s *State) Intervals(res *Results, level float64) error {
	if !s.HasIntervals() {
		return fmt.Errorf("the state holds no complete jackknife pass (run with -ci): %w", ErrState)
	}
	if !(level > 0 && level < 1) {
		return fmt.Errorf("confidence level %v outside (0, 1): %w", level, ErrSpec)
	}
	jk, err := s.jackknife()
	if err != nil {
		return err
	}
	if p := res.Pair; p != nil {
		x := p.Extras
		if x == nil {
			x = &PairExtras{}
			p.Extras = x
		}
		se := jk.Pair(0, 1)
		x.CILevel, x.DCorSE, x.BCDCorSE = level, se.DCor, se.BCDCor
		x.DCorCI = interval(p.DCor, se.DCor, level, 0, 1)
		x.BCDCorCI = interval(p.BCDCor, se.BCDCor, level, -1, 1)
		if p.Partial != nil {
			x.PDCorSE = jk.PartialSE(0, 1, 2)
			x.PDCorCI = interval(p.Partial.PDCor, x.PDCorSE, level, -1, 1)
		}
		return nil
	}
	m, lay := res.Matrix, s.Matrix
	var entries [][2]int
	for _, x := range lay.Rows {
		for _, y := range lay.Cols {
			entries = append(entries, [2]int{x, y})
		}
	}
	m.CILevel = level
	m.BCDCorCov = jk.BCDCorCov(entries)
	m.BCDCorSE = grid2(len(lay.Rows), len(lay.Cols))
	for e := range entries {
		m.BCDCorSE[e/len(lay.Cols)][e%len(lay.Cols)] = math.Sqrt(m.BCDCorCov[e][e])
	}
	return nil
}

// jackPass reports whether the run computes the jackknife pass: -ci on
// the whole job, or on a shard given the merged state of the first round
// (Spec.From).
func (s *Spec) jackPass() bool {
	return s.CI > 0 && (s.shards() == 1 || s.From != nil)
}

// jackBytes is the memory of the jackknife pass beyond the state: the
// per-row sums and the final row sums r'.
func (r *runner) jackBytes() int64 {
	if !r.spec.jackPass() {
		return 0
	}
	k := len(r.hdr.Spaces)
	return estimator.JackknifeBytes(k, r.hdr.N) + 8*int64(k)*int64(r.hdr.N)
}

// checkJackBudget refuses a -ci run whose per-row sums do not fit the
// budget with a panel of one tile, before any pass.
func (r *runner) checkJackBudget(pl *block.Plan) error {
	s := r.spec
	need := r.jackBytes()
	if need == 0 || s.Memory == 0 {
		return nil
	}
	tile := int64(pl.TileSize()) * pl.RowBytes()
	if min := need + pl.ScratchBytes() + 16*int64(r.hdr.N)*int64(len(r.hdr.Spaces)) + 4*tile; min > s.Memory+scratchSlack {
		return fmt.Errorf("the -ci pass holds about %s of per-row sums for %d samples and %d spaces (%s with the smallest panel), over the budget -mem %s: raise it, or ask -ci of fewer spaces: %w",
			size(need), r.hdr.N, len(r.hdr.Spaces), size(min), size(s.Memory), ErrBudget)
	}
	return nil
}

// startFrom makes the run the jackknife pass of its shard given the
// complete state from (Spec.From) of the same job.
func (r *runner) startFrom(from *State, fresh *estimator.Stats) error {
	why := Compatible(&from.Header, &r.hdr)
	switch {
	case why != nil:
	case from.Phase != "":
		why = fmt.Errorf("it is a state of the %s pass, not of the statistics", from.Phase)
	case !from.Whole():
		why = fmt.Errorf("it is shard %d/%d, or incomplete: give the merge of every shard of the first round", from.Shard, from.Shards)
	default:
		why = sameGrid(from.Stats, fresh)
	}
	if why != nil && !errors.Is(why, ErrState) {
		why = fmt.Errorf("%v: %w", why, ErrState)
	}
	if why != nil {
		return fmt.Errorf("-from %s is not the state of this job: %w", from.name(0), why)
	}
	r.st = from.Stats
	r.toJackknife()
	return nil
}

// toJackknife starts the jackknife pass: the state is complete, the done
// tiles are now those of the second pass.
func (r *runner) toJackknife() {
	r.hdr.Phase = phaseJackknife
	r.done = tileSet{}
	r.parts = append(r.parts, &jackPart{estimator.NewJackknife(r.st)})
	r.prog.Tiles, r.prog.Pairs, r.prog.ResumedTiles, r.prog.ResumedPairs = 0, 0, 0, 0
}

// jackStart is called when the state pass is complete (or was resumed
// or given complete): it starts the jackknife pass if it has not, saving
// a checkpoint so that an interrupted run resumes after the state pass,
// and returns the pass over pl.
func (r *runner) jackStart(ctx context.Context, pl *block.Plan) (*block.JackPass, error) {
	if r.hdr.Phase != phaseJackknife {
		if !r.state().Complete() {
			return nil, fmt.Errorf("job: internal error: the jackknife pass of an incomplete state")
		}
		r.toJackknife()
		if cp := r.spec.Checkpoint; cp != nil {
			r.saved = time.Now()
			if err := cp.Save(context.WithoutCancel(ctx), r.state()); err != nil {
				return nil, err
			}
		}
	}
	jk, err := r.state().jackknife()
	if err != nil {
		return nil, err
	}
	what := "job"
	if r.hdr.Shards > 1 {
		what = fmt.Sprintf("shard %d/%d", r.hdr.Shard, r.hdr.Shards)
	}
	r.spec.notify("the jackknife pass (-ci): one more pass over the %d tiles of the %s", r.prog.TotalTiles, what)
	return pl.NewJackPass(r.st, jk)
}

// sameStats reports whether two states hold the same sums.
func sameStats(a, b *estimator.Stats) (bool, error) {
	x, err := a.MarshalBinary()
	if err != nil {
		return false, err
	}
	y, err := b.MarshalBinary()
	if err != nil {
		return false, err
	}
	return bytes.Equal(x, y), nil
}
