package job

import (
	"context"
	"fmt"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/dcor-stream/dcor-stream/block"
	"github.com/dcor-stream/dcor-stream/estimator"
)

// univariateMin is the sample count from which auto takes the univariate
// path: below it the tiles (n²/2 pairs at a nanosecond each) cost no more
// than the sorts and merges, and far less for many spaces.
const univariateMin = 10000

// univariate reports whether the job of n samples takes the exact
// O(n log n) univariate path (see Spec.Estimator), or why it cannot when
// asked. It depends on n and the spaces only, so every schedule and shard
// of a job decides alike.
func (s *Spec) univariate(n int, spaces []SpaceInfo) (bool, error) {
	applies := s.Options.Exponent == 0 || s.Options.Exponent == 1
	for _, sp := range spaces {
		applies = applies && sp.Dim == 1
	}
	switch s.Estimator {
	case "tiles":
		return false, nil
	case "univariate":
		if !applies || s.Every > 0 || s.Minibatch > 0 {
			return false, fmt.Errorf("the univariate path needs every space of dimension 1, exponent 1, and neither the online nor the minibatch mode: %w", ErrSpec)
		}
		return true, nil
	}
	return applies && n > univariateMin && s.CI == 0 && s.Permutations == 0 && s.Every == 0 && s.Minibatch == 0, nil
}

// univariateBytes is the memory of the univariate path per sample and
// space (the values, the row sums' two parts and the sort), plus per
// sample for a pair's merge.
const univariateBytes, univariatePairBytes = 40, 32

// univariate computes the state by block.Univariate. The shard holding the
// first tile computes the whole state; the others an empty one (the same
// shifts and scales), so that shards merge to the one-process bits.
func (r *runner) univariate(ctx context.Context, spaces []block.Space) (*Outcome, error) {
	opts := r.spec.blockOptions()
	var st *estimator.Stats
	if r.hdr.Tiles[0] == 0 {
		var err error
		if st, err = block.Univariate(ctx, spaces, opts); err != nil {
			return nil, err
		}
	} else {
		_, scale := block.Normalization(spaces)
		st = estimator.New(len(spaces), r.hdr.N, 1, make([]float64, len(spaces)), scale)
	}
	r.st = st
	if t := r.hdr.Tiles; t[0] < t[1] {
		r.done = tileSet{iv: [][2]int{t}} // every tile of the shard, at once
	}
	r.prog.Tiles, r.prog.Pairs = r.prog.TotalTiles, r.prog.TotalPairs
	if f := r.spec.Progress; f != nil {
		f(r.prog)
	}
	r.spec.notify("univariate spaces: the exact O(n log n) path (no tiles)")
	return r.finish(ctx, nil)
}

// PairExtras are the inference and extra statistics of the pair mode.
type PairExtras struct {
	// CILevel > 0: delete-one jackknife standard errors and normal
	// intervals estimate ± z·SE, z the (1+CILevel)/2 normal quantile,
	// clamped to the statistic's range.
	CILevel                   float64
	DCorSE, BCDCorSE, PDCorSE float64
	DCorCI, BCDCorCI, PDCorCI [2]float64
	// An SE that is undefined (bcdcor's and pdcor's for n < 5, dcor's
	// for n < 3: see estimator.JackknifeSE) holds 0, is left out of the
	// JSON and the text with its interval, and the pair is flagged
	// se_undefined.
	DCorSEUndefined, BCDCorSEUndefined, PDCorSEUndefined bool

	// Permutations > 0: the permutation p-values (1 + #{T_b ≥ T})/(1 + R)
	// of independence (bcdcor) and, given Z, of pdCov = 0; PermPV is the
	// test of independence of the same permutations on the V-statistic
	// n·dCov²_n (energy's dcov.test).
	Permutations              int
	Seed                      uint64
	PermP, PermPV, PDCorPermP float64

	// CKA: debiased linear CKA and unbiased linear HSIC (from the state's
	// part, see State.Results).
	CKA                 bool
	CKALinear, HSICLinU float64
	// RBF: debiased CKA and unbiased HSIC with the Gaussian kernel, and
	// its bandwidths σ of x and y.
	RBF                  bool
	CKARBF, HSICRBFU     float64
	RBFSigmaX, RBFSigmaY float64
	// RBFUnknown: float64 cannot hold the kernel of x or y (flag
	// RBFUnderflow); CKARBF and HSICRBFU hold 0.
	RBFUnknown bool
}

// interval returns est ± z·se clamped to [lo, hi], z·se rounded before
// it is added (float64(·): no CPU fuses it into an FMA).
func interval(est, se, level, lo, hi float64) [2]float64 {
	z := distuv.UnitNormal.Quantile((1 + level) / 2)
	h := float64(z * se)
	return [2]float64{max(lo, est-h), min(hi, est+h)}
}

// seUndefined reports whether an SE of x is undefined.
func (x *PairExtras) seUndefined() bool {
	return x != nil && x.CILevel > 0 && (x.DCorSEUndefined || x.BCDCorSEUndefined || x.PDCorSEUndefined)
}
