package job_test

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/dcor-stream/dcor-stream/job"
	"github.com/dcor-stream/dcor-stream/stream"
)

// smallData returns two spaces of n rows, small integers.
func smallData(n int) []stream.Space {
	x := stream.Space{Name: "x", Columns: []string{"x0", "x1"}, Dim: 2}
	y := stream.Space{Name: "y", Columns: []string{"y"}, Dim: 1}
	for i := range n {
		x.Data = append(x.Data, float64(i%7), float64(i*i%5))
		y.Data = append(y.Data, float64((i*3)%11))
	}
	return []stream.Space{x, y}
}

func smallState(t testing.TB, shard, shards int) *job.State {
	out, err := job.Run(t.Context(), job.Spec{Data: smallData(12), Options: job.Options{Tile: 4}, Shard: shard, Shards: shards})
	if err != nil {
		t.Fatal(err)
	}
	return out.State
}

// TestStateBitFlips: every single-bit change of a state file is refused.
func TestStateBitFlips(t *testing.T) {
	for _, shards := range []int{1, 2} {
		b, err := smallState(t, 0, shards).MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var s job.State
		if err := s.UnmarshalBinary(b); err != nil {
			t.Fatalf("state as written: %v", err)
		}
		for i := range 8 * len(b) {
			c := bytes.Clone(b)
			c[i/8] ^= 1 << (i % 8)
			if err := s.UnmarshalBinary(c); !errors.Is(err, job.ErrState) {
				t.Fatalf("bit %d of %d flipped: %v, want ErrState", i, 8*len(b), err)
			}
		}
		for _, cut := range []int{0, 1, 8, 20, len(b) / 2, len(b) - 1} {
			if err := s.UnmarshalBinary(b[:cut]); !errors.Is(err, job.ErrState) {
				t.Errorf("truncated to %d bytes: %v, want ErrState", cut, err)
			}
		}
		t.Logf("%d shards: %d bits flipped, each refused", shards, 8*len(b))
	}
}

// TestOldStates: the state files of dcor-stream before the engine (format
// 1, estimator encoding 3) are refused with a message saying so.
func TestOldStates(t *testing.T) {
	dir := filepath.Join("testdata", "old-states")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b := corpusBytes(t, filepath.Join(dir, e.Name()))
		var s job.State
		err := s.UnmarshalBinary(b)
		if !errors.Is(err, job.ErrState) {
			t.Errorf("%s: %v, want ErrState", e.Name(), err)
		}
		if strings.HasPrefix(e.Name(), "pair-whole") || strings.HasPrefix(e.Name(), "partial-shard") {
			if !errors.Is(err, job.ErrOldState) || !strings.Contains(err.Error(), "earlier dcor-stream") {
				t.Errorf("%s: %v, want ErrOldState saying it is of an earlier dcor-stream", e.Name(), err)
			}
		}
	}
}

// corpusBytes returns the input of a seed corpus file holding one []byte.
func corpusBytes(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lit, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "go test fuzz v1\n[]byte(")
	if !ok || !strings.HasSuffix(lit, ")") {
		t.Fatalf("%s: not a corpus file of one []byte", path)
	}
	s, err := strconv.Unquote(strings.TrimSuffix(lit, ")"))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return []byte(s)
}

// FuzzState: arbitrary bytes as a state file give an error wrapping
// ErrState and leave the receiver unchanged, or a state that round-trips
// to the same bytes.
func FuzzState(f *testing.F) {
	for _, shards := range []int{1, 3} {
		b, err := smallState(f, shards-1, shards).MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	// A state with the parts of -cka.
	cka, err := job.Run(f.Context(), job.Spec{Data: smallData(40), CKA: true, Options: job.Options{Tile: 8}})
	if err != nil {
		f.Fatal(err)
	}
	b, err := cka.State.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	// A state of the permutation pass given z: the parts of both tests.
	data := smallData(20)
	z := stream.Space{Name: "z", Columns: []string{"z"}, Dim: 1}
	for i := range 20 {
		z.Data = append(z.Data, float64(i*i%13))
	}
	perm, err := job.Run(f.Context(), job.Spec{Data: append(data, z), Permutations: 3, Seed: 2, Options: job.Options{Tile: 8}})
	if err != nil {
		f.Fatal(err)
	}
	if perm.State.Part("permutations-pdcov") == nil {
		f.Fatal("no pdcov permutation part")
	}
	if b, err = perm.State.MarshalBinary(); err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	// And of a matrix: the part of its entries.
	mat, err := job.Run(f.Context(), job.Spec{Data: append(smallData(20), z), Permutations: 2, Seed: 3, Options: job.Options{Tile: 8},
		Matrix: &job.Matrix{Rows: []int{0}, Cols: []int{1, 2}, Given: job.NoGiven}})
	if err != nil {
		f.Fatal(err)
	}
	if mat.State.Part("permutations-matrix") == nil {
		f.Fatal("no matrix permutation part")
	}
	if b, err = mat.State.MarshalBinary(); err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var s job.State
		if err := s.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, job.ErrState) {
				t.Fatalf("error wraps no ErrState: %v", err)
			}
			if s.Stats != nil || s.N != 0 {
				t.Fatalf("receiver changed on error")
			}
			return
		}
		again, err := s.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("accepted state does not round-trip")
		}
	})
}

// TestFingerprintEveryValue: one value changed anywhere (by one ulp)
// changes the fingerprint; merge and resume refuse the changed input.
func TestFingerprintEveryValue(t *testing.T) {
	const n = 40
	spec := job.Spec{Data: smallData(n), Options: job.Options{Tile: 8}}
	base := run(t, spec, 1).State
	for k := range 2 {
		for i := range len(spec.Data[k].Data) {
			data := smallData(n)
			data[k].Data[i] = math.Nextafter(data[k].Data[i], math.Inf(1))
			other := spec
			other.Data = data
			other.Shard, other.Shards = 1, 2
			out, err := job.Run(t.Context(), other)
			if err != nil {
				t.Fatal(err)
			}
			if out.State.Fingerprint == base.Fingerprint {
				t.Fatalf("space %d value %d changed: same fingerprint", k, i)
			}
			spec0 := spec
			spec0.Shard, spec0.Shards = 0, 2
			_, err = job.Merge(run(t, spec0, 1).State, out.State)
			if !errors.Is(err, job.ErrState) || !strings.Contains(err.Error(), "input data differ") {
				t.Fatalf("merge of shards of changed data: %v", err)
			}
		}
	}
	// Resume on changed data.
	cp := interrupted(t, job.Spec{Data: smallData(n), Options: job.Options{Tile: 8, Workers: 1}}, 3)
	data := smallData(n)
	data[1].Data[n-1]++
	_, err := job.Run(t.Context(), job.Spec{Data: data, Options: job.Options{Tile: 8}, Checkpoint: cp})
	if !errors.Is(err, job.ErrState) || !strings.Contains(err.Error(), "cannot be resumed") {
		t.Errorf("resume on changed data: %v", err)
	}
}

// TestMergeSaysWhich: merge names the option that differs; -tile 256 is
// the default.
func TestMergeSaysWhich(t *testing.T) {
	a := smallState(t, 0, 2)
	for _, tc := range []struct {
		opts job.Options
		want string
	}{
		{job.Options{Tile: 4, Exponent: 0.5}, "-exponent differs: 1 and 0.5"},
		{job.Options{Tile: 8}, "-tile differs: 4 and 8"},
		{job.Options{Tile: 4, NormalizeRows: true}, "-normalize-rows differs"},
	} {
		out, err := job.Run(t.Context(), job.Spec{Data: smallData(12), Options: tc.opts, Shard: 1, Shards: 2})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := job.Merge(a, out.State); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.opts, err, tc.want)
		}
	}
	def := run(t, job.Spec{Data: smallData(300)}, 1).State
	tile := run(t, job.Spec{Data: smallData(300), Options: job.Options{Tile: 256}}, 1).State
	if err := job.Compatible(&def.Header, &tile.Header); err != nil {
		t.Errorf("-tile 256 and the default: %v", err)
	}
}

// TestStateFile: a state file never overwrites a file that is not a
// state, nor an input; a second writer is refused while the first holds
// it; temporary files of a killed run are removed.
func TestStateFile(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data.csv")
	os.WriteFile(data, []byte("a,b\n1,2\n"), 0o644)
	if _, err := job.OpenStateFile(data, nil); !errors.Is(err, job.ErrState) {
		t.Errorf("a CSV file as the state: %v, want ErrState", err)
	}
	st := filepath.Join(dir, "st")
	if _, err := job.OpenStateFile(data, []string{data}); err == nil || !strings.Contains(err.Error(), "input") {
		t.Errorf("the input as the state: %v", err)
	}
	stale := st + ".tmp-123"
	os.WriteFile(stale, []byte("partial"), 0o644)
	f, err := job.OpenStateFile(st, []string{data})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale temporary file not removed: %v", err)
	}
	if _, err := job.OpenStateFile(st, nil); !errors.Is(err, job.ErrBusy) {
		t.Errorf("a second writer: %v, want ErrBusy", err)
	}
	if err := f.Save(t.Context(), smallState(t, 0, 1)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	g, err := job.OpenStateFile(st, nil)
	if err != nil {
		t.Fatalf("after Close: %v", err)
	}
	s, err := g.Load(t.Context())
	if err != nil || s == nil || !s.Whole() {
		t.Errorf("Load = %v, %v", s, err)
	}
	g.Close()
}
