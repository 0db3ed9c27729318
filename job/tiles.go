package job

import (
	"slices"
	"sort"

	"github.com/dcor-stream/dcor-stream/block"
)

// grid is the tile grid of n samples in tiles of t rows (block.Range
// describes its order): g rows of tiles, the upper triangle.
type grid struct{ n, t, g int }

// newGrid returns the grid of n samples for the tile option tile (0: the
// default), with the tile edge block.Compute uses: max(1, min(tile, n)).
func newGrid(n, tile int) grid {
	if tile == 0 {
		tile = block.DefaultTileSize
	}
	t := max(1, min(tile, n))
	return grid{n: n, t: t, g: (n + t - 1) / t}
}

// count is the number of tiles.
func (g grid) count() int { return g.g * (g.g + 1) / 2 }

// index is the position of tile (i, j) in the tile order.
func (g grid) index(tl block.Tile) int {
	return tl.I*g.g - tl.I*(tl.I-1)/2 + tl.J - tl.I
}

// tile is the tile at position idx of the tile order.
func (g grid) tile(idx int) block.Tile {
	// The row i is the last whose first index is <= idx.
	i := sort.Search(g.g, func(i int) bool { return g.index(block.Tile{I: i, J: i}) > idx }) - 1
	return block.Tile{I: i, J: i + idx - g.index(block.Tile{I: i, J: i})}
}

// rows is the number of samples of tile row i.
func (g grid) rows(i int) int { return min(g.t, g.n-i*g.t) }

// pairs is the number of pairs of a tile.
func (g grid) pairs(tl block.Tile) int64 {
	mi := int64(g.rows(tl.I))
	if tl.I == tl.J {
		return mi * (mi - 1) / 2
	}
	return mi * int64(g.rows(tl.J))
}

// rangePairs is the number of pairs of the tiles [from, to), a tile row
// at a time (O(rows of tiles), not O(tiles): the univariate path of n =
// 10⁸ samples has 7.6·10¹⁰ tiles of 256 rows).
func (g grid) rangePairs(from, to int) int64 {
	var p int64
	for idx := from; idx < to; {
		tl := g.tile(idx)
		// The rest of row tl.I within the range: columns [tl.J, end).
		end := tl.J + min(to, g.index(block.Tile{I: tl.I, J: g.g - 1})+1) - idx
		m := int64(g.rows(tl.I))
		j := tl.J
		if j == tl.I {
			p += m * (m - 1) / 2
			j++
		}
		if j < end {
			// Full tiles of t rows, and the last tile row's g.rows(g.g-1).
			cols := int64(end-j) * int64(g.t)
			if end == g.g {
				cols += int64(g.rows(g.g-1) - g.t)
			}
			p += m * cols
		}
		idx += end - tl.J
	}
	return p
}

// tileSet is a set of tile indices, kept as sorted, disjoint and
// non-adjacent half-open intervals: tiles are added nearly in order, so
// there are few.
type tileSet struct{ iv [][2]int }

// has reports whether idx is in s.
func (s *tileSet) has(idx int) bool {
	k := sort.Search(len(s.iv), func(k int) bool { return s.iv[k][1] > idx })
	return k < len(s.iv) && s.iv[k][0] <= idx
}

// add puts idx in s.
func (s *tileSet) add(idx int) {
	k := sort.Search(len(s.iv), func(k int) bool { return s.iv[k][1] >= idx })
	switch {
	case k < len(s.iv) && s.iv[k][0] <= idx && idx < s.iv[k][1]:
		return
	case k < len(s.iv) && s.iv[k][1] == idx:
		s.iv[k][1]++
		if k+1 < len(s.iv) && s.iv[k+1][0] == idx+1 {
			s.iv[k][1] = s.iv[k+1][1]
			s.iv = slices.Delete(s.iv, k+1, k+2)
		}
	case k < len(s.iv) && s.iv[k][0] == idx+1:
		s.iv[k][0] = idx
	default:
		s.iv = slices.Insert(s.iv, k, [2]int{idx, idx + 1})
	}
}

// count is the number of tiles in s.
func (s *tileSet) count() int {
	c := 0
	for _, v := range s.iv {
		c += v[1] - v[0]
	}
	return c
}

// intervals returns a copy of the intervals.
func (s *tileSet) intervals() [][2]int { return slices.Clone(s.iv) }

// covers reports whether s is exactly the tiles [from, to).
func (s *tileSet) covers(from, to int) bool {
	if from == to {
		return len(s.iv) == 0
	}
	return len(s.iv) == 1 && s.iv[0] == [2]int{from, to}
}
