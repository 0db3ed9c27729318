package job

import "testing"

// TestRangePairs: the pairs of every range of tiles, a row at a time,
// equal the sum over the tiles one by one, and the whole grid has
// n(n−1)/2 pairs.
func TestRangePairs(t *testing.T) {
	for _, c := range []struct{ n, tile int }{{1, 4}, {5, 4}, {8, 4}, {9, 4}, {17, 4}, {30, 7}, {12, 1}, {3, 256}} {
		g := newGrid(c.n, c.tile)
		for from := 0; from <= g.count(); from++ {
			var want int64
			for to := from; to <= g.count(); to++ {
				if got := g.rangePairs(from, to); got != want {
					t.Fatalf("n %d, tile %d: tiles [%d, %d) have %d pairs, want %d", c.n, c.tile, from, to, got, want)
				}
				if to < g.count() {
					want += g.pairs(g.tile(to))
				}
			}
		}
		if got, want := g.rangePairs(0, g.count()), int64(c.n)*int64(c.n-1)/2; got != want {
			t.Errorf("n %d, tile %d: %d pairs in all, want %d", c.n, c.tile, got, want)
		}
	}
	// 10⁸ samples: 7.6·10¹⁰ tiles, counted a row at a time.
	g := newGrid(100_000_000, 0)
	if got, want := g.rangePairs(0, g.count()), int64(100_000_000)*(100_000_000-1)/2; got != want {
		t.Errorf("n = 10⁸: %d pairs, want %d", got, want)
	}
}
