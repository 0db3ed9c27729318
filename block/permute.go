package block

import (
	"context"
	"encoding/binary"
	"math/bits"
	"math/rand/v2"

	"github.com/dcor-stream/dcor-stream/estimator"
)

// Permutation is a family of uniformly random permutations of [0, n), one
// per index b. π_b is the Fisher–Yates shuffle (Durstenfeld 1964; Knuth,
// TAOCP 2, Algorithm 3.4.2P) of the identity, in which step i, from n−1
// down to 1, swaps position i with a position j drawn uniformly from
// [0, i] by Lemire's multiply-and-reject method (Lemire 2019, "Fast random
// integer generation in an interval": unbiased), the draws taken from the
// ChaCha8 stream (math/rand/v2, specified by C2SP chacha8rand) keyed by
// (seed, b) alone. So π_b is uniform over the n! orders (up to the
// generator), and every worker, shard, schedule, resumed run and CPU that
// has the seed draws the same π_b, whichever other b it draws and in
// whatever order.
//
// Fisher–Yates forms the whole of π_b (O(n)), not one value: the
// permutation pass forms each π_b once, into a table (PermPass), and a
// position i of π_b is read from there.
//
// Scheme 2: version 1 (before 2026-12) was a four-round Feistel network,
// far from uniform at small n (PermutationScheme; states recording sums of
// its permutations are refused).
//
// A Permutation is safe for concurrent use.
type Permutation struct {
	n    int
	seed uint64
}

// PermutationScheme is the version of the permutations π_b of
// NewPermutation: a state of permutation sums records it, and sums of
// other permutations are refused.
const PermutationScheme = 2

// NewPermutation returns the permutations of [0, n) of the seed. It panics
// if n < 1 or n > 2^32.
func NewPermutation(n int, seed uint64) *Permutation {
	if n < 1 || uint64(n) > 1<<32 {
		panic("block: permutation of no samples, or of more than 2^32")
	}
	return &Permutation{n: n, seed: seed}
}

// N returns the number of samples permuted.
func (p *Permutation) N() int { return p.n }

// Fill sets dst[i] = π_b(i) for every i < n, in O(n). It panics if
// len(dst) != n or b < 0.
func (p *Permutation) Fill(b int, dst []int) { shuffle(p, b, dst, new(rand.ChaCha8)) }

// Of returns π_b as a new slice: Of(b)[i] = π_b(i).
func (p *Permutation) Of(b int) []int {
	dst := make([]int, p.n)
	p.Fill(b, dst)
	return dst
}

// shuffle sets dst to π_b, drawing from rng (reseeded).
func shuffle[T int | uint32](p *Permutation, b int, dst []T, rng *rand.ChaCha8) {
	if len(dst) != p.n || b < 0 {
		panic("block: permutation of the wrong length, or of a negative index")
	}
	var key [32]byte
	copy(key[:8], "dcorperm")
	binary.LittleEndian.PutUint64(key[8:], p.seed)
	binary.LittleEndian.PutUint64(key[16:], uint64(b))
	binary.LittleEndian.PutUint64(key[24:], PermutationScheme)
	rng.Seed(key)
	for i := range dst {
		dst[i] = T(i)
	}
	for i := len(dst) - 1; i > 0; i-- {
		j := below(rng, uint64(i)+1)
		dst[i], dst[j] = dst[j], dst[i]
	}
}

// below returns an integer uniform in [0, s), s ≥ 1, from rng's 64-bit
// draws: the high word of x·s, rejecting x whose low word is below
// 2^64 mod s (Lemire 2019), so that each value has exactly
// floor(2^64/s) accepted draws.
func below(rng *rand.ChaCha8, s uint64) uint64 {
	hi, lo := bits.Mul64(rng.Uint64(), s)
	if lo < s {
		t := -s % s
		for lo < t {
			hi, lo = bits.Mul64(rng.Uint64(), s)
		}
	}
	return hi
}

// Permutations returns the exact sums of the permutation test of
// independence of spaces x and y (see estimator.PermutationTest) for r
// permutations of y's samples, π_b = perm.Fill(b, ·), given st, the complete
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
	test := estimator.NewPermutationTest(x, y, r, pl.N())
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
