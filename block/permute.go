package block

import (
	"context"
	"math/bits"

	"github.com/dcor-stream/dcor-stream/estimator"
)

// Permutation is a family of pseudo-random permutations of [0, n), one
// per index b, computed at any position in O(1): π_b(i) is a four-round
// Feistel network on the bits of i keyed by (seed, b), walked in cycles
// until it falls below n (Black & Rogaway 2002). Every worker, shard and
// resumed run that has the seed draws the same π_b, without storing it.
//
// A Permutation is safe for concurrent use.
type Permutation struct {
	n, half int
	mask    uint64
	seed    uint64
}

// NewPermutation returns the permutations of [0, n) of the seed. It panics
// if n < 1.
func NewPermutation(n int, seed uint64) *Permutation {
	if n < 1 {
		panic("block: permutation of no samples")
	}
	b := bits.Len64(uint64(n - 1))
	b += b & 1 // an even number of bits, split in halves
	half := max(b/2, 1)
	return &Permutation{n: n, half: half, mask: 1<<half - 1, seed: seed}
}

// mix is splitmix64's finaliser.
func mix(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// At returns π_b(i), for 0 ≤ i < n.
func (p *Permutation) At(b, i int) int {
	key := mix(p.seed ^ mix(uint64(b)+0x9e3779b97f4a7c15))
	v := uint64(i)
	for {
		l, r := v>>p.half, v&p.mask
		for round := range uint64(4) {
			l, r = r, l^(mix(key+round*0x632be59bd9b4e019+r)&p.mask)
		}
		v = l<<p.half | r
		if v < uint64(p.n) {
			return int(v)
		}
	}
}

// Permutations returns the exact sums of the permutation test of
// independence of spaces x and y (see estimator.PermutationTest) for r
// permutations of y's samples, π_b = perm.At(b, ·), given st, the complete
// state Compute returned for the same spaces and options. For every tile,
// x's shifted distance tile is computed once and shared by the r tiles of
// y's permuted rows π_b(I) × π_b(J), each reduced to its product sum with
// it: a permutation costs y's distance tiles and one product per pair,
// about half an exact run when x and y have the same dimension. y is read
// at random rows, so it is held in memory. It is the pass of NewPermPass
// over every tile of the grid, in memory.
//
// It returns an error wrapping ErrResume if st was not made with these
// spaces and options, the errors of Compute for invalid spaces, and
// ctx.Err().
func Permutations(ctx context.Context, spaces []Space, st *estimator.Stats, x, y, r int, perm *Permutation, opts Options) (*estimator.PermutationTest, error) {
	if r < 1 {
		panic("block: no permutations")
	}
	pl, err := Prepare(spaces, opts)
	if err != nil {
		return nil, err
	}
	if err := pl.ScanBound(spaces); err != nil {
		return nil, err
	}
	if _, err := pl.NewStats(); err != nil {
		return nil, err
	}
	test := estimator.NewPermutationTest(x, y, r)
	pp, err := pl.NewPermPass(st, test, x, y, perm, spaces[y])
	if err != nil {
		return nil, err
	}
	if err := pp.AddTiles(ctx, spaces, pl.allTiles(), nil); err != nil {
		return nil, err
	}
	return test, nil
}

// allTiles returns every tile of the plan's grid, row by row.
func (pl *Plan) allTiles() []Tile {
	g := (pl.N() + pl.TileSize() - 1) / pl.TileSize()
	tiles := make([]Tile, 0, g*(g+1)/2)
	for i := range g {
		for j := i; j < g; j++ {
			tiles = append(tiles, Tile{i, j})
		}
	}
	return tiles
}

// sub returns the plan of space k alone, with p's centre, scale and shift
// for it, rows mapped by perm (nil: none), in float64 and without the
// univariate shortcut (which forms no distances).
func (p *plan) sub(k int, perm func(int) int) *plan {
	q := &plan{
		spaces: []Space{p.spaces[k]}, k: 1, n: p.n, tileSize: p.tileSize, alpha: p.alpha, pow: p.pow,
		mean: [][]float64{p.mean[k]}, gram: []bool{p.gram[k]}, shift: []float64{p.shift[k]},
		scaleExp: []int{p.scaleExp[k]}, scale: []float64{p.scale[k]}, scaled: p.scaleExp[k] != 0,
		spread: []float64{p.spread[k]}, perm: perm, fused: p.gram[k], kern: p.kern, prec: Float64,
	}
	q.chunk = q.fusedChunk()
	return q
}

// centredRows are the rows of a Gram space scaled and centred as pack and
// packMapped compute them, c_iq = x_iq·f − μ_q, with their squared norms
// summed in the same order: packMapped then gathers a permuted tile's
// rows with no arithmetic, the same bits.
type centredRows struct {
	rows, norms []float64
}

// precentre sets q.centredRows for q, a plan of one mapped Gram space. Memory:
// a copy of the space (8·n·dim bytes) and n norms.
func (q *plan) precentre() {
	s := q.spaces[0]
	dim, f, mu := s.Dim, q.scale[0], q.mean[0][:s.Dim]
	c := &centredRows{rows: make([]float64, len(s.Data)), norms: make([]float64, s.Rows())}
	for g := range c.norms {
		var sq float64
		row := c.rows[g*dim : (g+1)*dim]
		for j, v := range s.Data[g*dim : (g+1)*dim] {
			x := v*f - mu[j]
			row[j] = x
			sq += float64(x * x)
		}
		c.norms[g] = sq
	}
	q.centredRows = c
}
