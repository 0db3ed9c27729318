package block

import (
	"context"
	"sync"

	"github.com/dcor-stream/dcor-stream/estimator"
)

// Jackknife returns the per-row sums of the exact delete-one jackknife of
// st, the complete state that Compute returned for the same spaces and
// options (see estimator.Jackknife):
//
//	s^kl_i = sum_{j≠i} a'^k_ij a'^l_ij       (k ≤ l)
//	w^kl_i = sum_{j≠i} a'^k_ij r'^l_j        (every k, l)
//
// with r' the state's shifted row sums. It is one more pass over the tiles
// of the upper triangle, with the kernels of Compute (the distance strips
// of the fused kernel, or the distance rows of the direct one; in float64
// whatever the precision, and never the univariate shortcut, which forms
// no distances), each tile reduced to these sums in Go: about two to three
// times the cost of Compute. The sums are added exactly, so the result
// does not depend on the number of workers.
//
// It returns an error wrapping ErrResume if st was not made with these
// spaces and options (other shifts or scales), the errors of Compute for
// invalid spaces, and ctx.Err().
func Jackknife(ctx context.Context, spaces []Space, st *estimator.Stats, opts Options) (*estimator.Jackknife, error) {
	p, workers, err := passPlan(spaces, st, opts)
	if err != nil {
		return nil, err
	}
	p.uni = false    // the jackknife needs the distances themselves
	p.prec = Float64 // and the float32 epilogue may sum them away
	rl := make([][]float64, p.k)
	for k := range rl {
		rl[k] = st.RowSums(k, nil)
	}
	jk := estimator.NewJackknife(st)
	var mu sync.Mutex
	err = p.forTiles(ctx, workers, func() func(bi, bj int) error {
		sc, acc, sl := p.newScratch(), newJackAcc(p, rl), p.newSlot()
		sc.jack = acc
		return func(bi, bj int) error {
			i0, ni, j0, nj := p.bounds(bi, bj)
			p.setTile(&sl, bi, bj)
			acc.reset(i0, ni, j0, nj, bi == bj)
			p.tile(sc, i0, ni, j0, nj, bi == bj, p.shift, sl.tile.S, sl.tile.RowI, sl.viewJ)
			mu.Lock()
			defer mu.Unlock()
			return jk.AddTile(acc.finish())
		}
	})
	if err != nil {
		return nil, err
	}
	return jk, nil
}

// jackAcc is one worker's jackknife tile: the per-row sums of the tile
// (rows I and J of every pair and ordered pair of spaces) and the final
// row sums r' they weight the distances by.
type jackAcc struct {
	k      int
	rl     [][]float64
	i0, j0 int
	ni, nj int
	diag   bool
	t      estimator.JackTile
	si, sj [][]float64
	wi, wj [][]float64
}

func newJackAcc(p *plan, rl [][]float64) *jackAcc {
	a := &jackAcc{k: p.k, rl: rl}
	mk := func(m int) [][]float64 {
		out := make([][]float64, m)
		for i := range out {
			out[i] = make([]float64, p.tileSize)
		}
		return out
	}
	a.si, a.sj = mk(p.k*(p.k+1)/2), mk(p.k*(p.k+1)/2)
	a.wi, a.wj = mk(p.k*p.k), mk(p.k*p.k)
	return a
}

func (a *jackAcc) reset(i0, ni, j0, nj int, diag bool) {
	a.i0, a.ni, a.j0, a.nj, a.diag = i0, ni, j0, nj, diag
	for _, side := range [][][]float64{a.si, a.sj, a.wi, a.wj} {
		for _, r := range side {
			clear(r)
		}
	}
}

// finish returns the tile in estimator's layout: for a diagonal tile the
// J sums (the same samples) folded into the I sums.
func (a *jackAcc) finish() *estimator.JackTile {
	t := &a.t
	t.I0, t.J0, t.Diagonal = a.i0, a.j0, a.diag
	cut := func(src [][]float64, m int) [][]float64 {
		out := make([][]float64, len(src))
		for i, r := range src {
			out[i] = r[:m]
		}
		return out
	}
	t.SI, t.WI = cut(a.si, a.ni), cut(a.wi, a.ni)
	t.SJ, t.WJ = nil, nil
	if a.diag {
		for q := range a.si {
			for i := range a.ni {
				a.si[q][i] += a.sj[q][i]
			}
		}
		for q := range a.wi {
			for i := range a.ni {
				a.wi[q][i] += a.wj[q][i]
			}
		}
	} else {
		t.SJ, t.WJ = cut(a.sj, a.nj), cut(a.wj, a.nj)
	}
	return t
}

// jackRow adds row i of the tile (the distance rows sc.d[k][j:nj] of the
// direct kernel) to the per-row sums.
func (p *plan) jackRow(sc *scratch, i, j, nj int) {
	a := sc.jack
	k := p.k
	for x := range k {
		dx := sc.d[x][j:nj]
		for y := x; y < k; y++ {
			q := indexPair(k, x, y)
			dy := sc.d[y][j:nj]
			sj := a.sj[q][j:nj]
			var s float64
			for c, v := range dx {
				w := v * dy[c]
				s += w
				sj[c] += w
			}
			a.si[q][i] += s
		}
		for y := range k {
			q := x*k + y
			rj, ri := a.rl[y][a.j0+j:a.j0+nj], a.rl[y][a.i0+i]
			wj := a.wj[q][j:nj]
			var s float64
			for c, v := range dx {
				s += float64(v * rj[c])
				wj[c] += float64(v * ri)
			}
			a.wi[q][i] += s
		}
	}
}

// jackStrip adds the strip of rows [r0, r0+rr) × columns [c0, c0+ncols)
// (the distance strips fs.d[k] of the fused kernel, rr×nr, 0 outside the
// tile) to the per-row sums.
func (p *plan) jackStrip(sc *scratch, r0, rr, c0, ncols int) {
	a := sc.jack
	fs := sc.f
	k := p.k
	for x := range k {
		for r := range rr {
			dx := fs.d[x][r*nr : r*nr+ncols]
			for y := x; y < k; y++ {
				q := indexPair(k, x, y)
				dy := fs.d[y][r*nr : r*nr+ncols]
				sj := a.sj[q][c0 : c0+ncols]
				var s float64
				for c, v := range dx {
					w := v * dy[c]
					s += w
					sj[c] += w
				}
				a.si[q][r0+r] += s
			}
			for y := range k {
				q := x*k + y
				rj, ri := a.rl[y][a.j0+c0:a.j0+c0+ncols], a.rl[y][a.i0+r0+r]
				wj := a.wj[q][c0 : c0+ncols]
				var s float64
				for c, v := range dx {
					s += float64(v * rj[c])
					wj[c] += float64(v * ri)
				}
				a.wi[q][r0+r] += s
			}
		}
	}
}

// indexPair is estimator.PairIndex.
func indexPair(k, x, y int) int { return estimator.PairIndex(k, x, y) }
