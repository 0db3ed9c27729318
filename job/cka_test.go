package job_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dcor-stream/dcor-stream/job"
	"github.com/dcor-stream/dcor-stream/stream"
)

// ckaOf returns the linear CKA statistics of a whole job's results, and
// fails if there are none.
func ckaOf(t *testing.T, out *job.Outcome) string {
	t.Helper()
	res, err := out.State.Results()
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case res.Pair != nil && res.Pair.Extras != nil && res.Pair.Extras.CKA:
		x := res.Pair.Extras
		return job.Number(x.CKALinear) + " " + job.Number(x.HSICLinU)
	case res.Matrix != nil && res.Matrix.CKALinear != nil:
		var b strings.Builder
		for _, row := range res.Matrix.CKALinear {
			for _, v := range row {
				b.WriteString(job.Number(v) + " ")
			}
		}
		return b.String()
	}
	t.Fatal("no linear CKA in the results")
	return ""
}

// TestComposeCKA: with -cka, {pair, partial, matrix with given} × {in
// memory, under a memory budget} × {whole, 3 shards merged} × {killed
// twice and resumed under other schedules and workers} all give the bits
// of the one in-memory run, linear CKA and HSIC included (the results'
// JSON holds them); each shard's state holds the part, and the state
// files round-trip it.
func TestComposeCKA(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			base := m.spec
			base.CKA = true
			base.Options.Tile = 64
			one := run(t, base, 1)
			want, cka := fingerprintOf(t, one), ckaOf(t, one)
			plain := m.spec
			plain.Options.Tile = 64
			if got := fingerprintOf(t, run(t, plain, 1)); got == want {
				t.Fatal("the results with -cka are those without")
			}
			for _, mem := range []int64{0, 64 << 10} {
				for _, shards := range []int{1, 3} {
					spec := base
					spec.Memory = mem
					out := run(t, spec, shards)
					if got := fingerprintOf(t, out); got != want {
						t.Errorf("memory %d, %d shards: differs from the in-memory run (cka %s, want %s)", mem, shards, ckaOf(t, out), cka)
					}
				}
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
				if got := fingerprintOf(t, out); got != want {
					t.Errorf("memory %d, killed twice and resumed: differs from the in-memory run", mem)
				}
			}
			// Shard 1 of 3, killed and resumed, then merged through state
			// files with the others.
			spec := base
			spec.Shard, spec.Shards = 1, 3
			cp := interrupted(t, spec, 5)
			spec.Checkpoint = cp
			mid, err := job.Run(t.Context(), spec)
			if err != nil {
				t.Fatal(err)
			}
			var states []*job.State
			for i, st := range []*job.State{run(t, withShard(base, 0, 3), 1).State, mid.State, run(t, withShard(base, 2, 3), 1).State} {
				if len(st.Parts) != 2 || st.Part("cka-linear") == nil || st.Part("cka-rbf") == nil {
					t.Fatalf("shard %d holds the parts %v", i, st.Parts)
				}
				b, err := st.MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
				var r job.State
				if err := r.UnmarshalBinary(b); err != nil {
					t.Fatal(err)
				}
				states = append(states, &r)
			}
			st, err := job.Merge(states...)
			if err != nil {
				t.Fatal(err)
			}
			if got := fingerprintOf(t, &job.Outcome{State: st}); got != want {
				t.Error("3 shards through state files, one killed and resumed: differ from the in-memory run")
			}
			// A shard without -cka does not merge with shards with it, and
			// a checkpoint of a run without -cka is not resumed with it.
			if _, err := job.Merge(states[0], states[1], run(t, withShard(plain, 2, 3), 1).State); err == nil {
				t.Error("shards with and without -cka merged")
			}
			spec = plain
			cp = interrupted(t, spec, 3)
			spec.CKA, spec.Checkpoint = true, cp
			if _, err := job.Run(t.Context(), spec); err == nil || !strings.Contains(err.Error(), "parts") {
				t.Errorf("a checkpoint without -cka resumed with it: %v", err)
			}
		})
	}
}

func withShard(s job.Spec, i, n int) job.Spec {
	s.Shard, s.Shards = i, n
	return s
}

// TestUnivariateCKA: on the univariate path too (auto takes it: -cka does
// not turn an O(n log n) job into O(n²)), -cka gives linear CKA with the
// same bits in memory, under a budget and in shards, and says that it
// leaves RBF CKA out.
func TestUnivariateCKA(t *testing.T) {
	base := job.Spec{File: univariateCSV(t, 12000), Spaces: specs("x", "y"), CKA: true}
	var notes []string
	base.Notify = func(s string) { notes = append(notes, s) }
	one := run(t, base, 1)
	want := fingerprintOf(t, one)
	if all := strings.Join(notes, "\n"); !strings.Contains(all, "O(n log n)") || !strings.Contains(all, "cka_rbf left out") {
		t.Fatalf("notes %q, want the univariate path without RBF CKA", notes)
	}
	if x := one.Pair.Extras; x == nil || !x.CKA || x.RBF || !(x.CKALinear > 0 && x.CKALinear < 1) {
		t.Fatalf("extras %+v", one.Pair.Extras)
	}
	for _, c := range []struct {
		mem    int64
		shards int
	}{{64 << 20, 1}, {0, 3}, {64 << 20, 4}} {
		spec := base
		spec.Memory = c.mem
		if got := fingerprintOf(t, run(t, spec, c.shards)); got != want {
			t.Errorf("memory %d, %d shards: differs from the in-memory run", c.mem, c.shards)
		}
	}
}

// TestCKABudget: under -mem, linear CKA sums larger than the budget (and
// the slack of one worker's scratch) are refused with ErrBudget, before
// any tile.
func TestCKABudget(t *testing.T) {
	dir := t.TempDir()
	const n, dim = 10, 2048
	data := make([]byte, 8*n*dim)
	for i := range n * dim {
		binary.LittleEndian.PutUint64(data[8*i:], math.Float64bits(float64(i%13)-6.5+float64(i)/float64(n*dim)))
	}
	x, y := filepath.Join(dir, "x.npy"), filepath.Join(dir, "y.npy")
	writeNpy(t, x, fmt.Sprintf("(%d, %d)", n, dim), data)
	writeNpy(t, y, fmt.Sprintf("(%d, %d)", n, dim), data)
	var sp []stream.Spec
	for _, f := range []string{x, y} {
		s, err := stream.ParseSpec(f)
		if err != nil {
			t.Fatal(err)
		}
		sp = append(sp, s)
	}
	spec := job.Spec{Spaces: sp, CKA: true, Memory: 64 << 20}
	_, err := job.Run(t.Context(), spec)
	if !errors.Is(err, job.ErrBudget) || !strings.Contains(err.Error(), "-cka") {
		t.Errorf("CKA sums over the budget: %v, want ErrBudget naming -cka", err)
	}
	spec.CKA = false
	if _, err := job.Run(t.Context(), spec); err != nil {
		t.Errorf("without -cka: %v", err)
	}
}

// roundsPrint is what must be equal between runs with -cka and the passes
// after the state: the encodings of the state and of every part, and the
// results' JSON with the intervals and p-values (every field, CKA's
// included), one line each, the JSON last.
func roundsPrint(t *testing.T, st *job.State) string {
	t.Helper()
	b, err := st.Stats.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	out := fmt.Sprintf("stats %x\n", b)
	for _, kind := range []string{"cka-linear", "cka-rbf", "jackknife", "permutations", "permutations-pdcov", "permutations-matrix"} {
		if p := st.Part(kind); p != nil {
			pb, err := p.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			out += fmt.Sprintf("%s %x\n", kind, pb)
		}
	}
	res, err := st.Results()
	if err != nil {
		t.Fatal(err)
	}
	if st.HasIntervals() {
		if err := st.Intervals(&res, 0.9); err != nil {
			t.Fatal(err)
		}
	}
	if st.HasPermutations() {
		if err := st.Permutations(&res); err != nil {
			t.Fatal(err)
		}
	}
	if res.Pair != nil {
		res.Pair.Passes = 0 // reported under a budget
	}
	if res.Matrix != nil {
		res.Matrix.Passes = 0
	}
	return out + resultJSON(t, res)
}

// TestCKARounds: -cka with -ci, with -permutations and with both, in the
// pair, partial and matrix modes, from 3 shards in two rounds (in memory
// and under a budget, a shard of round 2 killed and resumed) gives every
// statistic of the one-process run to the bit, the RBF kernel's included
// (the second round once printed cka_rbf 0: no shard of it carried the
// kernel sums of the first).
func TestCKARounds(t *testing.T) {
	passes := []struct {
		name  string
		ci    float64
		perms int
	}{
		{"ci", 0.9, 0},
		{"permutations", 0, 7},
		{"ci+permutations", 0.9, 7},
	}
	for _, m := range modes {
		for _, ps := range passes {
			t.Run(m.name+"/"+ps.name, func(t *testing.T) {
				base := m.spec
				base.CKA = true
				base.Options.Tile = 128
				base.CI, base.Permutations, base.Seed = ps.ci, ps.perms, 3
				one := run(t, base, 1)
				want := roundsPrint(t, one.State)
				if !strings.Contains(want, `"cka_rbf":`) || strings.Contains(want, `"cka_rbf":0,`) || strings.Contains(want, `"cka_rbf":[[0,`) {
					t.Fatalf("one process: no RBF CKA in\n%s", want)
				}
				for _, mem := range []int64{0, 256 << 10} {
					spec := base
					spec.Memory = mem
					first := run(t, spec, 3).State
					spec.From = first
					var states []*job.State
					for i := range 3 {
						spec.Shard, spec.Shards = i, 3
						spec.Memory = []int64{mem, 256<<10 - mem}[i%2]
						states = append(states, run(t, spec, 1).State)
					}
					st, err := job.Merge(states...)
					if err != nil {
						t.Fatal(err)
					}
					if got := roundsPrint(t, st); got != want {
						t.Errorf("memory %d, 3 shards in two rounds: %s", mem, printDiff(got, want))
					}
				}
				// Shard 0 of round 2 (the one whose parts carry the sums
				// of the first round) killed, resumed, merged through state
				// files.
				first := run(t, base, 3).State
				spec := base
				spec.From, spec.Shard, spec.Shards = first, 0, 3
				cp := cancelAfter(t, spec, 5)
				resumed := spec
				resumed.Checkpoint, resumed.Options.Workers = cp, 1
				states := []*job.State{run(t, resumed, 1).State}
				for _, i := range []int{2, 1} {
					states = append(states, run(t, withShard(spec, i, 3), 1).State)
				}
				for i, s := range states {
					b, err := s.MarshalBinary()
					if err != nil {
						t.Fatal(err)
					}
					var r job.State
					if err := r.UnmarshalBinary(b); err != nil {
						t.Fatal(err)
					}
					states[i] = &r
				}
				st, err := job.Merge(states...)
				if err != nil {
					t.Fatal(err)
				}
				if got := roundsPrint(t, st); got != want {
					t.Errorf("round 2 with shard 0 killed and resumed: %s", printDiff(got, want))
				}
			})
		}
	}
}

// printDiff names the lines of roundsPrint that differ (the encodings by
// their kind) and shows the results' JSON of both.
func printDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	var diff []string
	for i := range max(len(g), len(w)) {
		if i >= len(g) || i >= len(w) || g[i] != w[i] {
			label := "results"
			if i < len(g)-1 {
				label = strings.Fields(g[i] + " ?")[0]
			}
			diff = append(diff, label)
		}
	}
	return fmt.Sprintf("lines %v differ; results\n%s\nwant\n%s", diff, g[len(g)-1], w[len(w)-1])
}

// TestRBFUnderflowFlagged: a bandwidth so small that every value of the
// Gaussian kernel underflows float64 gives no RBF CKA number: cka_rbf and
// hsic_rbf_u 0 with the flag rbf_underflow, in the pair and in every
// entry of a matrix of that space (it once printed 0, unflagged, where
// the value is 0.0014), and the other statistics as without it.
func TestRBFUnderflowFlagged(t *testing.T) {
	for _, m := range []int{0, 2} { // the pair, the matrix given a space
		spec := modes[m].spec
		spec.CKA = true
		spec.Options.Tile = 256
		ok := run(t, spec, 1)
		spec.RBFSigma = []float64{1e-9}
		out := run(t, spec, 1)
		if p := out.Pair; p != nil {
			x := p.Extras
			if !x.RBFUnknown || x.CKARBF != 0 || x.HSICRBFU != 0 || !slices.Contains(p.FlagNames(), job.RBFUnderflow) {
				t.Errorf("pair, σ_x = 1e-9: cka_rbf %v hsic_rbf_u %v, flags %v", x.CKARBF, x.HSICRBFU, p.FlagNames())
			}
			if ok.Pair.Extras.RBFUnknown || slices.Contains(ok.Pair.FlagNames(), job.RBFUnderflow) || ok.Pair.BCDCor != p.BCDCor {
				t.Errorf("pair: the median heuristic flagged, or bcdcor moved: %v, %v", ok.Pair.FlagNames(), p.BCDCor)
			}
			continue
		}
		mr := out.Matrix
		for i := range mr.Rows {
			for j := range mr.Cols {
				// Space 0 (a_layer1) is row 0.
				want := i == 0
				if got := slices.Contains(mr.EntryFlags(i, j), job.RBFUnderflow); got != want || want && mr.CKARBF[i][j] != 0 {
					t.Errorf("matrix entry (%d, %d): flags %v, cka_rbf %v; want the flag %v", i, j, mr.EntryFlags(i, j), mr.CKARBF[i][j], want)
				}
			}
		}
		if len(mr.Flagged()) != len(mr.Cols) || len(ok.Matrix.Flagged()) != 0 {
			t.Errorf("matrix: flagged entries %v, without the tiny σ %v", mr.Flagged(), ok.Matrix.Flagged())
		}
	}
}
