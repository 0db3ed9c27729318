package job

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/dcor-stream/dcor-stream/block"
	"github.com/dcor-stream/dcor-stream/estimator"
)

// RBF CKA (Spec.CKA): debiased CKA and unbiased HSIC with the Gaussian
// kernel, summed in the tiles of dCor (see block.RBF) into a kernel state
// that is a part of the job's state: each shard sums its own tiles, a
// checkpoint saves the sums of the tiles done, Merge adds them. The
// bandwidths are fixed before the first tile from the leading rows, which
// every schedule and shard reads alike, and recorded in the part, so
// shards and resumed runs agree on them (Merge and resume refuse
// others).

// rbfKind is the kind of the state part of the RBF CKA sums.
const rbfKind = "cka-rbf"

// MedianRows is the number of leading rows of the median heuristic: the
// default bandwidth σ of a space is the (lower) median of the Euclidean
// distances of every pair of its first MedianRows rows.
const MedianRows = 500

// rbfPart is the kernel state with its spaces and bandwidths.
type rbfPart struct {
	rbf block.RBF
	st  *estimator.Stats
}

func (p *rbfPart) Kind() string { return rbfKind }

// MarshalBinary encodes the part, little endian: version byte 1, uvarint
// K, K × (uvarint space, float64 σ), then estimator.Stats.MarshalBinary.
func (p *rbfPart) MarshalBinary() ([]byte, error) {
	b := []byte{1}
	b = binary.AppendUvarint(b, uint64(len(p.rbf.Spaces)))
	for i, k := range p.rbf.Spaces {
		b = binary.AppendUvarint(b, uint64(k))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(p.rbf.Sigma[i]))
	}
	st, err := p.st.MarshalBinary()
	return append(b, st...), err
}

func decodeRBF(b []byte) (Part, error) {
	whole := b
	if len(b) < 1 || b[0] != 1 {
		return nil, errors.New("not an RBF part of version 1")
	}
	b = b[1:]
	k, m := binary.Uvarint(b)
	if m <= 0 || k < 1 || k > 1<<16 || k*9 > uint64(len(b)) {
		return nil, errors.New("bad number of kernels")
	}
	b = b[m:]
	p := &rbfPart{}
	for range k {
		s, m := binary.Uvarint(b)
		if m <= 0 || s > 1<<16 || len(b) < m+8 {
			return nil, errors.New("truncated kernel")
		}
		sigma := math.Float64frombits(binary.LittleEndian.Uint64(b[m:]))
		if !(sigma > 0) || math.IsInf(sigma, 0) {
			return nil, fmt.Errorf("bandwidth %v", sigma)
		}
		p.rbf.Spaces = append(p.rbf.Spaces, int(s))
		p.rbf.Sigma = append(p.rbf.Sigma, sigma)
		b = b[m+8:]
	}
	p.st = new(estimator.Stats)
	if err := p.st.UnmarshalBinary(b); err != nil {
		return nil, err
	}
	if p.st.K() != len(p.rbf.Spaces) {
		return nil, fmt.Errorf("%d kernels, a state of %d", len(p.rbf.Spaces), p.st.K())
	}
	return canonical(p, whole)
}

func init() { registerPart(rbfKind, decodeRBF) }

// same reports why o is not a part of the same kernels and bandwidths.
func (p *rbfPart) same(o *rbfPart) error {
	if !slices.Equal(p.rbf.Spaces, o.rbf.Spaces) || !slices.Equal(p.rbf.Sigma, o.rbf.Sigma) {
		return fmt.Errorf("the RBF bandwidths differ: %v of the spaces %v, and %v of %v (-rbf-sigma)", p.rbf.Sigma, p.rbf.Spaces, o.rbf.Sigma, o.rbf.Spaces)
	}
	return nil
}

// Merge adds the kernel sums of another shard of the same kernels.
func (p *rbfPart) Merge(o Part) error {
	q, ok := o.(*rbfPart)
	if !ok {
		return fmt.Errorf("a part of kind %s merged into %s", o.Kind(), rbfKind)
	}
	if err := p.same(q); err != nil {
		return err
	}
	return p.st.Merge(q.st)
}

// checkParts reports why saved parts (a checkpoint's) are not those of
// the fresh parts of this run, beyond their kinds: the RBF bandwidths.
func checkParts(saved, fresh []Part) error {
	for _, f := range fresh {
		fp, ok := f.(*rbfPart)
		if !ok {
			continue
		}
		for _, s := range saved {
			if sp, ok := s.(*rbfPart); ok {
				if err := fp.same(sp); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// wantsRBF reports whether the job asks for RBF CKA and the exponent and
// the precision allow it (block.RBFApplies): then the tiles compute it
// (the univariate path, which has no tiles, leaves it out).
func (s *Spec) wantsRBF() bool {
	return s.CKA && block.RBFApplies(s.blockOptions()) == nil
}

// rbfOn reports whether the run computes RBF CKA, on the tiles (not uni);
// it tells the user why not when CKA is asked and it cannot.
func (s *Spec) rbfOn(uni bool) bool {
	if !s.CKA {
		return false
	}
	if err := block.RBFApplies(s.blockOptions()); err != nil {
		s.notify("cka_rbf left out: %v", err)
		return false
	}
	if uni {
		s.notify("cka_rbf left out: the O(n log n) univariate path forms no distances; -estimator tiles computes it (O(n²) pairs)")
		return false
	}
	return true
}

// rbfSpaces are the spaces whose kernels RBF CKA needs: x and y, or the
// rows and columns of the matrix, ascending.
func (s *Spec) rbfSpaces() []int {
	var ks []int
	for _, p := range s.ckaPairs() {
		ks = append(ks, p[0], p[1])
	}
	slices.Sort(ks)
	return slices.Compact(ks)
}

// rbfOf returns the kernels and bandwidths of the job from its leading
// rows (at least min(n, MedianRows) of them): Spec.RBFSigma where given,
// else the median heuristic.
func (s *Spec) rbfOf(lead []block.Space, names []SpaceInfo) (block.RBF, error) {
	r := block.RBF{Spaces: s.rbfSpaces()}
	for _, k := range r.Spaces {
		var sigma float64
		if k < len(s.RBFSigma) {
			sigma = s.RBFSigma[k]
		}
		if sigma == 0 {
			sigma = block.MedianDistance(lead[k], MedianRows)
			if !(sigma > 0) || math.IsInf(sigma, 0) {
				return r, fmt.Errorf("space %s: the median distance of its first %d rows is %v, no bandwidth for the Gaussian kernel: give one with -rbf-sigma: %w",
					names[k].Name, min(MedianRows, lead[k].Rows()), sigma, ErrSpec)
			}
		}
		r.Sigma = append(r.Sigma, sigma)
	}
	return r, nil
}

// startRBF adds the fresh kernel part of the plan to the run's parts (to
// be replaced by a checkpoint's in resume).
func (r *runner) startRBF(pl *block.Plan, rbf block.RBF) error {
	st, err := pl.NewRBFStats(rbf)
	if err != nil {
		return err
	}
	r.parts = append(r.parts, &rbfPart{rbf: rbf, st: st})
	return nil
}

// resumeRBF points the plan at the run's kernel part (fresh or resumed),
// if it has one.
func (r *runner) resumeRBF(pl *block.Plan) error {
	for _, p := range r.parts {
		if q, ok := p.(*rbfPart); ok {
			return pl.SetRBF(q.rbf, q.st)
		}
	}
	return nil
}

// entry returns debiased CKA and unbiased HSIC of kernels a and b, or 0,
// 0 and unknown if float64 cannot hold either kernel
// (block.KernelUnknown), and flags with OutOfRange added if HSIC in the
// units of the data is beyond float64 (CKA, a ratio, is not).
func (p *rbfPart) entry(a, b int, flags estimator.Flags) (cka, hsic float64, unknown bool, _ estimator.Flags) {
	if block.KernelUnknown(p.st, a) || block.KernelUnknown(p.st, b) {
		return 0, 0, true, flags
	}
	u := p.st.Pair(a, b)
	return u.BCDCor, u.DCovU, false, flags | u.Flags&estimator.OutOfRange
}

// rbfResults sets the RBF CKA statistics of res from the part of the
// state, if it has one; it returns ctx's error if ctx is done before the
// last row of a matrix.
func (s *State) rbfResults(ctx context.Context, res Results) error {
	p, ok := s.Part(rbfKind).(*rbfPart)
	if !ok {
		return nil
	}
	at := func(space int) int { return slices.Index(p.rbf.Spaces, space) }
	if pr := res.Pair; pr != nil {
		if pr.Extras == nil {
			pr.Extras = &PairExtras{}
		}
		x := pr.Extras
		a, b := at(0), at(1)
		if a < 0 || b < 0 {
			return nil
		}
		x.RBF = true
		x.CKARBF, x.HSICRBFU, x.RBFUnknown, pr.Flags = p.entry(a, b, pr.Flags)
		x.RBFSigmaX, x.RBFSigmaY = p.rbf.Sigma[a], p.rbf.Sigma[b]
	}
	if m, lay := res.Matrix, s.Matrix; m != nil {
		m.CKARBF, m.HSICRBFU = grid2(len(lay.Rows), len(lay.Cols)), grid2(len(lay.Rows), len(lay.Cols))
		m.RBFUnknown = make([][]bool, len(lay.Rows))
		for i, x := range lay.Rows {
			if err := ctx.Err(); err != nil {
				return err
			}
			m.RBFSigmaRows = append(m.RBFSigmaRows, p.rbf.Sigma[max(0, at(x))])
			m.RBFUnknown[i] = make([]bool, len(lay.Cols))
			for j, y := range lay.Cols {
				m.CKARBF[i][j], m.HSICRBFU[i][j], m.RBFUnknown[i][j], m.Flags[i][j] = p.entry(at(x), at(y), m.Flags[i][j])
			}
		}
		for _, y := range lay.Cols {
			m.RBFSigmaCols = append(m.RBFSigmaCols, p.rbf.Sigma[max(0, at(y))])
		}
	}
	return nil
}
