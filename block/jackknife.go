package block

import (
	"context"
	"math"
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
// times the cost of Compute. A tile whose sums would round too much for
// the state's (a far row's: needsExact) is recomputed as Compute
// recomputes it, from the same direct distances, with exact sums (see
// exactJackTile), so that its sums match the state's exactly. The sums
// are added exactly, so the result does not depend on the number of
// workers.
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
	rl := newFinalRows(p, st)
	jk := estimator.NewJackknife(st)
	var mu sync.Mutex
	err = p.forTiles(ctx, workers, func() func(bi, bj int) error {
		sc, acc, sl := p.newScratch(), newJackAcc(p, rl, st), p.newSlot()
		sc.jack = acc
		return func(bi, bj int) error {
			i0, ni, j0, nj := p.bounds(bi, bj)
			p.setTile(&sl, bi, bj)
			acc.reset(i0, ni, j0, nj, bi == bj)
			p.jackTile(sc, &sl, i0, ni, j0, nj, bi == bj)
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
// (rows I and J of every pair and ordered pair of spaces), the final row
// sums r' they weight the distances by, and the state they are of (for
// the exact tiles).
type jackAcc struct {
	k      int
	rl     *finalRows
	st     *estimator.Stats
	dd     bool        // the w sums of this tile in double-double (see finalRows)
	wiLo   [][]float64 // their low parts
	wjLo   [][]float64
	i0, j0 int
	ni, nj int
	diag   bool
	t      estimator.JackTile
	si, sj [][]float64
	wi, wj [][]float64
	s      []float64 // the tile's S_kk, for needsExact
}

// wLimit is ω of finalRows.
const wLimit = 64

// finalRows holds the state's final row sums r' as double-doubles
// hi + lo (estimator.Stats.RowSumParts) and, per space l, the limit
// ω·n·sqrt(v_l) beyond which they are large for the tile's distances.
//
// Why: w^kl_i = sum_m a'^k_im r'^l_m. Where one row is far out, every
// other row sum holds its distance to it (r' of 10^15 against distances
// of 1), and the leave-one-out Q(−i) = Q − r_i r_i − w − w + s cancels
// about r'² down to the size of the distances²: the float64 sums of a
// fast tile would round that away. A tile in which some |r'^l| exceeds
// the limit accumulates its w sums in double-double from r' in
// double-double (about 2^−104 of the sums, the error a far row of 10^15
// leaves far below the statistics), from the distances of the fast
// kernel itself, the ones the state's row sums were made of.
type finalRows struct {
	hi, lo [][]float64
	limit  []float64
}

func newFinalRows(p *plan, st *estimator.Stats) *finalRows {
	n := st.N()
	f := &finalRows{hi: make([][]float64, p.k), lo: make([][]float64, p.k), limit: make([]float64, p.k)}
	for k := range p.k {
		f.hi[k], f.lo[k] = make([]float64, n), make([]float64, n)
		st.RowSumParts(k, 0, f.hi[k], f.lo[k], make([]float64, n))
		f.limit[k] = wLimit * float64(n) * math.Sqrt(p.spread[k])
	}
	return f
}

// large reports whether a row sum of rows [i0, i0+ni) or [j0, j0+nj) is
// beyond its space's limit.
func (f *finalRows) large(i0, ni, j0, nj int) bool {
	for k, lim := range f.limit {
		for _, r := range [][]float64{f.hi[k][i0 : i0+ni], f.hi[k][j0 : j0+nj]} {
			for _, v := range r {
				if !(math.Abs(v) <= lim) {
					return true
				}
			}
		}
	}
	return false
}

func newJackAcc(p *plan, rl *finalRows, st *estimator.Stats) *jackAcc {
	a := &jackAcc{k: p.k, rl: rl, st: st, s: make([]float64, p.k*(p.k+1)/2)}
	mk := func(m int) [][]float64 {
		out := make([][]float64, m)
		for i := range out {
			out[i] = make([]float64, p.tileSize)
		}
		return out
	}
	a.si, a.sj = mk(p.k*(p.k+1)/2), mk(p.k*(p.k+1)/2)
	a.wi, a.wj = mk(p.k*p.k), mk(p.k*p.k)
	a.wiLo, a.wjLo = mk(p.k*p.k), mk(p.k*p.k)
	return a
}

func (a *jackAcc) reset(i0, ni, j0, nj int, diag bool) {
	a.i0, a.ni, a.j0, a.nj, a.diag = i0, ni, j0, nj, diag
	for _, side := range [][][]float64{a.si, a.sj, a.wi, a.wj, a.wiLo, a.wjLo} {
		for _, r := range side {
			clear(r)
		}
	}
	a.t.NoExact()
	a.dd = a.rl.large(i0, ni, j0, nj)
}

// jackTile computes the jackknife sums of the tile (rows [li, li+ni) ×
// [lj, lj+nj) of p.spaces) into sc.jack: by the fast kernels, then, if
// needsExact says that the state's tile was recomputed exactly (its S_kk,
// summed here from the same distances), again by exactJackTile.
func (p *plan) jackTile(sc *scratch, sl *slot, li, ni, lj, nj int, diag bool) {
	a := sc.jack
	p.tile(sc, li, ni, lj, nj, diag, p.shift, sl.tile.S, sl.tile.RowI, sl.viewJ)
	for k := range p.k {
		q := indexPair(p.k, k, k)
		var s float64
		for _, v := range a.si[q][:ni] {
			s += v
		}
		a.s[q] = 2 * s
	}
	if p.needsExact(a.s, ni, nj, diag) {
		p.exactJackTile(sc, li, lj)
		return
	}
	if a.dd { // the low parts of the w sums, exactly
		a.t.ResetExact(p.k, ni, nj)
		for q := range a.wiLo {
			for i, v := range a.wiLo[q][:ni] {
				a.t.AddExactWI(q, i, v)
			}
			for j, v := range a.wjLo[q][:nj] {
				if diag { // folded exactly, not by finish's float64 sum
					a.t.AddExactWI(q, j, v)
					a.t.AddExactWI(q, j, a.wj[q][j])
					a.wj[q][j] = 0
				} else {
					a.t.AddExactWJ(q, j, v)
				}
			}
		}
	}
}

// exactJackTile recomputes the jackknife sums of the tile of sc.jack
// (local rows li, lj of p.spaces) with exact parts: every shifted
// distance by direct differences, as exactTile computes the state's, each
// product of two distances added as p + math.FMA's remainder, and each
// product a'·r' of a distance and a final row sum with r' split into
// three float64 (estimator.Stats.RowSumParts), each of the three products
// added as p + remainder. The sums are exact on these distances but for
// the part of r' below its 159th bit.
func (p *plan) exactJackTile(sc *scratch, li, lj int) {
	a := sc.jack
	k, ni, nj, diag := p.k, a.ni, a.nj, a.diag
	for _, side := range [][][]float64{a.si, a.sj, a.wi, a.wj} {
		for _, r := range side {
			clear(r)
		}
	}
	a.t.ResetExact(k, ni, nj)
	p.exactRows(sc, li, ni, lj, nj)
	parts := func(r0, m int) [][3][]float64 {
		out := make([][3][]float64, k)
		for y := range k {
			for c := range out[y] {
				out[y][c] = make([]float64, m)
			}
			a.st.RowSumParts(y, r0, out[y][0], out[y][1], out[y][2])
		}
		return out
	}
	a.dd = false
	rI := parts(a.i0, ni)
	rJ := rI
	if !diag {
		rJ = parts(a.j0, nj)
	}
	t := &a.t
	addS, addW := t.AddExactSJ, t.AddExactWJ
	if diag {
		addS, addW = t.AddExactSI, t.AddExactWI
	}
	two := func(add func(int, int, float64), q, row int, x, y float64) {
		pr := float64(x * y)
		add(q, row, pr)
		add(q, row, math.FMA(x, y, -pr))
	}
	// Each shifted distance is the exact sum h + l (exactDists), so each
	// product is the sum of the products of the parts, as in exactTile.
	h, l := make([]float64, k), make([]float64, k)
	for i := range ni {
		j0 := 0
		if diag {
			j0 = i + 1
		}
		for j := j0; j < nj; j++ {
			p.exactDists(sc, i, j, h, l)
			for x := range k {
				for y := x; y < k; y++ {
					q := indexPair(k, x, y)
					for _, u := range [2]float64{h[x], l[x]} {
						for _, v := range [2]float64{h[y], l[y]} {
							if u != 0 && v != 0 {
								two(t.AddExactSI, q, i, u, v)
								two(addS, q, j, u, v)
							}
						}
					}
				}
				for y := range k {
					q := x*k + y
					for _, u := range [2]float64{h[x], l[x]} {
						if u == 0 {
							continue
						}
						for c := range 3 {
							two(t.AddExactWI, q, i, u, rJ[y][c][j])
							two(addW, q, j, u, rI[y][c][i])
						}
					}
				}
			}
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
				w := float64(v * dy[c]) // rounded: the same bits on a CPU that fuses
				s += w
				sj[c] += w
			}
			a.si[q][i] += s
		}
		for y := range k {
			a.addW(x*k+y, y, dx, i, j)
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
					w := float64(v * dy[c]) // rounded: the same bits on a CPU that fuses
					s += w
					sj[c] += w
				}
				a.si[q][r0+r] += s
			}
			for y := range k {
				a.addW(x*k+y, y, dx, r0+r, c0)
			}
		}
	}
}

// addW adds the products of the distances dx (row i of the tile against
// its columns from c0) and the final row sums of space y to the sums q of
// w: sum_c dx[c]·r'_{J c} to row i of I, dx[c]·r'_i to each column of J
// (i and c0 counted from the tile's first rows). In a tile of large row
// sums (a.dd) the products and sums are double-double: p + math.FMA's
// remainder + the low part's product, added by two-sums.
func (a *jackAcc) addW(q, y int, dx []float64, i, c0 int) {
	m := len(dx)
	rj, ri := a.rl.hi[y][a.j0+c0:a.j0+c0+m], a.rl.hi[y][a.i0+i]
	wj := a.wj[q][c0 : c0+m]
	if !a.dd {
		var s float64
		for c, v := range dx {
			s += float64(v * rj[c])
			wj[c] += float64(v * ri)
		}
		a.wi[q][i] += s
		return
	}
	rjl, ril := a.rl.lo[y][a.j0+c0:a.j0+c0+m], a.rl.lo[y][a.i0+i]
	wjl := a.wjLo[q][c0 : c0+m]
	sh, sl := a.wi[q][i], a.wiLo[q][i]
	for c, v := range dx {
		p := float64(v * rj[c])
		sh, sl = ddAdd(sh, sl, p, math.FMA(v, rj[c], -p)+float64(v*rjl[c]))
		p = float64(v * ri)
		wj[c], wjl[c] = ddAdd(wj[c], wjl[c], p, math.FMA(v, ri, -p)+float64(v*ril))
	}
	a.wi[q][i], a.wiLo[q][i] = sh, sl
}

// ddAdd returns the double-double (ah + al) + (bh + bl), renormalised
// (Dekker's two-sum on the high parts, the low parts added to its error).
func ddAdd(ah, al, bh, bl float64) (hi, lo float64) {
	s := ah + bh
	bb := s - ah
	e := (ah - (s - bb)) + (bh - bb)
	e += al + bl
	hi = s + e
	return hi, e - (hi - s)
}

// indexPair is estimator.PairIndex.
func indexPair(k, x, y int) int { return estimator.PairIndex(k, x, y) }
