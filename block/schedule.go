package block

import (
	"errors"
	"fmt"

	"github.com/dcor-stream/dcor-stream/estimator"
)

var (
	// ErrRange is returned for a tile range or resume point outside the
	// tile grid.
	ErrRange = errors.New("block: tile range out of the grid")
	// ErrResume is returned when Schedule.Resume was not made for the same
	// samples and options as the run that is asked to continue it.
	ErrResume = errors.New("block: state to resume does not match this run")
)

// Range is the tiles [From, To) of the fixed tile order: the upper triangle
// of the grid of TileSize×TileSize tiles, row of tiles I ascending, then
// J >= I ascending.
type Range struct{ From, To int }

// schedule is the part of the tile order one Compute call runs.
type schedule struct {
	rng      Range
	done     func(Tile) bool // tiles of rng already in the state; nil: none
	progress func(st *estimator.Stats, t Tile, done, total int) error
}

// tileEdge returns the tile edge Compute uses for n samples.
func tileEdge(n int, opts Options) int {
	t := opts.TileSize
	if t == 0 {
		t = DefaultTileSize
	}
	return max(1, min(t, n))
}

// TileCount returns the number of tiles Compute runs for n samples with
// the tile size of opts.
func TileCount(n int, opts Options) int {
	if n == 0 {
		return 0
	}
	grid := (n + tileEdge(n, opts) - 1) / tileEdge(n, opts)
	return grid * (grid + 1) / 2
}

// Shard returns shard i of count: a contiguous range of the tile order such
// that the shards partition it and hold about the same number of pairs
// each (a diagonal tile of m rows has m(m−1)/2 pairs, an off-diagonal one
// m_I·m_J). Shard i starts at the first tile whose preceding pairs reach
// i/count of all pairs. It depends only on n, the tile size, i and count;
// it panics unless 0 <= i < count.
func Shard(n int, opts Options, i, count int) Range {
	if i < 0 || i >= count {
		panic(fmt.Sprintf("block: shard %d of %d", i, count))
	}
	edge := tileEdge(n, opts)
	total := int64(n) * int64(n-1) / 2
	// start(s) is the first tile index t with pairs(before t)·count >= s·total.
	start := func(s int) int {
		if s == 0 {
			return 0
		}
		want := int64(s) * total
		var before int64
		t := 0
		for i0 := 0; i0 < n; i0 += edge {
			mi := int64(min(edge, n-i0))
			for j0 := i0; j0 < n; j0 += edge {
				if before*int64(count) >= want {
					return t
				}
				if j0 == i0 {
					before += mi * (mi - 1) / 2
				} else {
					before += mi * int64(min(edge, n-j0))
				}
				t++
			}
		}
		return t
	}
	from, to := start(i), TileCount(n, opts)
	if i+1 < count {
		to = start(i + 1)
	}
	return Range{from, to}
}
