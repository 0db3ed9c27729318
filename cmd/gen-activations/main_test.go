package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestShippedExample checks that testdata/activations.arrow, the README's
// example, is what the generator writes with its default flags, so that
// the file and the code that documents it cannot drift apart.
func TestShippedExample(t *testing.T) {
	out := filepath.Join(t.TempDir(), "a.arrow")
	if err := write(out, 1000, 256, 1); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("..", "..", "testdata", "activations.arrow"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("generator output (%d bytes) differs from testdata/activations.arrow (%d bytes): rerun go run ./cmd/gen-activations", len(got), len(want))
	}
}
