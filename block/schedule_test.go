package block

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/dcor-stream/dcor-stream/estimator"
)

func marshal(t *testing.T, st *estimator.Stats) []byte {
	t.Helper()
	b, err := st.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestShardPartition(t *testing.T) {
	for _, n := range []int{0, 1, 2, 5, 17, 100, 1000} {
		for _, tile := range []int{1, 3, 16, 256} {
			opts := Options{TileSize: tile}
			total := TileCount(n, opts)
			for _, count := range []int{1, 2, 3, 4, 7} {
				next := 0
				for i := range count {
					r := Shard(n, opts, i, count)
					if r.From != next || r.To < r.From {
						t.Fatalf("n=%d tile=%d: Shard(%d of %d) = %v, want to start at %d", n, tile, i, count, r, next)
					}
					next = r.To
				}
				if next != total {
					t.Fatalf("n=%d tile=%d count=%d: shards end at %d, want %d tiles", n, tile, count, next, total)
				}
			}
		}
	}
	// Balance: at n = 1000, tile 16, each of 4 shards holds a quarter of
	// the pairs to within one tile (256 pairs).
	opts := Options{TileSize: 16}
	const n = 1000
	total := int64(n) * (n - 1) / 2
	for i := range 4 {
		r := Shard(n, opts, i, 4)
		var pairs int64
		idx := 0
		for i0 := 0; i0 < n; i0 += 16 {
			mi := int64(min(16, n-i0))
			for j0 := i0; j0 < n; j0 += 16 {
				if idx >= r.From && idx < r.To {
					if i0 == j0 {
						pairs += mi * (mi - 1) / 2
					} else {
						pairs += mi * int64(min(16, n-j0))
					}
				}
				idx++
			}
		}
		if d := pairs - total/4; d > 256 || d < -256 {
			t.Errorf("shard %d of 4 holds %d pairs, want %d ± 256", i, pairs, total/4)
		}
	}
}

// TestShardsMergeBitIdentical: the shards' states merged, in any order,
// equal the one-run state byte for byte.
func TestShardsMergeBitIdentical(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	spaces := []Space{randSpace(rng, 300, 3), randSpace(rng, 300, 20), randSpace(rng, 300, 1)}
	for _, alpha := range []float64{1, 0.5} {
		opts := Options{Exponent: alpha, TileSize: 32, Workers: 2}
		whole, err := Compute(t.Context(), spaces, opts)
		if err != nil {
			t.Fatal(err)
		}
		want := marshal(t, whole)
		for _, count := range []int{2, 4, 5} {
			var parts []*estimator.Stats
			for i := range count {
				st, err := ComputeSchedule(t.Context(), spaces, opts, Schedule{Tiles: Shard(300, opts, i, count)})
				if err != nil {
					t.Fatal(err)
				}
				parts = append(parts, st)
			}
			rng.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
			var merged estimator.Stats
			for _, p := range parts {
				if err := merged.Merge(p); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(marshal(t, &merged), want) {
				t.Errorf("α=%v: %d shards merged differ from one run", alpha, count)
			}
		}
	}
}

// TestResume interrupts a run after k tiles, keeping the state Progress
// saw and the tiles it was called with, and resumes it: the result equals
// an uninterrupted run byte for byte, whichever tiles the workers had
// done.
func TestResume(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	spaces := []Space{randSpace(rng, 200, 2), randSpace(rng, 200, 17)}
	opts := Options{TileSize: 16, Workers: 3}
	whole, err := Compute(t.Context(), spaces, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := marshal(t, whole)
	stop := errors.New("stop")
	total := TileCount(200, opts)
	for _, k := range []int{1, 7, total / 2, total - 1} {
		var saved []byte
		done := map[Tile]bool{}
		run := Schedule{Progress: func(st *estimator.Stats, tl Tile, n, all int) error {
			if all != total {
				t.Fatalf("Progress total = %d, want %d", all, total)
			}
			if done[tl] {
				t.Fatalf("Progress called twice for tile %v", tl)
			}
			done[tl] = true
			if n != len(done) {
				t.Fatalf("Progress done = %d after %d tiles", n, len(done))
			}
			if n == k {
				saved = marshal(t, st)
				return stop
			}
			return nil
		}}
		if _, err := ComputeSchedule(t.Context(), spaces, opts, run); !errors.Is(err, stop) {
			t.Fatalf("interrupted Compute = %v, want the Progress error", err)
		}
		var st estimator.Stats
		if err := st.UnmarshalBinary(saved); err != nil {
			t.Fatal(err)
		}
		first := -1
		resume := Schedule{Resume: &st, Done: func(tl Tile) bool { return done[tl] }, Progress: func(_ *estimator.Stats, tl Tile, n, _ int) error {
			if done[tl] {
				t.Fatalf("resumed run computed tile %v again", tl)
			}
			if first < 0 {
				first = n
			}
			return nil
		}}
		got, err := ComputeSchedule(t.Context(), spaces, opts, resume)
		if err != nil {
			t.Fatal(err)
		}
		if first != k+1 {
			t.Errorf("resumed after %d tiles: first Progress done = %d, want %d", k, first, k+1)
		}
		if !bytes.Equal(marshal(t, got), want) {
			t.Errorf("resumed after %d of %d tiles: state differs from one run", k, total)
		}
	}
}

func TestScheduleErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	spaces := []Space{randSpace(rng, 50, 2), randSpace(rng, 50, 1)}
	opts := Options{TileSize: 8}
	total := TileCount(50, opts)
	for _, r := range []Range{{-1, 2}, {3, 2}, {0, total + 1}} {
		if _, err := ComputeSchedule(t.Context(), spaces, opts, Schedule{Tiles: r}); !errors.Is(err, ErrRange) {
			t.Errorf("Tiles %v: err = %v, want ErrRange", r, err)
		}
	}
	other, err := Compute(t.Context(), []Space{randSpace(rng, 50, 2), randSpace(rng, 50, 1)}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ComputeSchedule(t.Context(), spaces, opts, Schedule{Resume: other}); !errors.Is(err, ErrResume) {
		t.Errorf("resuming another data set's state: err = %v, want ErrResume", err)
	}
	mine, _ := Compute(t.Context(), spaces, opts)
	want := marshal(t, mine)
	all := func(Tile) bool { return true }
	if got, err := ComputeSchedule(t.Context(), spaces, opts, Schedule{Resume: mine, Done: all}); err != nil || !bytes.Equal(marshal(t, got), want) {
		t.Errorf("resuming a complete state: err = %v, or the state changed", err)
	}
}
