package job

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
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
//
// Permutations (the test of independence of the pair mode and, given z,
// pdcov's) are a pass of the same kind, after the jackknife if both are
// asked: a state of Phase "permutations" holds the test's sums (part
// "permutations"; given z, pdcov's in part "permutations-pdcov") of the
// tiles of its Done, and the complete parts of the passes before it.
const (
	phaseJackknife    = "jackknife"
	phasePermutations = "permutations"
	// kindPDCovPerm is the part of pdcov's test, and kindMatrixPerm
	// that of the tests of the entries of a matrix (in place of
	// "permutations"), of the permutation pass: the parts not named
	// after their pass.
	kindPDCovPerm  = "permutations-pdcov"
	kindMatrixPerm = "permutations-matrix"
)

// phaseOrder is the order of the passes; a part's kind is its pass.
var phaseOrder = []string{"", phaseJackknife, phasePermutations}

func phaseIndex(p string) int { return slices.Index(phaseOrder, p) }

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

// permPart is the part "permutations" of a state: the sums of the
// permutation test of x = 0 and y = 1 over the tiles of the state's Done,
// for the permutations of Seed.
type permPart struct {
	seed uint64
	test *estimator.PermutationTest
}

func init() {
	registerPart(phasePermutations, func(b []byte) (Part, error) {
		if len(b) < 8 {
			return nil, fmt.Errorf("a permutation part of %d bytes", len(b))
		}
		t := new(estimator.PermutationTest)
		if err := t.UnmarshalBinary(b[8:]); err != nil {
			return nil, err
		}
		return &permPart{seed: binary.LittleEndian.Uint64(b), test: t}, nil
	})
}

func (p *permPart) Kind() string { return phasePermutations }

// MarshalBinary encodes the seed (uint64, little endian), then the test
// (estimator.PermutationTest.MarshalBinary).
func (p *permPart) MarshalBinary() ([]byte, error) {
	t, err := p.test.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return append(binary.LittleEndian.AppendUint64(nil, p.seed), t...), nil
}

func (p *permPart) Merge(o Part) error {
	q, ok := o.(*permPart)
	switch {
	case !ok:
		return fmt.Errorf("a %s part is not a permutation part: %w", o.Kind(), ErrState)
	case q.seed != p.seed:
		return fmt.Errorf("permutations of seed %d and %d: %w", p.seed, q.seed, ErrState)
	}
	return p.test.Merge(q.test)
}

// pdcovPermPart is the part "permutations-pdcov" of a state: the sums of
// the permutation test of pdCov(x, y; z) = 0, spaces 0, 1 and 2, over the
// tiles of the state's Done, for the permutations of Seed.
type pdcovPermPart struct {
	seed uint64
	test *estimator.PartialPermutationTest
}

func init() {
	registerPart(kindPDCovPerm, func(b []byte) (Part, error) {
		if len(b) < 8 {
			return nil, fmt.Errorf("a pdcov permutation part of %d bytes", len(b))
		}
		t := new(estimator.PartialPermutationTest)
		if err := t.UnmarshalBinary(b[8:]); err != nil {
			return nil, err
		}
		return &pdcovPermPart{seed: binary.LittleEndian.Uint64(b), test: t}, nil
	})
}

func (p *pdcovPermPart) Kind() string { return kindPDCovPerm }

// MarshalBinary encodes the seed (uint64, little endian), then the test
// (estimator.PartialPermutationTest.MarshalBinary).
func (p *pdcovPermPart) MarshalBinary() ([]byte, error) {
	t, err := p.test.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return append(binary.LittleEndian.AppendUint64(nil, p.seed), t...), nil
}

func (p *pdcovPermPart) Merge(o Part) error {
	q, ok := o.(*pdcovPermPart)
	switch {
	case !ok:
		return fmt.Errorf("a %s part is not a pdcov permutation part: %w", o.Kind(), ErrState)
	case q.seed != p.seed:
		return fmt.Errorf("pdcov permutations of seed %d and %d: %w", p.seed, q.seed, ErrState)
	}
	if err := p.test.Merge(q.test); err != nil {
		return fmt.Errorf("%v: %w", err, ErrState)
	}
	return nil
}

// permKinds are the kinds of the parts of the permutation pass of a job
// of header h: of the matrix's entries, or of the pair's test (and
// pdcov's, given z).
func permKinds(h *Header) []string {
	switch {
	case h.Matrix != nil:
		return []string{kindMatrixPerm}
	case len(h.Spaces) == 3:
		return []string{phasePermutations, kindPDCovPerm}
	}
	return []string{phasePermutations}
}

// matrixPermPart is the part "permutations-matrix" of a state: the sums
// of the permutation test of independence of every entry of the matrix,
// row by row (entry (i, j) at i·C + j), over the tiles of the state's
// Done, for the permutations of Seed (the same π_b for every entry).
type matrixPermPart struct {
	seed  uint64
	tests []*estimator.PermutationTest
}

func init() {
	registerPart(kindMatrixPerm, func(b []byte) (Part, error) {
		if len(b) < 8 {
			return nil, fmt.Errorf("a matrix permutation part of %d bytes", len(b))
		}
		p := &matrixPermPart{seed: binary.LittleEndian.Uint64(b)}
		b = b[8:]
		count, m := binary.Uvarint(b)
		if m <= 0 || count < 1 || count > uint64(len(b)) {
			return nil, fmt.Errorf("a matrix permutation part of %d entries in %d bytes", count, len(b))
		}
		b = b[m:]
		for range count {
			l, m := binary.Uvarint(b)
			if m <= 0 || l > uint64(len(b)-m) {
				return nil, fmt.Errorf("a matrix permutation part truncated")
			}
			t := new(estimator.PermutationTest)
			if err := t.UnmarshalBinary(b[m : m+int(l)]); err != nil {
				return nil, err
			}
			if len(p.tests) > 0 && t.R() != p.tests[0].R() {
				return nil, fmt.Errorf("entries of %d and %d permutations", p.tests[0].R(), t.R())
			}
			p.tests = append(p.tests, t)
			b = b[m+int(l):]
		}
		if len(b) != 0 {
			return nil, fmt.Errorf("%d bytes after the entries", len(b))
		}
		return p, nil
	})
}

func (p *matrixPermPart) Kind() string { return kindMatrixPerm }

// MarshalBinary encodes the seed (uint64, little endian), the number of
// entries (uvarint), then each entry's test as its length (uvarint) and
// estimator.PermutationTest.MarshalBinary.
func (p *matrixPermPart) MarshalBinary() ([]byte, error) {
	b := binary.LittleEndian.AppendUint64(nil, p.seed)
	b = binary.AppendUvarint(b, uint64(len(p.tests)))
	for _, t := range p.tests {
		e, err := t.MarshalBinary()
		if err != nil {
			return nil, err
		}
		b = append(binary.AppendUvarint(b, uint64(len(e))), e...)
	}
	return b, nil
}

func (p *matrixPermPart) Merge(o Part) error {
	q, ok := o.(*matrixPermPart)
	switch {
	case !ok:
		return fmt.Errorf("a %s part is not a matrix permutation part: %w", o.Kind(), ErrState)
	case q.seed != p.seed:
		return fmt.Errorf("permutations of seed %d and %d: %w", p.seed, q.seed, ErrState)
	case len(q.tests) != len(p.tests):
		return fmt.Errorf("permutation tests of %d and %d entries: %w", len(p.tests), len(q.tests), ErrState)
	}
	for i, t := range p.tests {
		if err := t.Merge(q.tests[i]); err != nil {
			return fmt.Errorf("entry %d: %v: %w", i, err, ErrState)
		}
	}
	return nil
}

// permSeedR returns the seed and the number of permutations of the
// permutation parts of s, the pair's or the matrix's (ok false if none).
func (s *State) permSeedR() (seed uint64, r int, ok bool) {
	if p, _ := s.Part(phasePermutations).(*permPart); p != nil {
		return p.seed, p.test.R(), true
	}
	if p, _ := s.Part(kindMatrixPerm).(*matrixPermPart); p != nil {
		return p.seed, p.tests[0].R(), true
	}
	return 0, 0, false
}

// jackknife returns the jackknife of a state of the jackknife pass or a
// later one, bound to its Stats, or nil.
func (s *State) jackknife() (*estimator.Jackknife, error) {
	p, _ := s.Part(phaseJackknife).(*jackPart)
	if p == nil || phaseIndex(s.Phase) < phaseIndex(phaseJackknife) {
		return nil, nil
	}
	if err := p.jk.SetStats(s.Stats); err != nil {
		return nil, fmt.Errorf("%v: %w", err, ErrState)
	}
	return p.jk, nil
}

// HasIntervals reports whether s is a complete state of the whole job
// whose jackknife pass is complete, of which Intervals gives the
// intervals.
func (s *State) HasIntervals() bool {
	return phaseIndex(s.Phase) >= phaseIndex(phaseJackknife) && s.Whole() && s.Part(phaseJackknife) != nil
}

// HasPermutations reports whether s is a complete state of the whole job
// whose permutation pass is complete (see Permutations).
func (s *State) HasPermutations() bool {
	_, _, ok := s.permSeedR()
	return s.Phase == phasePermutations && s.Whole() && ok
}

// Permutations adds to res, the Results of s (see HasPermutations), the
// permutation p-value of independence of the pair (PairExtras' PermP,
// Permutations and Seed) and, given z, pdcov's (PDCorPermP); in the
// matrix mode that of every entry (MatrixResult's PermP, Permutations
// and Seed).
func (s *State) Permutations(res *Results) error {
	if m, ok := s.Part(kindMatrixPerm).(*matrixPermPart); ok && s.HasPermutations() && res.Matrix != nil && s.Matrix != nil {
		lay, r := s.Matrix, res.Matrix
		if len(m.tests) != len(lay.Rows)*len(lay.Cols) {
			return fmt.Errorf("a matrix permutation part of %d entries for %d×%d: %w", len(m.tests), len(lay.Rows), len(lay.Cols), ErrState)
		}
		for e, t := range m.tests {
			if x, y := t.Spaces(); x != lay.Rows[e/len(lay.Cols)] || y != lay.Cols[e%len(lay.Cols)] {
				return fmt.Errorf("entry %d of the matrix permutation part is of spaces %d, %d: %w", e, x, y, ErrState)
			}
		}
		perm := block.NewPermutation(s.N, m.seed)
		r.Permutations, r.Seed, r.PermP = m.tests[0].R(), m.seed, grid2(len(lay.Rows), len(lay.Cols))
		for e, t := range m.tests {
			r.PermP[e/len(lay.Cols)][e%len(lay.Cols)] = t.Result(s.Stats, perm.Fill).P
		}
		return nil
	}
	p, _ := s.Part(phasePermutations).(*permPart)
	if !s.HasPermutations() || p == nil || res.Pair == nil {
		return fmt.Errorf("the state holds no complete permutation pass (run with -permutations): %w", ErrState)
	}
	q, _ := s.Part(kindPDCovPerm).(*pdcovPermPart)
	if x, y := p.test.Spaces(); x != 0 || y != 1 {
		return fmt.Errorf("a permutation part of spaces %d, %d: %w", x, y, ErrState)
	}
	if q != nil {
		if x, y, z := q.test.Spaces(); x != 0 || y != 1 || z != 2 {
			return fmt.Errorf("a pdcov permutation part of spaces %d, %d, %d: %w", x, y, z, ErrState)
		}
	}
	switch {
	case res.Pair.Partial != nil && q == nil:
		return fmt.Errorf("the state of x, y and z holds no pdcov permutation test: %w", ErrState)
	case q != nil && (q.seed != p.seed || q.test.R() != p.test.R()):
		return fmt.Errorf("its tests are of %d permutations of seed %d and %d of seed %d: %w", p.test.R(), p.seed, q.test.R(), q.seed, ErrState)
	}
	x := res.Pair.Extras
	if x == nil {
		x = &PairExtras{}
		res.Pair.Extras = x
	}
	perm := block.NewPermutation(s.N, p.seed)
	pr := p.test.Result(s.Stats, perm.Fill)
	x.Permutations, x.Seed, x.PermP, x.PermPV = p.test.R(), p.seed, pr.P, pr.PV
	if q != nil && res.Pair.Partial != nil {
		x.PDCorPermP = q.test.Result(s.N).P
	}
	return nil
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
		x.DCorSEUndefined, x.BCDCorSEUndefined = se.VFlags&estimator.SEUndefined != 0, se.UFlags&estimator.SEUndefined != 0
		x.DCorCI = interval(p.DCor, se.DCor, level, 0, 1)
		x.BCDCorCI = interval(p.BCDCor, se.BCDCor, level, -1, 1)
		if p.Partial != nil {
			var ok bool
			x.PDCorSE, ok = jk.PartialSE(0, 1, 2)
			x.PDCorSEUndefined = !ok
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
	if m.BCDCorCov == nil { // n < 5: undefined, left out
		m.flagAll(estimator.SEUndefined)
		return nil
	}
	m.BCDCorSE = grid2(len(lay.Rows), len(lay.Cols))
	for e := range entries {
		m.BCDCorSE[e/len(lay.Cols)][e%len(lay.Cols)] = math.Sqrt(m.BCDCorCov[e][e])
	}
	return nil
}

// passes returns the passes the run makes after the state: the
// jackknife (-ci) and the permutation test, on the whole job or, for a
// shard, given the complete state of the first round (Spec.From).
func (s *Spec) passes() []string {
	if s.shards() > 1 && s.From == nil {
		return nil
	}
	var p []string
	if s.CI > 0 {
		p = append(p, phaseJackknife)
	}
	if s.Permutations > 0 {
		p = append(p, phasePermutations)
	}
	return p
}

// jackPass reports whether the run computes the jackknife pass.
func (s *Spec) jackPass() bool { return slices.Contains(s.passes(), phaseJackknife) }

// passBytes is the memory a pass holds beyond the state and the panels:
// the jackknife's per-row sums and final row sums r'; the permutation
// test's space y (and its rows centred once, for 16 or more dimensions),
// per worker the tiles of x's distances, and what grows with R
// (permBytes); given z, pdcov's: z as y,
// the row sums r' of x, y and z, and per worker seven tiles more (three,
// and P_xz of a group of four); in the matrix, every column space as y.
func (r *runner) passBytes(phase string, tile int) int64 {
	k, n := len(r.hdr.Spaces), int64(r.hdr.N)
	switch phase {
	case phaseJackknife:
		return estimator.JackknifeBytes(k, r.hdr.N) + 8*int64(k)*n
	case phasePermutations:
		var b int64
		held := r.hdr.Spaces[1:k]
		if m := r.hdr.Matrix; m != nil {
			held = nil
			for _, c := range distinct(m.Cols) {
				held = append(held, r.hdr.Spaces[c])
			}
		}
		for _, sp := range held {
			q := int64(sp.Dim)
			if q >= 16 {
				q *= 2
			}
			b += 8 * q * n
		}
		// Per worker, the tiles of x's distances of a group of tiles
		// (block.PermPass: up to 4 of one space x, one per space x of a
		// matrix beyond 4), and pdcov's seven.
		xs, t, w := 1, int64(tile), int64(r.spec.workers())
		if m := r.hdr.Matrix; m != nil {
			xs = len(distinct(m.Rows))
		}
		b += w * int64(max(4, xs)) * 8 * t * t
		if k == 3 && r.hdr.Matrix == nil {
			b += 8*3*n + w*7*8*t*t
		}
		return b + r.permBytes()
	}
	return 0
}

// permBytes is the memory of the permutation pass that grows with R: the
// table of every π_b (4·R·n bytes), each test's exact sums (about 24
// bytes a permutation, and 48 a sample for its row sums), and per worker
// the sums of a group of up to 4 tiles for each test (block.PermWorkerBytes);
// given z, pdcov's sums too.
func (r *runner) permBytes() int64 {
	rr, n := r.spec.Permutations, r.hdr.N
	if rr <= 0 {
		return 0
	}
	tests := int64(1)
	if m := r.hdr.Matrix; m != nil {
		tests = int64(len(m.Rows) * len(m.Cols))
	}
	const limbs = 3 * 8
	per := tests * (limbs*(int64(rr)+1) + 2*limbs*int64(n))
	work := int64(r.spec.workers()) * 4 * tests * block.PermWorkerBytes(rr)
	if len(r.hdr.Spaces) == 3 && r.hdr.Matrix == nil {
		per += limbs * (int64(rr) + 1)
		work += int64(r.spec.workers()) * 4 * 8 * (int64(rr) + 1)
	}
	return block.PermTableBytes(n, rr) + per + work
}

// checkPermBytes refuses -permutations R whose memory (permBytes) is over
// the budget, or over the machine's memory without one, before anything of
// that size is allocated.
func (r *runner) checkPermBytes() error {
	if !slices.Contains(r.spec.passes(), phasePermutations) {
		return nil
	}
	limit := r.spec.Memory + scratchSlack
	what := fmt.Sprintf("the budget -mem %s", size(r.spec.Memory))
	if r.spec.Memory == 0 {
		limit = physicalMemory()
		what = fmt.Sprintf("this machine's memory (%s)", size(limit))
	}
	if need := r.permBytes(); limit > 0 && need > limit {
		return fmt.Errorf("-permutations %d: %d permutations of %d samples need %s (a table of the permutations, 4 bytes a sample each, and their exact sums), more than %s: ask fewer permutations: %w",
			r.spec.Permutations, r.spec.Permutations, r.hdr.N, size(need), what, ErrBudget)
	}
	return nil
}

// checkPassBudget refuses a run whose passes' memory (passBytes) does not
// fit the budget with a panel of one tile, or whose permutations do not
// fit the machine without a budget (checkPermBytes), before any pass.
func (r *runner) checkPassBudget(pl *block.Plan) error {
	s := r.spec
	if err := r.checkPermBytes(); err != nil {
		return err
	}
	if s.Memory == 0 {
		return nil
	}
	tile := int64(pl.TileSize()) * pl.RowBytes()
	for _, ph := range s.passes() {
		need := r.passBytes(ph, pl.TileSize())
		low := need + pl.ScratchBytes() + rowSumBytes*int64(r.hdr.N)*int64(len(r.hdr.Spaces)) + 4*tile
		if low <= s.Memory+scratchSlack {
			continue
		}
		if ph == phaseJackknife {
			return fmt.Errorf("the -ci pass holds about %s of per-row sums for %d samples and %d spaces (%s with the smallest panel), over the budget -mem %s: raise it, or ask -ci of fewer spaces: %w",
				size(need), r.hdr.N, len(r.hdr.Spaces), size(low), size(s.Memory), ErrBudget)
		}
		if r.hdr.Matrix != nil {
			return fmt.Errorf("the permutation tests of the matrix hold its column spaces in memory, their rows read at random: %s for %d samples (%s with the smallest panel), over the budget -mem %s: raise it, or run -permutations in memory: %w",
				size(need), r.hdr.N, size(low), size(s.Memory), ErrBudget)
		}
		if len(r.hdr.Spaces) == 3 {
			return fmt.Errorf("the permutation tests given z hold spaces y and z in memory, their rows read at random: %s for %d samples of %d and %d dimensions (%s with the smallest panel), over the budget -mem %s: raise it, or run -permutations in memory: %w",
				size(need), r.hdr.N, r.hdr.Spaces[1].Dim, r.hdr.Spaces[2].Dim, size(low), size(s.Memory), ErrBudget)
		}
		return fmt.Errorf("the permutation test holds space y in memory, its rows read at random: %s for %d samples of %d dimensions (%s with the smallest panel), over the budget -mem %s: raise it, or run -permutations in memory: %w",
			size(need), r.hdr.N, r.hdr.Spaces[1].Dim, size(low), size(s.Memory), ErrBudget)
	}
	return nil
}

// startFrom makes the run the passes of its shard given the complete
// state from (Spec.From) of the same job: the state pass is done.
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
	if err := r.partsFrom(from); err != nil {
		return fmt.Errorf("-from %s is not the state of this job: %v: %w", from.name(0), err, ErrState)
	}
	r.st = from.Stats
	r.done = tileSet{}
	for idx := r.hdr.Tiles[0]; idx < r.hdr.Tiles[1]; idx++ {
		r.done.add(idx)
	}
	return nil
}

// partsFrom sets the parts of the state pass (the CKA sums) of a run of
// the second round from from's, which are complete: shard 0 takes copies
// of them, the other shards keep their fresh empty parts (no shard adds
// a tile of the state pass again), so that the merge of the round, which
// adds the shards' parts, holds them once, as one process does.
func (r *runner) partsFrom(from *State) error {
	for i, p := range r.parts {
		q := from.Part(p.Kind())
		if q == nil {
			return fmt.Errorf("it holds no part %s (other statistics asked)", p.Kind())
		}
		if fp, ok := p.(*rbfPart); ok {
			if err := fp.same(q.(*rbfPart)); err != nil {
				return err
			}
		}
		if r.hdr.Shard != 0 {
			continue
		}
		c, err := copyPart(q)
		if err != nil {
			return err
		}
		r.parts[i] = c
	}
	return nil
}

// tilePass is a pass over the tiles after the state (block.JackPass,
// block.PermPass).
type tilePass interface {
	AddTiles(ctx context.Context, rows []block.Space, tiles []block.Tile, added func(block.Tile) error) error
	AddHeld(ctx context.Context, pn *block.Panel, keep func(block.Tile) bool, added func(block.Tile) error) error
	AddStream(ctx context.Context, pn *block.Panel, j0 int, rows []block.Space, keep func(block.Tile) bool, added func(block.Tile) error) error
}

// startPass is called when the passes before phase are complete: it
// starts phase if the run is not in it (saving a checkpoint, so that an
// interrupted run resumes after the passes done), and returns the pass
// over pl; held returns all the rows of space k in memory, for the
// permutations (y, and z given).
func (r *runner) startPass(ctx context.Context, pl *block.Plan, phase string, held func(k ...int) ([]block.Space, error)) (tilePass, error) {
	if r.hdr.Phase != phase {
		if !r.state().Complete() {
			return nil, fmt.Errorf("job: internal error: the %s pass after an incomplete one", phase)
		}
		r.hdr.Phase = phase
		r.done = tileSet{}
		switch phase {
		case phaseJackknife:
			r.parts = append(r.parts, &jackPart{estimator.NewJackknife(r.st)})
		case phasePermutations:
			if m := r.hdr.Matrix; m != nil {
				p := &matrixPermPart{seed: r.spec.Seed}
				for _, x := range m.Rows {
					for _, y := range m.Cols {
						p.tests = append(p.tests, estimator.NewPermutationTest(x, y, r.spec.Permutations, r.hdr.N))
					}
				}
				r.parts = append(r.parts, p)
				break
			}
			r.parts = append(r.parts, &permPart{seed: r.spec.Seed, test: estimator.NewPermutationTest(0, 1, r.spec.Permutations, r.hdr.N)})
			if len(r.hdr.Spaces) == 3 {
				r.parts = append(r.parts, &pdcovPermPart{seed: r.spec.Seed, test: estimator.NewPartialPermutationTest(0, 1, 2, r.spec.Permutations)})
			}
		}
		r.prog.Tiles, r.prog.Pairs, r.prog.ResumedTiles, r.prog.ResumedPairs = 0, 0, 0, 0
		if cp := r.spec.Checkpoint; cp != nil {
			r.saved = time.Now()
			if err := cp.Save(context.WithoutCancel(ctx), r.state()); err != nil {
				return nil, err
			}
		}
	}
	what := "job"
	if r.hdr.Shards > 1 {
		what = fmt.Sprintf("shard %d/%d", r.hdr.Shard, r.hdr.Shards)
	}
	st := r.state()
	if phase == phaseJackknife {
		jk, err := st.jackknife()
		if err != nil {
			return nil, err
		}
		r.spec.notify("the jackknife pass (-ci): one more pass over the %d tiles of the %s", r.prog.TotalTiles, what)
		return pl.NewJackPass(r.st, jk)
	}
	if m := r.hdr.Matrix; m != nil {
		p, _ := st.Part(kindMatrixPerm).(*matrixPermPart)
		if p == nil || len(p.tests) != len(m.Rows)*len(m.Cols) {
			return nil, fmt.Errorf("job: internal error: no matrix permutation part")
		}
		cols := distinct(m.Cols)
		sp, err := held(cols...)
		if err != nil {
			return nil, err
		}
		all := make([]block.Space, len(r.hdr.Spaces))
		for i, c := range cols {
			all[c] = sp[i]
		}
		var pairs [][2]int
		for _, x := range m.Rows {
			for _, y := range m.Cols {
				pairs = append(pairs, [2]int{x, y})
			}
		}
		r.spec.notify("the permutation tests of the %d×%d entries: %d permutations, one more pass over the %d tiles of the %s", len(m.Rows), len(m.Cols), p.tests[0].R(), r.prog.TotalTiles, what)
		return pl.NewPermPassPairs(r.st, p.tests, pairs, block.NewPermutation(r.hdr.N, p.seed), all)
	}
	p, _ := st.Part(phasePermutations).(*permPart)
	if p == nil {
		return nil, fmt.Errorf("job: internal error: no permutation part")
	}
	perm := block.NewPermutation(r.hdr.N, p.seed)
	if len(r.hdr.Spaces) == 3 {
		q, _ := st.Part(kindPDCovPerm).(*pdcovPermPart)
		if q == nil {
			return nil, fmt.Errorf("job: internal error: no pdcov permutation part")
		}
		yz, err := held(1, 2)
		if err != nil {
			return nil, err
		}
		r.spec.notify("the permutation tests of independence and of pdcov given z: %d permutations, one more pass over the %d tiles of the %s", p.test.R(), r.prog.TotalTiles, what)
		return pl.NewPartialPermPass(r.st, p.test, q.test, 0, 1, 2, perm, yz[0], yz[1])
	}
	ys, err := held(1)
	if err != nil {
		return nil, err
	}
	r.spec.notify("the permutation test: %d permutations, one more pass over the %d tiles of the %s", p.test.R(), r.prog.TotalTiles, what)
	return pl.NewPermPass(r.st, p.test, 0, 1, perm, ys[0])
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

// distinct returns the values of ks without repeats, in their order.
func distinct(ks []int) []int {
	var out []int
	for _, k := range ks {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}
