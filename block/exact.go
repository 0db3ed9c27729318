package block

import (
	"math"

	"github.com/dcor-stream/dcor-stream/estimator"
)

// exactLimit is λ of needsExact: a tile is recomputed with exact sums when
// the mean square of one space's shifted distances in it exceeds λ·v_k.
//
// Why: a tile's float64 sums round each of its values to about 2^−53 of the
// tile's sums of magnitudes, while the statistics are of the size of v_k.
// A tile whose shifted distances are far above the typical deviation (a row
// 10^9 times farther out than the others, say) would lose the result in
// that rounding, however exactly the tiles are added afterwards. Below the
// limit the rounding of every fast tile together stays near 2^−53·λ of the
// statistics; above it the tile is recomputed in exactTile, whose sums are
// exact on its float64 distances.
const exactLimit = 4096

// tinyRows: a job of fewer rows takes every tile exactly. Its leading
// distances are too few for a fair yardstick v_k (n = 3 gives two), and
// exact tiles cost nothing there.
const tinyRows = 64

// computeSlot computes the tile (rows [li, li+ni) × [lj, lj+nj) of
// p.spaces) into sl's tile: by the fast kernels, then, if needsExact says
// that their sums may have rounded too much, again by exactTile.
func (p *plan) computeSlot(sc *scratch, sl *slot, li, ni, lj, nj int, diag bool) {
	tl := &sl.tile
	if sl.rbf != nil {
		p.rbfBegin(sc, sl.rbf, ni, nj)
	}
	p.tile(sc, li, ni, lj, nj, diag, p.shift, tl.S, tl.RowI, sl.viewJ)
	if sl.rbf != nil {
		p.rbfEnd(sc, ni, diag)
	}
	tl.NoExact()
	if p.needsExact(tl.S, ni, nj, diag) {
		p.exactTile(sc, tl, sl.viewJ, li, ni, lj, nj, diag)
	}
}

// needsExact reports whether the fast sums s of a tile of ni×nj rows may
// have rounded away more than the statistics afford: whether, for a space
// k, S_kk of the tile (twice the sum of the squares of its shifted
// distances) exceeds 2·λ·pairs·v_k, or is not finite.
func (p *plan) needsExact(s []float64, ni, nj int, diag bool) bool {
	pairs := float64(ni) * float64(nj)
	if diag {
		pairs = float64(ni) * float64(ni-1) / 2
	}
	if pairs == 0 {
		return false
	}
	if p.n < tinyRows {
		return true
	}
	for k := range p.k {
		if !(s[estimator.PairIndex(p.k, k, k)] <= 2*exactLimit*pairs*p.spread[k]) {
			return true
		}
	}
	return false
}

// exactTile recomputes the tile with exact sums: every distance a by
// direct differences of the scaled rows in float64 (as the exact
// reference computes it: x_i − x_j, not (x_i − μ) − (x_j − μ), which
// loses the digits of two rows near each other far from the centre μ),
// the shifted distance a − c_k kept exactly as the sum h + l of its
// rounded value and its remainder (twoSum, Knuth's; a far c_k, or a
// distance far below c_k, leaves 2^−53·|a − c_k| in the remainder), and
// every product of two shifted distances as the exact sum of the four
// products of their parts, each as its rounded value and math.FMA's
// remainder. All go into the tile's exact parts (estimator.Tile.AddExactS
// and friends), its float64 sums cleared. The result is exact on these
// float64 distances, whatever c_k. It costs 10 to 20 exact additions per
// pair and space pair: several times a fast tile, paid only by the tiles
// needsExact picks.
func (p *plan) exactTile(sc *scratch, tl *estimator.Tile, rowJ [][]float64, li, ni, lj, nj int, diag bool) {
	clear(tl.S)
	for k := range p.k {
		clear(tl.RowI[k])
		clear(rowJ[k][:nj])
	}
	tl.ResetExact(p.k, ni, nj)
	p.exactRows(sc, li, ni, lj, nj)
	h, l := make([]float64, p.k), make([]float64, p.k)
	for i := range ni {
		j0 := 0
		if diag {
			j0 = i + 1
		}
		for j := j0; j < nj; j++ {
			p.exactDists(sc, i, j, h, l)
			q := 0
			for k := range p.k {
				for _, v := range [2]float64{h[k], l[k]} {
					tl.AddExactRowI(k, i, v)
					if diag {
						tl.AddExactRowI(k, j, v)
					} else {
						tl.AddExactRowJ(k, j, v)
					}
				}
				for m := k; m < p.k; m++ {
					addProduct(tl, q, h[k], h[m])
					if l[k] != 0 || l[m] != 0 {
						addProduct(tl, q, h[k], l[m])
						addProduct(tl, q, l[k], h[m])
						addProduct(tl, q, l[k], l[m])
					}
					q++
				}
			}
		}
	}
}

// addProduct adds 2·x·y exactly to the product sum q of tl: the rounded
// product and math.FMA's remainder, which is exact unless the product is
// near the bottom of the float64 range (the scaling of the spaces keeps
// distances near 1).
func addProduct(tl *estimator.Tile, q int, x, y float64) {
	pr := float64(x * y)
	tl.AddExactS(q, 2*pr)
	tl.AddExactS(q, 2*math.FMA(x, y, -pr))
}

// exactRows puts the rows I = [li, li+ni) and J = [lj, lj+nj) of every
// space, scaled (not centred), into sc.ex for exactDists.
func (p *plan) exactRows(sc *scratch, li, ni, lj, nj int) {
	for side := range sc.ex {
		if sc.ex[side] == nil {
			sc.ex[side] = make([][]float64, p.k)
		}
	}
	for k, sp := range p.spaces {
		sc.ex[0][k] = p.scaledRows(sc.ex[0][k], k, sp, li, ni)
		sc.ex[1][k] = p.scaledRows(sc.ex[1][k], k, sp, lj, nj)
	}
}

// exactDists sets h[k] + l[k] to the shifted distance a'^k_ij of rows i
// of I and j of J (counted from the tiles' first rows, see exactRows) of
// every space k, exactly: the distance by direct differences of the
// scaled rows (as the exact reference computes it: x_i − x_j, not
// (x_i − μ) − (x_j − μ), which loses the digits of two rows near each
// other far from the centre μ), minus c_k as a two-sum (a far c_k, or a
// distance far below it, leaves 2^−53·|a − c_k| in l[k]). The distances
// of every exact tile, of the state (exactTile) and of the jackknife
// (exactJackTile) alike.
func (p *plan) exactDists(sc *scratch, i, j int, h, l []float64) {
	for k, sp := range p.spaces {
		d := sp.Dim
		x, y := sc.ex[0][k][i*d:(i+1)*d], sc.ex[1][k][j*d:(j+1)*d]
		var d2 float64
		for q := range x {
			t := x[q] - y[q]
			d2 += float64(t * t)
		}
		h[k], l[k] = twoSum(p.raise1(d2), -p.shift[k])
	}
}

// scaledRows writes rows [r0, r0+m) of space k times its scale (a power
// of two: exact) into dst (grown as needed) and returns it. Unlike the
// fast kernels' panels they are not centred: exactTile takes the
// differences of the values themselves.
func (p *plan) scaledRows(dst []float64, k int, sp Space, r0, m int) []float64 {
	d := sp.Dim
	if cap(dst) < m*d {
		dst = make([]float64, p.tileSize*d)
	}
	dst = dst[:m*d]
	sc := p.scale[k]
	for i, v := range sp.Data[r0*d : (r0+m)*d] {
		dst[i] = v * sc
	}
	return dst
}
