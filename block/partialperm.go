package block

import (
	"context"
	"sync"

	"github.com/dcor-stream/dcor-stream/estimator"
)

// PartialTest is the outcome of PartialPermutations.
type PartialTest struct {
	Statistic    float64 // n·U_product(P_xz, P_yz) = T/(n−3), energy's teststat
	Permutations int     // R
	Exceed       int     // #{b : T_b ≥ T}
	P            float64 // (1 + Exceed)/(1 + R)
}

// PartialPermutations returns the permutation test of pdCov(x, y; z) = 0
// as energy::pdcov.test makes it: with P_xz and P_yz the U-centred
// distance matrices of x and y projected off z's,
//
//	P_xz = Ã − (U_xz/U_zz)·C̃,  P_yz = B̃ − (U_yz/U_zz)·C̃
//
// the statistic T = sum_{i≠j} P_xz,ij·P_yz,ij and its replicates
// T_b = sum_{i≠j} P_xz,ij·P_yz,π(i)π(j) for r permutations π_b =
// perm.At(b, ·), p = (1 + #{b : T_b ≥ T})/(1 + R). The U-centring uses the
// row sums and totals of st, the complete state of the same spaces and
// options (Ã_ij = a'_ij − r'_i/(n−2) − r'_j/(n−2) + T'/((n−1)(n−2))). For
// every tile x's and z's distance tiles are computed once and P_xz formed;
// each replicate costs y's and z's tiles at the permuted rows. Each tile's
// products are added exactly, and T is computed the same way as every T_b
// (the identity permutation), so the comparisons are exact. y and z are
// read at random rows, so they are held in memory.
//
// Errors are those of Permutations.
func PartialPermutations(ctx context.Context, spaces []Space, st *estimator.Stats, x, y, z, r int, perm *Permutation, opts Options) (PartialTest, error) {
	if r < 1 {
		panic("block: no permutations")
	}
	res := PartialTest{Permutations: r, P: 1}
	p, workers, err := passPlan(spaces, st, opts)
	if err != nil || p.n < 4 {
		return res, err
	}
	nf := float64(p.n)
	type centring struct {
		r       []float64
		t, beta float64
	}
	cent := func(k int) centring {
		rs := st.RowSums(k, nil)
		var t float64
		for _, v := range rs {
			t += v
		}
		return centring{r: rs, t: t / ((nf - 1) * (nf - 2))}
	}
	cx, cy, cz := cent(x), cent(y), cent(z)
	if uzz, _ := st.U(z, z); uzz > 0 {
		uxz, _ := st.U(x, z)
		uyz, _ := st.U(y, z)
		cx.beta, cy.beta = uxz/uzz, uyz/uzz
	}
	sums := estimator.NewSums(r + 1) // 0: the observed statistic
	px, pz := p.sub(x, nil), p.sub(z, nil)
	// y's and z's rows centred once, for the gathers of every permuted
	// tile.
	pre := []*plan{p.sub(y, nil), p.sub(z, nil)}
	for _, q := range pre {
		if q.fused {
			q.precentre()
		}
	}
	var mu sync.Mutex
	err = p.forTiles(ctx, workers, func() func(bi, bj int) error {
		b := -1 // −1: the identity
		at := func(i int) int {
			if b < 0 {
				return i
			}
			return perm.At(b, i)
		}
		plans := []*plan{px, pz, p.sub(y, at), p.sub(z, at)}
		plans[2].centredRows, plans[3].centredRows = pre[0].centredRows, pre[1].centredRows
		scs, sls, caps := make([]*scratch, 4), make([]slot, 4), make([][]float64, 4)
		for i, q := range plans {
			scs[i], sls[i], caps[i] = q.newScratch(), q.newSlot(), make([]float64, p.tileSize*p.tileSize)
		}
		pxz := make([]float64, p.tileSize*p.tileSize)
		vals := make([]float64, r+1)
		// capture computes plan i's shifted distance tile into caps[i].
		capture := func(i, bi, bj int) []float64 {
			i0, ni, j0, nj := p.bounds(bi, bj)
			c := caps[i][:ni*nj]
			clear(c)
			scs[i].forget()
			scs[i].capture = c
			plans[i].setTile(&sls[i], bi, bj)
			plans[i].tile(scs[i], i0, ni, j0, nj, bi == bj, plans[i].shift, sls[i].tile.S, sls[i].tile.RowI, sls[i].viewJ)
			return c
		}
		return func(bi, bj int) error {
			i0, ni, j0, nj := p.bounds(bi, bj)
			diag := bi == bj
			b = -1
			ax, az := capture(0, bi, bj), capture(1, bi, bj)
			for i := range ni {
				for j := range nj {
					if diag && j <= i {
						pxz[i*nj+j] = 0
						continue
					}
					gi, gj := i0+i, j0+j
					ux := ax[i*nj+j] - (cx.r[gi]+cx.r[gj])/(nf-2) + cx.t
					uz := az[i*nj+j] - (cz.r[gi]+cz.r[gj])/(nf-2) + cz.t
					pxz[i*nj+j] = ux - float64(cx.beta*uz)
				}
			}
			for b = -1; b < r; b++ {
				ay, azp := capture(2, bi, bj), capture(3, bi, bj)
				var s float64
				for i := range ni {
					gi := at(i0 + i)
					for j := range nj {
						if diag && j <= i {
							continue
						}
						gj := at(j0 + j)
						uy := ay[i*nj+j] - (cy.r[gi]+cy.r[gj])/(nf-2) + cy.t
						uz := azp[i*nj+j] - (cz.r[gi]+cz.r[gj])/(nf-2) + cz.t
						s += float64(pxz[i*nj+j] * (uy - float64(cy.beta*uz)))
					}
				}
				vals[b+1] = 2 * s
			}
			mu.Lock()
			defer mu.Unlock()
			return sums.Add(vals)
		}
	})
	if err != nil {
		return res, err
	}
	for b := 1; b <= r; b++ {
		if sums.Cmp(b, 0) >= 0 {
			res.Exceed++
		}
	}
	res.P = float64(1+res.Exceed) / float64(1+r)
	res.Statistic = sums.Float(0) / (nf - 3)
	return res, nil
}
