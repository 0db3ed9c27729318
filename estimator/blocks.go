package estimator

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Blocks is the block estimator for sample counts beyond n² pairs and for
// unbounded streams (DESIGN §6): the samples are cut into blocks, each
// block's U-statistics are computed exactly (a Stats of the block's pairs
// only), and the U components are averaged over the m blocks,
//
//	Ū_kl = (1/m)·sum_b U^b_kl
//	R*_xy = Ū_xy / sqrt(Ū_xx·Ū_yy),  pdCor from the R* of the means
//
// — not the ratios, whose mean is the biased minibatch estimate. Each U^b
// is unbiased for the population U_kl, so Ū is too, with a variance that
// falls as 1/m; R* from Ū is consistent. The standard error of every
// statistic θ is the delete-one-block jackknife,
//
//	θ(−b) = θ of the means without block b
//	SE = sqrt((m−1)/m · sum_b (θ(−b) − θ̄)²)
//
// Its assumption: block membership is unrelated to the data (a shuffled
// loader, or a seeded shuffle of row indices).
//
// The per-block values U^b are each rounded once from their block's exact
// sums and kept (one float64 per pair and block); their sum is kept
// exactly, so the estimate is the same whatever the order in which the
// blocks were added or merged. Memory: 8 bytes per block and pair of
// spaces.
//
// The zero value is not usable: call NewBlocks. A Blocks is not safe for
// concurrent use.
type Blocks struct {
	k    int
	rows int         // samples in all blocks
	u    [][]float64 // per block: U^b_kl in PairIndex order
	sum  bank        // one row per pair: sum_b U^b_kl, exactly
}

// NewBlocks returns an empty block estimator of k spaces. It panics if
// k < 1.
func NewBlocks(k int) *Blocks {
	if k < 1 {
		panic("estimator: k < 1")
	}
	return &Blocks{k: k, sum: newBank(k * (k + 1) / 2)}
}

// K returns the number of spaces; Len the number of blocks; Rows the
// number of samples in them.
func (b *Blocks) K() int    { return b.k }
func (b *Blocks) Len() int  { return len(b.u) }
func (b *Blocks) Rows() int { return b.rows }

// Add adds the block whose pairs st holds (the complete state of the
// block's samples). It returns an error wrapping ErrIncompatible if st has
// another number of spaces, or ErrTooFewSamples if the block has fewer
// than 4 samples (its U-statistics are undefined).
func (b *Blocks) Add(st *Stats) error {
	if st.K() != b.k {
		return fmt.Errorf("block of %d spaces, want %d: %w", st.K(), b.k, ErrIncompatible)
	}
	if st.N() < 4 {
		return fmt.Errorf("block of %d samples: %w", st.N(), ErrTooFewSamples)
	}
	u := make([]float64, b.k*(b.k+1)/2)
	for k := range b.k {
		for l := k; l < b.k; l++ {
			v, _ := st.U(k, l)
			// Covariances in the units of the data, so that blocks of
			// different scalings average.
			v, ok := st.unscale(v, k, l, 1)
			if !ok {
				return fmt.Errorf("block covariance of spaces %d, %d beyond float64: %w", k, l, ErrOverflow)
			}
			u[PairIndex(b.k, k, l)] = v
		}
	}
	b.u = append(b.u, u)
	b.sum.addSlice(0, u)
	b.rows += st.N()
	return nil
}

// Merge appends the blocks of o to b (o is not modified). It returns an
// error wrapping ErrIncompatible if the numbers of spaces differ.
func (b *Blocks) Merge(o *Blocks) error {
	if o.k != b.k {
		return fmt.Errorf("%d spaces vs %d: %w", b.k, o.k, ErrIncompatible)
	}
	for _, u := range o.u {
		b.u = append(b.u, append([]float64(nil), u...))
	}
	b.sum.merge(&o.sum)
	b.rows += o.rows
	return nil
}

// BlockResult holds the block estimates of one pair of spaces and their
// delete-one-block jackknife standard errors. With fewer than 2 blocks the
// standard errors are undefined: they hold 0 and SEUndefined is set. With
// no block at all TooFewSamples, ZeroVarX and ZeroVarY are set too.
type BlockResult struct {
	Blocks, Rows int

	BCDCor, BCDCorSE float64 // R* of the mean U components
	DCovU, DCovUSE   float64 // Ū_xy
	DVarXU, DVarYU   float64 // Ū_xx, Ū_yy

	Flags Flags // ZeroVarX, ZeroVarY (a mean variance ≤ 0), PerfectDependence (|R*| = 1), SEUndefined, TooFewSamples
}

// BlockPartialResult holds the block estimates of pdCor(x, y; z), pdCov
// and the semi-partial statistic (the formulas of PartialResult on the R*
// of the means) and their standard errors.
type BlockPartialResult struct {
	Blocks, Rows int

	PDCor, PDCorSE             float64
	PDCov, PDCovSE             float64
	SemiPartial, SemiPartialSE float64 // (R*_xz − R*_xy·R*_yz)/sqrt(1 − R*²_xy); 0 when R*²_xy ≈ 1

	Flags Flags
}

// means returns Ū over every block, or over every block but skip (−1 for
// none), for the pairs of spaces given.
func (b *Blocks) means(skip int, pairs ...[2]int) []float64 {
	m := float64(len(b.u))
	out := make([]float64, len(pairs))
	for i, p := range pairs {
		q := PairIndex(b.k, p[0], p[1])
		total := b.sum.float(q)
		if skip < 0 {
			out[i] = total / m
			continue
		}
		// (sum − U^skip)/(m − 1), the difference taken exactly.
		d := b.sum.value(q).add(dyadicOf(b.u[skip][q]).scale(-1))
		out[i] = d.float() / (m - 1)
	}
	return out
}

// jackknife returns θ over all blocks and its delete-one-block standard
// error (0 with fewer than 2 blocks), θ computed from the means by f. The
// mean of the θ(−b) and the sum of squares are exact, rounded once (see
// jackCov), so the SE is the same on every CPU.
func (b *Blocks) jackknife(f func(skip int) float64) (theta, se float64) {
	theta = f(-1)
	m := len(b.u)
	if m < 2 {
		return theta, 0
	}
	loo := make([]float64, m)
	for i := range m {
		loo[i] = f(i)
	}
	return theta, math.Sqrt(jackCov([][]float64{loo})[0][0])
}

// Pair returns the block estimates of spaces x and y. It panics if an
// index is out of range.
func (b *Blocks) Pair(x, y int) BlockResult {
	b.check(x, y)
	r := BlockResult{Blocks: len(b.u), Rows: b.rows}
	if len(b.u) == 0 {
		r.Flags |= TooFewSamples | ZeroVarX | ZeroVarY
		return r
	}
	if len(b.u) < 2 {
		r.Flags |= SEUndefined
	}
	all := b.means(-1, [2]int{x, y}, [2]int{x, x}, [2]int{y, y})
	r.DVarXU, r.DVarYU = all[1], all[2]
	if !(r.DVarXU > 0) {
		r.Flags |= ZeroVarX
	}
	if !(r.DVarYU > 0) {
		r.Flags |= ZeroVarY
	}
	r.DCovU, r.DCovUSE = b.jackknife(func(skip int) float64 { return b.means(skip, [2]int{x, y})[0] })
	r.BCDCor, r.BCDCorSE = b.jackknife(func(skip int) float64 {
		m := b.means(skip, [2]int{x, y}, [2]int{x, x}, [2]int{y, y})
		return rstar(m[0], max(m[1], 0), max(m[2], 0))
	})
	if math.Abs(r.BCDCor) == 1 {
		r.Flags |= PerfectDependence
	}
	return r
}

// Partial returns the block estimate of pdCor(x, y; z) and pdCov. It
// panics if an index is out of range.
func (b *Blocks) Partial(x, y, z int) BlockPartialResult {
	b.check(x, y, z)
	r := BlockPartialResult{Blocks: len(b.u), Rows: b.rows}
	if len(b.u) == 0 {
		r.Flags |= TooFewSamples | SEUndefined
		return r
	}
	pairs := [][2]int{{x, y}, {x, z}, {y, z}, {x, x}, {y, y}, {z, z}}
	f := func(skip int) (pd, pv, sp float64, fl Flags) {
		m := b.means(skip, pairs...)
		uxy, uxz, uyz, uxx, uyy, uzz := m[0], m[1], m[2], max(m[3], 0), max(m[4], 0), max(m[5], 0)
		rxy, rxz, ryz := rstar(uxy, uxx, uyy), rstar(uxz, uxx, uzz), rstar(uyz, uyy, uzz)
		if dxy := 1 - float64(rxy*rxy); dxy > nearOne {
			sp = (rxz - float64(rxy*ryz)) / math.Sqrt(dxy)
		}
		pv = uxy
		if uzz > 0 {
			pv = uxy - float64(uxz*uyz)/uzz
		} else {
			fl |= ZeroVarZ
		}
		if 1-float64(rxz*rxz) <= nearOne {
			fl |= ZDeterminesX
		}
		if 1-float64(ryz*ryz) <= nearOne {
			fl |= ZDeterminesY
		}
		pd = pdcor(rxy, rxz, ryz)
		return pd, pv, sp, fl
	}
	_, _, _, r.Flags = f(-1)
	if len(b.u) < 2 {
		r.Flags |= SEUndefined
	}
	r.PDCor, r.PDCorSE = b.jackknife(func(skip int) float64 { pd, _, _, _ := f(skip); return pd })
	r.PDCov, r.PDCovSE = b.jackknife(func(skip int) float64 { _, pv, _, _ := f(skip); return pv })
	r.SemiPartial, r.SemiPartialSE = b.jackknife(func(skip int) float64 { _, _, sp, _ := f(skip); return sp })
	return r
}

// BCDCorCov returns the delete-one-block jackknife covariance of the block
// estimates R*(x, y) of the pairs given,
//
//	Cov_ef = (m−1)/m · sum_b (θ_e(−b) − θ̄_e)(θ_f(−b) − θ̄_f)
//
// (len(pairs) × len(pairs); its diagonal is the square of Pair's
// BCDCorSE), its sums exact (see jackCov). With fewer than 2 blocks it is
// undefined: nil. It panics if an index is out of range.
func (b *Blocks) BCDCorCov(pairs [][2]int) [][]float64 {
	for _, p := range pairs {
		b.check(p[0], p[1])
	}
	m := len(b.u)
	if m < 2 {
		return nil
	}
	loo := make([][]float64, len(pairs)) // [entry][block]
	for e, p := range pairs {
		loo[e] = make([]float64, m)
		for i := range m {
			u := b.means(i, p, [2]int{p[0], p[0]}, [2]int{p[1], p[1]})
			loo[e][i] = rstar(u[0], max(u[1], 0), max(u[2], 0))
		}
	}
	return jackCov(loo)
}

func (b *Blocks) check(spaces ...int) {
	for _, k := range spaces {
		if k < 0 || k >= b.k {
			panic("estimator: space index out of range")
		}
	}
}

const blocksMagic = "DCBK"

// MarshalBinary encodes b, little endian:
//
//	bytes 0..3   magic "DCBK"
//	byte  4      version (1)
//	uvarint      k
//	uvarint      rows
//	uvarint      m, the number of blocks
//	m × k(k+1)/2 × float64   U^b_kl, block by block in PairIndex order
//	uint32       CRC-32C of every byte before it
//
// The exact sum is not stored: UnmarshalBinary recomputes it.
func (b *Blocks) MarshalBinary() ([]byte, error) {
	p := b.k * (b.k + 1) / 2
	out := make([]byte, 0, 5+3*binary.MaxVarintLen64+8*p*len(b.u)+4)
	out = append(out, blocksMagic...)
	out = append(out, 1)
	out = binary.AppendUvarint(out, uint64(b.k))
	out = binary.AppendUvarint(out, uint64(b.rows))
	out = binary.AppendUvarint(out, uint64(len(b.u)))
	for _, u := range b.u {
		for _, v := range u {
			out = appendFloat(out, v)
		}
	}
	return seal(out), nil
}

// UnmarshalBinary decodes an encoding of MarshalBinary into b. On error b
// is unchanged and the error wraps ErrCorrupt or ErrVersion.
func (b *Blocks) UnmarshalBinary(data []byte) error {
	d, err := open(data, blocksMagic, 1, "blocks")
	if err != nil {
		return err
	}
	k, err := d.uvarint("spaces")
	if err != nil {
		return err
	}
	rows, err := d.uvarint("rows")
	if err != nil {
		return err
	}
	m, err := d.uvarint("blocks")
	if err != nil {
		return err
	}
	if k < 1 || k > maxSpaces || rows > 1<<62 {
		return fmt.Errorf("%d spaces, %d rows: %w", k, rows, ErrCorrupt)
	}
	p := k * (k + 1) / 2
	if m > uint64(len(d.b)) || uint64(len(d.b)) != m*p*8 {
		return fmt.Errorf("%d blocks of %d values in %d bytes: %w", m, p, len(d.b), ErrCorrupt)
	}
	out := NewBlocks(int(k))
	out.rows = int(rows)
	for range m {
		u := make([]float64, p)
		for i := range u {
			if u[i], err = d.float("block value"); err != nil {
				return err
			}
		}
		out.u = append(out.u, u)
		out.sum.addSlice(0, u)
	}
	*b = *out
	return nil
}
