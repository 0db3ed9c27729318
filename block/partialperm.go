package block

import (
	"context"

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
// read at random rows, so they are held in memory. It is the pass of
// NewPartialPermPass over every tile of the grid, in memory.
//
// Errors are those of Permutations.
func PartialPermutations(ctx context.Context, spaces []Space, st *estimator.Stats, x, y, z, r int, perm *Permutation, opts Options) (PartialTest, error) {
	if r < 1 {
		panic("block: no permutations")
	}
	res := PartialTest{Permutations: r, P: 1}
	pl, err := Prepare(spaces, opts)
	if err != nil {
		return res, err
	}
	if err := pl.ScanBound(spaces); err != nil {
		return res, err
	}
	if _, err := pl.NewStats(); err != nil {
		return res, err
	}
	pt := estimator.NewPartialPermutationTest(x, y, z, r)
	pp, err := pl.NewPartialPermPass(st, nil, pt, x, y, z, perm, spaces[y], spaces[z])
	if err != nil {
		return res, err
	}
	if err := pp.AddTiles(ctx, spaces, pl.allTiles(), nil); err != nil {
		return res, err
	}
	t := pt.Result(pl.N())
	return PartialTest{Statistic: t.Statistic, Permutations: r, Exceed: t.Exceed, P: t.P}, nil
}
