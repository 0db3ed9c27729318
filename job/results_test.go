package job_test

import (
	"context"
	"errors"
	"testing"

	"github.com/dcor-stream/dcor-stream/job"
)

// TestResultsCancelled: the results of a matrix (K² pairs from exact
// sums, seconds for K in the thousands) honour a cancellation: a done
// context makes ResultsContext return its error, and a run cancelled
// after its last tile returns ErrInterrupted with every tile in its
// checkpoint, which the run again resumes to the results of one run.
func TestResultsCancelled(t *testing.T) {
	spec := modes[2].spec // the matrix given a space
	spec.CKA = true
	spec.Options.Tile = 256
	one := run(t, spec, 1)
	want := roundsPrint(t, one.State)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := one.State.ResultsContext(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("ResultsContext with a cancelled context: %v, want context.Canceled", err)
	}
	cp := &memCheckpoint{}
	spec.Checkpoint, spec.CheckpointEvery = cp, 1<<62
	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	spec.Progress = func(p job.Progress) {
		if p.Tiles == p.TotalTiles {
			cancel()
		}
	}
	if _, err := job.Run(ctx, spec); !errors.Is(err, job.ErrInterrupted) {
		t.Fatalf("cancelled after the last tile: %v, want ErrInterrupted", err)
	}
	saved, err := cp.Load(t.Context())
	if err != nil || saved == nil || !saved.Complete() {
		t.Fatalf("the checkpoint after the last tile: %v, complete %v", err, saved != nil && saved.Complete())
	}
	spec.Progress = nil
	out, err := job.Run(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if got := roundsPrint(t, out.State); got != want {
		t.Errorf("resumed after the last tile: %s", printDiff(got, want))
	}
}
