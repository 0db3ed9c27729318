package job_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dcor-stream/dcor-stream/job"
	"github.com/dcor-stream/dcor-stream/stream"
)

// ciPrint is what must be equal between two -ci runs: the state's and its
// jackknife part's encodings, and the results' JSON with the intervals.
func ciPrint(t *testing.T, st *job.State) string {
	t.Helper()
	if !st.HasIntervals() {
		t.Fatalf("the state (pass %q, done %v) holds no complete jackknife pass", st.Phase, st.Done)
	}
	b, err := st.Stats.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	jb, err := st.Part("jackknife").MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	res, err := st.Results()
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Intervals(&res, 0.9); err != nil {
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
	return fmt.Sprintf("%x\n%x\n%s", b, jb, j)
}

// ciRounds runs the two rounds of -ci on shards: the state pass of each
// shard, merged; then the jackknife pass of each shard from the merge
// (under mem2), merged.
func ciRounds(t *testing.T, spec job.Spec, shards int, mem2 int64) *job.State {
	t.Helper()
	first := run(t, spec, shards).State
	if first.Phase != "" || first.HasIntervals() {
		t.Fatalf("the first round's merge is of the pass %q", first.Phase)
	}
	spec.From, spec.Memory = first, mem2
	var states []*job.State
	for i := range shards {
		spec.Shard, spec.Shards = i, shards
		out, err := job.Run(t.Context(), spec)
		if err != nil {
			t.Fatal(err)
		}
		states = append(states, out.State)
	}
	st, err := job.Merge(states...)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// cancelAfter runs spec with a checkpoint, cancelling it after stop tiles
// of either pass have been reported, and returns the checkpoint.
func cancelAfter(t *testing.T, spec job.Spec, stop int) *memCheckpoint {
	t.Helper()
	cp, ok := spec.Checkpoint.(*memCheckpoint)
	if !ok {
		cp = &memCheckpoint{}
		spec.Checkpoint = cp
	}
	spec.CheckpointEvery = 1 << 62
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	seen := 0
	spec.Progress = func(job.Progress) {
		if seen++; seen == stop {
			cancel()
		}
	}
	if _, err := job.Run(ctx, spec); !errors.Is(err, job.ErrInterrupted) {
		t.Fatalf("cancelled after %d tiles: %v, want ErrInterrupted", stop, err)
	}
	return cp
}

// TestComposeCI: the intervals of -ci in the pair, partial and matrix
// (with a given space) modes are the same bits in memory, under a memory
// budget, from shards in two rounds merged, and killed in either pass
// and resumed (under other workers and another schedule).
func TestComposeCI(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			base := m.spec
			base.Options.Tile = 64 // 136 tiles of the 1,000 samples
			base.CI = 0.9
			ref := run(t, base, 1)
			want := ciPrint(t, ref.State)
			wantJSON := resultJSON(t, ref.Results)
			for _, mem := range []int64{0, 64 << 10} {
				spec := base
				spec.Memory = mem
				out := run(t, spec, 1)
				if out.Pair != nil {
					out.Pair.Passes = 0 // reported under a budget
				}
				if out.Matrix != nil {
					out.Matrix.Passes = 0
				}
				if got := ciPrint(t, out.State); got != want {
					t.Errorf("memory %d: differs from the in-memory run", mem)
				}
				if got := resultJSON(t, out.Results); got != wantJSON {
					t.Errorf("memory %d: results\n%s\nwant\n%s", mem, got, wantJSON)
				}
				if got := ciPrint(t, ciRounds(t, spec, 3, 64<<10-mem)); got != want {
					t.Errorf("memory %d, 3 shards in two rounds: differs from the in-memory run", mem)
				}
			}
			// Killed in the state pass, then in the jackknife pass, then
			// resumed, alternating the schedules.
			spec := base
			spec.Options.Workers = 1
			cp := cancelAfter(t, spec, 7)
			spec.Memory, spec.Options.Workers, spec.Checkpoint = 64<<10, 3, cp
			cp = cancelAfter(t, spec, 136-7+30)
			saved, err := cp.Load(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if saved.Phase != "jackknife" {
				t.Fatalf("the second checkpoint is of the pass %q, want jackknife", saved.Phase)
			}
			spec.Memory, spec.Options.Workers = 0, 2
			out := run(t, spec, 1)
			if got := ciPrint(t, out.State); got != want || resultJSON(t, out.Results) != wantJSON {
				t.Error("killed in each pass and resumed: differs from the in-memory run")
			}
			if out.Resumed < 30 {
				t.Errorf("resumed %d tiles of the jackknife pass, want at least 30", out.Resumed)
			}
			// A shard of round 2 killed and resumed, merged with the others.
			first := run(t, base, 3).State
			spec = base
			spec.From, spec.Shard, spec.Shards = first, 1, 3
			cp = cancelAfter(t, spec, 5)
			spec.Checkpoint = cp
			states := []*job.State{run(t, spec, 1).State}
			for _, i := range []int{2, 0} {
				spec := base
				spec.From, spec.Shard, spec.Shards = first, i, 3
				states = append(states, run(t, spec, 1).State)
			}
			st, err := job.Merge(states...)
			if err != nil {
				t.Fatal(err)
			}
			if got := ciPrint(t, st); got != want {
				t.Error("round 2 with shard 1/3 killed and resumed: differs from the in-memory run")
			}
		})
	}
}

func resultJSON(t *testing.T, res job.Results) string {
	t.Helper()
	var r any = res.Pair
	if res.Matrix != nil {
		r = res.Matrix
	}
	j, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(j)
}

// TestCIErrors: the two rounds refuse what does not fit together.
func TestCIErrors(t *testing.T) {
	base := modes[0].spec
	base.Options.Tile = 128
	base.CI = 0.95
	first := run(t, base, 2).State
	shard := base
	shard.Shard, shard.Shards = 0, 2
	part := run(t, shard, 1).State
	other := base
	other.Options.Exponent = 0.5
	otherFirst := run(t, other, 1).State
	for _, c := range []struct {
		name string
		spec func(*job.Spec)
		want error
	}{
		{"from without ci", func(s *job.Spec) { s.CI = 0; s.From = first }, job.ErrSpec},
		{"from a shard", func(s *job.Spec) { s.From = part }, job.ErrState},
		{"from another job", func(s *job.Spec) { s.From = otherFirst }, job.ErrState},
	} {
		spec := base
		c.spec(&spec)
		if _, err := job.Run(t.Context(), spec); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// Round-2 states of different complete states do not merge, nor do
	// round-1 and round-2 states.
	spec := base
	spec.From, spec.Shard, spec.Shards = first, 0, 2
	j0 := run(t, spec, 1).State
	whole := base
	whole.CI = 0
	spec.From = run(t, whole, 1).State // the same sums, of one run
	spec.Shard = 1
	j1 := run(t, spec, 1).State
	if _, err := job.Merge(j0, j1); err != nil {
		t.Errorf("round 2 from equal states: %v", err)
	}
	bad := *j1
	bad.Stats = part.Stats
	if _, err := job.Merge(j0, &bad); !errors.Is(err, job.ErrState) {
		t.Errorf("round 2 from different states merged: %v", err)
	}
	if _, err := job.Merge(j0, part); !errors.Is(err, job.ErrState) {
		t.Errorf("a state of each round merged: %v", err)
	}
	// A checkpoint of the jackknife pass is not resumed without -ci.
	cp := cancelAfter(t, base, 36+5) // 36 tiles a pass
	if saved, _ := cp.Load(t.Context()); saved.Phase != "jackknife" {
		t.Fatalf("checkpoint of the pass %q", saved.Phase)
	}
	noCI := base
	noCI.CI, noCI.Checkpoint = 0, cp
	if _, err := job.Run(t.Context(), noCI); !errors.Is(err, job.ErrState) {
		t.Errorf("a jackknife checkpoint resumed without -ci: %v", err)
	}
	// A state of the jackknife pass round-trips through its encoding.
	b, err := j0.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var back job.State
	if err := back.UnmarshalBinary(b); err != nil || back.Phase != "jackknife" || back.Part("jackknife") == nil {
		t.Errorf("a jackknife state decoded: %v (pass %q)", err, back.Phase)
	}
}

// permPrint is what must be equal between two runs with -permutations:
// the permutation part's encoding, the jackknife's, and the results.
func permPrint(t *testing.T, st *job.State) string {
	t.Helper()
	if !st.HasPermutations() {
		t.Fatalf("the state (pass %q, done %v) holds no complete permutation pass", st.Phase, st.Done)
	}
	var pb []byte
	for _, kind := range []string{"permutations", "permutations-pdcov", "permutations-matrix"} {
		if p := st.Part(kind); p != nil {
			b, err := p.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			pb = append(pb, b...)
		}
	}
	res, err := st.Results()
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Permutations(&res); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x\n%s\n%s", pb, ciPrint(t, st), resultJSON(t, res))
}

// TestComposePermutations: the permutation tests (after the jackknife)
// of the pair, of the pair given z (independence and pdcov) and of every
// entry of a matrix give the same sums and p-values in memory, under a
// memory budget, from shards in two rounds, and killed in each of the
// three passes and resumed; and a checkpoint or a shard of other
// permutations is refused.
func TestComposePermutations(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			base := m.spec
			base.Options.Tile = 128 // 36 tiles a pass
			base.CI, base.Permutations, base.Seed = 0.9, 9, 5
			ref := run(t, base, 1)
			want := permPrint(t, ref.State)
			if mr := ref.Matrix; mr != nil {
				if mr.Permutations != 9 || mr.Seed != 5 || len(mr.PermP) != 2 || len(mr.PermP[1]) != 2 || ref.State.Part("permutations") != nil {
					t.Fatalf("matrix: %d permutations of seed %d, p-values %v", mr.Permutations, mr.Seed, mr.PermP)
				}
				for _, row := range mr.PermP {
					for _, p := range row {
						if k := p * 10; !(p > 0 && p <= 1) || k != math.Round(k) {
							t.Errorf("matrix p-value %v not on the grid k/10", p)
						}
					}
				}
			} else {
				x := ref.Pair.Extras
				if x.Permutations != 9 || x.Seed != 5 || !(x.PermP > 0 && x.PermP <= 1) || x.BCDCorSE == 0 {
					t.Fatalf("extras %+v", x)
				}
				partial := ref.Pair.Partial != nil
				if partial != (ref.State.Part("permutations-pdcov") != nil) || partial && !(x.PDCorPermP > 0 && x.PDCorPermP <= 1) {
					t.Fatalf("given z %v: pdcov's p-value %v, part %v", partial, x.PDCorPermP, ref.State.Part("permutations-pdcov"))
				}
			}
			partial := ref.Pair != nil && ref.Pair.Partial != nil
			var shardStates []*job.State
			for _, mem := range []int64{0, 256 << 10} {
				spec := base
				spec.Memory = mem
				if got := permPrint(t, run(t, spec, 1).State); got != want {
					t.Errorf("memory %d: differs from the in-memory run", mem)
				}
				first := run(t, spec, 3).State
				spec.From = first
				var states []*job.State
				for i := range 3 {
					spec.Shard, spec.Shards = i, 3
					spec.Memory = []int64{0, 256 << 10}[i%2]
					states = append(states, run(t, spec, 1).State)
				}
				st, err := job.Merge(states...)
				if err != nil {
					t.Fatal(err)
				}
				if got := permPrint(t, st); got != want {
					t.Errorf("memory %d, 3 shards in two rounds: differs from the in-memory run", mem)
				}
				shardStates = states
			}
			// A shard of the second round with other permutations does
			// not merge with the others.
			spec := base
			spec.From, spec.Shard, spec.Shards, spec.Seed = run(t, base, 3).State, 1, 3, 6
			odd := run(t, spec, 1).State
			if _, err := job.Merge(shardStates[0], odd, shardStates[2]); !errors.Is(err, job.ErrState) {
				t.Errorf("shards of seeds 5 and 6 merged: %v", err)
			}
			// Killed in the state pass, the jackknife and the permutations.
			spec = base
			cp := cancelAfter(t, spec, 5)
			spec.Checkpoint, spec.Memory, spec.Options.Workers = cp, 256<<10, 1
			cp = cancelAfter(t, spec, 36-5+7)
			spec.Memory, spec.Options.Workers = 0, 3
			cp = cancelAfter(t, spec, 36-7+20)
			if saved, _ := cp.Load(t.Context()); saved.Phase != "permutations" || partial != (saved.Part("permutations-pdcov") != nil) {
				t.Fatalf("the third checkpoint is of the pass %q, parts %v", saved.Phase, saved.Parts)
			}
			spec.Memory = 256 << 10
			out := run(t, spec, 1)
			if out.Pair != nil {
				out.Pair.Passes = 0 // reported under a budget
			}
			if out.Matrix != nil {
				out.Matrix.Passes = 0
			}
			if got := permPrint(t, out.State); got != want {
				t.Error("killed in each pass and resumed: the state differs from the in-memory run's")
			}
			if got, w := resultJSON(t, out.Results), resultJSON(t, ref.Results); got != w {
				t.Errorf("killed in each pass and resumed:\n%s\nwant\n%s", got, w)
			}
			// Other permutations are not resumed.
			for _, o := range []struct {
				seed uint64
				r    int
			}{{6, 9}, {5, 10}} {
				other := spec
				other.Seed, other.Permutations = o.seed, o.r
				spec.Checkpoint = &memCheckpoint{}
				cp = cancelAfter(t, spec, 36+36+3)
				other.Checkpoint = cp
				if _, err := job.Run(t.Context(), other); !errors.Is(err, job.ErrState) {
					t.Errorf("a checkpoint of 9 permutations of seed 5 resumed with %d of seed %d: %v", o.r, o.seed, err)
				}
			}
		})
	}
}

// TestPermutationsBudget: under -mem, the permutation tests given z hold
// y and z in memory, and a matrix's its column spaces; a z too large for
// the budget (and the slack of one worker's scratch) is refused with
// ErrBudget naming them, before any tile, while the test of x and y alone
// runs.
func TestPermutationsBudget(t *testing.T) {
	dir := t.TempDir()
	const n = 2500
	npy := func(name string, dim int) stream.Spec {
		data := make([]byte, 8*n*dim)
		for i := range n * dim {
			binary.LittleEndian.PutUint64(data[8*i:], math.Float64bits(float64(i%13)-6.5+float64(i)/float64(n*dim)))
		}
		f := filepath.Join(dir, name+".npy")
		writeNpy(t, f, fmt.Sprintf("(%d, %d)", n, dim), data)
		s, err := stream.ParseSpec(f)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	x, y, z := npy("x", 2), npy("y", 2), npy("z", 1024) // z: 20 MB, and as much centred
	spec := job.Spec{Spaces: []stream.Spec{x, y, z}, Permutations: 3, Memory: 16 << 20}
	_, err := job.Run(t.Context(), spec)
	if !errors.Is(err, job.ErrBudget) || !strings.Contains(err.Error(), "spaces y and z in memory") {
		t.Errorf("y and z over the budget: %v, want ErrBudget naming them", err)
	}
	mat := spec
	mat.Labels = []string{"x", "y", "z"}
	mat.Matrix = &job.Matrix{Rows: []int{0}, Cols: []int{1, 2}, Given: job.NoGiven}
	if _, err := job.Run(t.Context(), mat); !errors.Is(err, job.ErrBudget) || !strings.Contains(err.Error(), "column spaces in memory") {
		t.Errorf("a matrix's columns over the budget: %v, want ErrBudget naming them", err)
	}
	spec.Spaces = spec.Spaces[:2]
	if out, err := job.Run(t.Context(), spec); err != nil || out.Pair.Extras == nil || out.Pair.Extras.PermP == 0 {
		t.Errorf("x and y alone: %v", err)
	}
}

// TestMatrixPermutationsArePairs: each entry's permutation p-value of a
// matrix is the pair mode's perm_p_value of its row and column spaces
// (the same permutations of the same seed), for 1 and 2 workers and
// under a memory budget.
func TestMatrixPermutationsArePairs(t *testing.T) {
	names := []string{"model_a", "noise", "label", "model_b"}
	mat := job.Spec{File: activations, Spaces: specs(names...), Labels: names,
		Matrix: &job.Matrix{Rows: []int{0, 1}, Cols: []int{2, 3}, Given: job.NoGiven}, Permutations: 39, Seed: 8}
	mat.Options.Tile = 128
	ref := run(t, mat, 1).Matrix
	spread := false
	for i, x := range []string{"model_a", "noise"} {
		for j, y := range []string{"label", "model_b"} {
			pair := job.Spec{File: activations, Spaces: specs(x, y), Permutations: 39, Seed: 8}
			pair.Options.Tile = 128
			out := run(t, pair, 1)
			if got, want := ref.PermP[i][j], out.Pair.Extras.PermP; got != want {
				t.Errorf("entry %s × %s: p %v, the pair's %v", x, y, got, want)
			}
			spread = spread || ref.PermP[i][j] > 0.1
		}
	}
	if !spread {
		t.Errorf("no entry of noise with p > 0.1: %v", ref.PermP)
	}
	for _, c := range []struct {
		workers int
		mem     int64
	}{{1, 0}, {2, 0}, {2, 256 << 10}} {
		spec := mat
		spec.Options.Workers, spec.Memory = c.workers, c.mem
		if got := run(t, spec, 1).Matrix; fmt.Sprint(got.PermP) != fmt.Sprint(ref.PermP) {
			t.Errorf("%d workers, memory %d: %v, want %v", c.workers, c.mem, got.PermP, ref.PermP)
		}
	}
}
