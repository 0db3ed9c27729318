package job_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/dcor-stream/dcor-stream/job"
	"github.com/dcor-stream/dcor-stream/stream"
)

var (
	activations = filepath.Join("..", "testdata", "activations.arrow")
	networks    = filepath.Join("..", "testdata", "networks.arrow")
)

// memCheckpoint is a Checkpointer in memory: Save encodes the state as a
// state file, Load decodes it, as a file would.
type memCheckpoint struct{ b []byte }

func (c *memCheckpoint) Load(context.Context) (*job.State, error) {
	if c.b == nil {
		return nil, nil
	}
	s := new(job.State)
	return s, s.UnmarshalBinary(c.b)
}

func (c *memCheckpoint) Save(_ context.Context, s *job.State) error {
	b, err := s.MarshalBinary()
	c.b = b
	return err
}

func (c *memCheckpoint) Remove() error  { c.b = nil; return nil }
func (c *memCheckpoint) String() string { return "memory" }

func specs(cols ...string) []stream.Spec {
	out := make([]stream.Spec, len(cols))
	for i, c := range cols {
		out[i] = stream.Spec{Columns: []string{c}}
	}
	return out
}

// modes are the statistics of the composition test.
var modes = []struct {
	name string
	spec job.Spec
}{
	{"pair", job.Spec{File: activations, Spaces: specs("model_a", "model_b")}},
	{"partial", job.Spec{File: activations, Spaces: specs("model_b", "label", "model_a")}},
	{"matrix-given", job.Spec{File: networks, Spaces: specs("a_layer1", "a_layer2", "b_block1", "b_block2", "input"),
		Labels: []string{"a1", "a2", "b1", "b2", "in"},
		Matrix: &job.Matrix{Rows: []int{0, 1}, Cols: []int{2, 3}, Given: 4}}},
}

// fingerprintOf is what must be equal between two runs: the estimator
// state's encoding and the results' JSON.
func fingerprintOf(t *testing.T, out *job.Outcome) string {
	t.Helper()
	b, err := out.State.Stats.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	res, err := out.State.Results()
	if err != nil {
		t.Fatal(err)
	}
	var r any = res.Pair
	if res.Matrix != nil {
		r = res.Matrix
	}
	j, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x\n%s", b, j)
}

// run runs spec; with shards > 1 it runs every shard and merges them.
func run(t *testing.T, spec job.Spec, shards int) *job.Outcome {
	t.Helper()
	if shards <= 1 {
		out, err := job.Run(t.Context(), spec)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	var states []*job.State
	for i := shards - 1; i >= 0; i-- { // any order
		spec.Shard, spec.Shards = i, shards
		out, err := job.Run(t.Context(), spec)
		if err != nil {
			t.Fatal(err)
		}
		if out.Pair != nil || out.Matrix != nil {
			t.Fatalf("shard %d/%d has results", i, shards)
		}
		states = append(states, out.State)
	}
	st, err := job.Merge(states...)
	if err != nil {
		t.Fatal(err)
	}
	return &job.Outcome{State: st}
}

// interrupted runs spec, cancelling it after stop tiles, and returns the
// checkpoint it saved.
func interrupted(t *testing.T, spec job.Spec, stop int) *memCheckpoint {
	t.Helper()
	cp, ok := spec.Checkpoint.(*memCheckpoint)
	if !ok {
		cp = &memCheckpoint{}
		spec.Checkpoint = cp
	}
	spec.CheckpointEvery = 1 << 62 // only the save on cancellation
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	added := 0 // tiles added when cancelled
	spec.Progress = func(p job.Progress) {
		if p.Tiles-p.ResumedTiles == stop {
			added = p.Tiles
			cancel()
		}
	}
	_, err := job.Run(ctx, spec)
	if !errors.Is(err, job.ErrInterrupted) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled after %d tiles: %v, want ErrInterrupted", stop, err)
	}
	if cp.b == nil {
		t.Fatalf("cancelled after %d tiles: no checkpoint saved", stop)
	}
	// Every tile added before the cancellation is saved: at most those
	// in flight are lost.
	saved, err := cp.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	done := 0
	for _, v := range saved.Done {
		done += v[1] - v[0]
	}
	if done < added {
		t.Fatalf("cancelled after %d tiles added: the checkpoint holds %d", added, done)
	}
	return cp
}

// TestCompose: {pair, partial, matrix with given} × {in memory, under a
// memory budget} × {whole, 3 shards merged} × {fresh, killed and resumed
// (under other workers and another schedule)} all give the bits of the
// one in-memory run.
func TestCompose(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			base := m.spec
			base.Options.Tile = 64 // 136 tiles of the 1,000 samples
			want := fingerprintOf(t, run(t, base, 1))
			for _, mem := range []int64{0, 64 << 10} {
				for _, shards := range []int{1, 3} {
					spec := base
					spec.Memory = mem
					got := fingerprintOf(t, run(t, spec, shards))
					if got != want {
						t.Errorf("memory %d, %d shards: differs from the in-memory run", mem, shards)
					}
				}
				// Killed after a few tiles, then after more, resumed by the
				// other schedule and other workers.
				spec := base
				spec.Memory = mem
				spec.Options.Workers = 1
				cp := interrupted(t, spec, 7)
				spec.Memory = 64<<10 - mem
				spec.Options.Workers = 3
				spec.Checkpoint = cp
				cp = interrupted(t, spec, 40)
				spec.Memory = mem
				spec.Options.Workers = 2
				out, err := job.Run(t.Context(), spec)
				if err != nil {
					t.Fatal(err)
				}
				if out.Resumed < 47 {
					t.Errorf("memory %d: resumed %d tiles, want at least 47", mem, out.Resumed)
				}
				if got := fingerprintOf(t, out); got != want {
					t.Errorf("memory %d, killed twice and resumed: differs from the in-memory run", mem)
				}
				if cp.b != nil {
					t.Errorf("memory %d: the checkpoint is not removed at the end", mem)
				}
				// A shard killed and resumed, merged with the others.
				spec = base
				spec.Memory = mem
				spec.Shard, spec.Shards = 1, 3
				cp = interrupted(t, spec, 5)
				spec.Checkpoint = cp
				one, err := job.Run(t.Context(), spec)
				if err != nil {
					t.Fatal(err)
				}
				states := []*job.State{one.State}
				for _, i := range []int{0, 2} {
					spec := base
					spec.Shard, spec.Shards = i, 3
					states = append(states, run(t, spec, 1).State)
				}
				st, err := job.Merge(states...)
				if err != nil {
					t.Fatal(err)
				}
				if got := fingerprintOf(t, &job.Outcome{State: st}); got != want {
					t.Errorf("memory %d, shard 1/3 killed and resumed, merged: differs from the in-memory run", mem)
				}
			}
		})
	}
}

// TestDataInput: spaces given in memory give the bits of the same spaces
// read from the file.
func TestDataInput(t *testing.T) {
	tab, err := stream.Load(t.Context(), activations, specs("model_a", "model_b", "label"), stream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := fingerprintOf(t, run(t, job.Spec{File: activations, Spaces: specs("model_a", "model_b", "label")}, 1))
	got := fingerprintOf(t, run(t, job.Spec{Data: tab.Spaces}, 3))
	if got != want {
		t.Errorf("in-memory spaces, 3 shards: differ from the file's run")
	}
	var buf bytes.Buffer
	if _, err := job.Run(t.Context(), job.Spec{Data: tab.Spaces[:1]}); !errors.Is(err, job.ErrSpec) {
		t.Errorf("a pair job of one space: %v, want ErrSpec%s", err, &buf)
	}
}

// TestCancelAnywhere cancels runs at random moments (after a random
// number of tiles, on random workers, in memory or under a budget),
// several times in a row, and resumes: the bits are those of the
// uninterrupted run.
func TestCancelAnywhere(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	base := modes[2].spec // the matrix with a given space
	base.Options.Tile = 64
	want := fingerprintOf(t, run(t, base, 1))
	for trial := range 4 {
		cp := &memCheckpoint{}
		spec := base
		spec.Checkpoint = cp
		for range 3 {
			spec.Memory = []int64{0, 64 << 10, 1 << 20}[rng.IntN(3)]
			spec.Options.Workers = 1 + rng.IntN(3)
			interrupted(t, spec, 1+rng.IntN(30))
		}
		out, err := job.Run(t.Context(), spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := fingerprintOf(t, out); got != want {
			t.Errorf("trial %d: cancelled 3 times and resumed: differs from the uninterrupted run", trial)
		}
	}
}

// TestReaderInput: an open stream.Reader as the input, in memory and
// under a budget, gives the bits of the file's run.
func TestReaderInput(t *testing.T) {
	sp := specs("model_a", "model_b")
	want := fingerprintOf(t, run(t, job.Spec{File: activations, Spaces: sp}, 1))
	for _, mem := range []int64{0, 64 << 10} {
		r, err := stream.NewReader(t.Context(), activations, sp, stream.Options{})
		if err != nil {
			t.Fatal(err)
		}
		got := fingerprintOf(t, run(t, job.Spec{Reader: r, Memory: mem}, 1))
		r.Close()
		if got != want {
			t.Errorf("memory %d: a Reader's run differs from the file's", mem)
		}
	}
}
