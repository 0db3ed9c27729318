package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/dcor-stream/dcor-stream/block"
	"github.com/dcor-stream/dcor-stream/estimator"
)

// FuzzReadState feeds arbitrary bytes, as a state file, to readState.
// Invariants:
//
//   - no panic, and an error wraps errState (the estimator's decoding
//     errors are reported through it) and names the file;
//   - a state it accepts is one that merge and resume can use: its shard
//     is one block.Shard accepts, and its report prints without a panic;
//   - a state it accepts round-trips: writeState of it, read back, gives
//     an equal header and state, and writing that again gives the same
//     bytes.
//
// The seeds are the states of small runs (two and three spaces, whole and
// sharded, complete and checkpointed part-way) in
// testdata/fuzz/FuzzReadState, damaged copies and regressions, and the
// empty states below.
func FuzzReadState(f *testing.F) {
	dir := f.TempDir()
	for i, k := range []int{2, 3} {
		path := filepath.Join(dir, "seed")
		hdr := &stateHeader{
			Version:     1,
			Fingerprint: strings.Repeat("0f", 32),
			Options:     stateOptions{Exponent: 1, Tile: 2},
			N:           5,
			Shards:      1,
			Range:       [2]int{0, 6},
		}
		for j := range k {
			hdr.Spaces = append(hdr.Spaces, stateSpace{Name: string(rune('x' + j)), Columns: []string{"c"}, Dim: 1 + i})
		}
		if err := writeState(path, hdr, estimator.New(k, 5, 1, make([]float64, k), nil)); err != nil {
			f.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "state")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		hdr, st, err := readState(path)
		if err != nil {
			if !errors.Is(err, errState) {
				t.Fatalf("readState error wraps no sentinel: %v", err)
			}
			if !strings.HasPrefix(err.Error(), path+": ") {
				t.Fatalf("readState error does not name the file: %v", err)
			}
			return
		}

		// Usable: what merge and resume do with a state.
		block.Shard(hdr.N, block.Options{TileSize: hdr.Options.Tile}, hdr.Shard, hdr.Shards)
		rep := newReport(hdr, st)
		for _, format := range []string{"text", "json"} {
			if err := rep.write(io.Discard, format); err != nil {
				t.Fatalf("report (%s): %v", format, err)
			}
		}

		// Round trip.
		again := filepath.Join(dir, "again")
		if err := writeState(again, hdr, st); err != nil {
			t.Fatalf("writeState of a state readState accepted: %v", err)
		}
		first, err := os.ReadFile(again)
		if err != nil {
			t.Fatal(err)
		}
		hdr2, st2, err := readState(again)
		if err != nil {
			t.Fatalf("readState of a state writeState wrote: %v", err)
		}
		if !reflect.DeepEqual(hdr2, hdr) {
			t.Fatalf("header %+v, read back as %+v", hdr, hdr2)
		}
		enc, _ := st.MarshalBinary()
		enc2, _ := st2.MarshalBinary()
		if !bytes.Equal(enc, enc2) {
			t.Fatal("the estimator state does not round-trip")
		}
		if err := writeState(again, hdr2, st2); err != nil {
			t.Fatal(err)
		}
		second, err := os.ReadFile(again)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, second) {
			t.Fatalf("writing a state read back gives other bytes:\n%q\n%q", first, second)
		}
	})
}

// TestReadStateCorpus reads the seed corpus of FuzzReadState. Its states
// were written with version 3 of the estimator encoding, whose fixed-point
// sums were not exact over the whole float64 range: each is refused with
// errState and a message saying so (and the damaged ones for their damage
// where that is found first).
func TestReadStateCorpus(t *testing.T) {
	const old = "version 3, written by an earlier dcor-stream"
	for _, tt := range []struct {
		name string
		want string
	}{
		{"pair-whole", old},
		{"partial-shard-1-of-3", old},
		{"pair-checkpoint-2-tiles", old},
		{"pair-truncated", old},
		{"pair-header-too-long", "truncated header"},
		{"pair-version-2", "state version 2"},
		{"pair-n-disagrees", old},
		{"regression-one-space", old},
		{"regression-four-spaces", old},
		{"regression-shard-0-of-0", old},
		{"regression-shard-past-count", old},
		{"regression-tiles-overflow", old},
		{"regression-tiles-past-grid", old},
		{"regression-negative-tile", old},
		{"regression-exponent-disagrees", old},
		{"regression-negative-dropped", old},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := corpusBytes(t, filepath.Join("testdata", "fuzz", "FuzzReadState", tt.name))
			path := filepath.Join(t.TempDir(), tt.name)
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, _, err := readState(path)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("readState = %v, want a state", err)
			case tt.want != "" && (!errors.Is(err, errState) || !strings.Contains(fmt.Sprint(err), tt.want)):
				t.Errorf("readState = %v, want errState saying %q", err, tt.want)
			}
		})
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
