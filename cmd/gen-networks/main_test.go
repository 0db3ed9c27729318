package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestShippedExample checks that testdata/networks.arrow, the example of
// the README's layer × layer section, is what the generator writes with
// its default flags, so that the file and the code that documents it
// cannot drift apart.
func TestShippedExample(t *testing.T) {
	out := filepath.Join(t.TempDir(), "n.arrow")
	if err := write(out, 1000, 250, 1); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("..", "..", "testdata", "networks.arrow"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("generator output (%d bytes) differs from testdata/networks.arrow (%d bytes): rerun go run ./cmd/gen-networks", len(got), len(want))
	}
}
