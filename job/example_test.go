package job_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dcor-stream/dcor-stream/job"
	"github.com/dcor-stream/dcor-stream/stream"
)

// The pair mode: bias-corrected dCor of two spaces of an Arrow file,
// with its t-test, and the partial dCor given a third.
func Example() {
	out, err := job.Run(context.Background(), job.Spec{
		File: "../testdata/activations.arrow",
		Spaces: []stream.Spec{
			{Columns: []string{"model_b"}}, // X
			{Columns: []string{"label"}},   // Y
			{Columns: []string{"model_a"}}, // Z
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	p := out.Pair
	fmt.Printf("n = %d, bcdcor = %.6f (p = %.3g), pdcor given model_a = %.6f\n", p.N, p.BCDCor, p.P, p.Partial.PDCor)
	// Output:
	// n = 1000, bcdcor = 0.123936 (p = 0), pdcor given model_a = -0.004655
}

// A layer matrix: every layer of network A against every block of
// network B, under a memory budget of 1 MiB (the rows are read in passes:
// the result is the in-memory one, to the bit).
func Example_matrixUnderBudget() {
	ctx := context.Background()
	file := "../testdata/networks.arrow"
	spaces, labels, m, err := job.MatrixSpaces(ctx, file, nil,
		[]job.SpaceArg{{Spec: "a_layer[1-3]", Each: true}}, []job.SpaceArg{{Spec: "b_*", Each: true}}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	out, err := job.Run(ctx, job.Spec{File: file, Spaces: spaces, Labels: labels, Matrix: m, Memory: 1 << 20})
	if err != nil {
		fmt.Println(err)
		return
	}
	r := out.Matrix
	fmt.Println("bcdcor", r.Cols)
	for i, row := range r.BCDCor {
		fmt.Printf("%s %.6f\n", r.Rows[i], row)
	}
	fmt.Println(out.Passes, "passes")
	// Output:
	// bcdcor [b_block1 b_block2 b_block3 b_block4]
	// a_layer1 [0.586652 0.560478 0.381367 0.278237]
	// a_layer2 [0.568023 0.635361 0.536877 0.431990]
	// a_layer3 [0.448990 0.671416 0.711359 0.659097]
	// 5 passes
}

// Shards: each shard of the tile grid runs anywhere (here one after the
// other) and writes its state; Merge adds them into the state of the
// whole job, whose results are those of one run, to the bit.
func Example_shards() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "shards")
	defer os.RemoveAll(dir)
	spec := job.Spec{
		File:   "../testdata/activations.arrow",
		Spaces: []stream.Spec{{Columns: []string{"model_a"}}, {Columns: []string{"model_b"}}},
		Shards: 3,
	}
	var states []*job.State
	for i := range spec.Shards {
		spec.Shard = i
		out, err := job.Run(ctx, spec)
		if err != nil {
			fmt.Println(err)
			return
		}
		path := filepath.Join(dir, fmt.Sprintf("shard%d", i))
		f, err := job.OpenStateFile(path, nil)
		if err != nil {
			fmt.Println(err)
			return
		}
		err = f.Save(ctx, out.State)
		f.Close()
		if err != nil {
			fmt.Println(err)
			return
		}
		st, err := job.ReadStateFile(path)
		if err != nil {
			fmt.Println(err)
			return
		}
		states = append(states, st)
	}
	whole, err := job.Merge(states...)
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := whole.Results()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("3 shards merged: bcdcor = %.6f\n", res.Pair.BCDCor)
	// Output:
	// 3 shards merged: bcdcor = 0.666003
}

// A checkpointed run, interrupted (a cancelled context: SIGTERM in the
// command) and resumed: the checkpoint holds every tile added before the
// interruption, and the rerun adds the rest.
func Example_checkpoint() {
	dir, _ := os.MkdirTemp("", "checkpoint")
	defer os.RemoveAll(dir)
	spec := job.Spec{
		File:    "../testdata/activations.arrow",
		Spaces:  []stream.Spec{{Columns: []string{"model_a"}}, {Columns: []string{"noise"}}},
		Options: job.Options{Tile: 64},
	}
	runOnce := func(ctx context.Context, stopAfter int) (*job.Outcome, error) {
		cp, err := job.OpenStateFile(filepath.Join(dir, "ck"), nil)
		if err != nil {
			return nil, err
		}
		defer cp.Close()
		s := spec
		s.Checkpoint = cp
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		s.Progress = func(p job.Progress) {
			if p.Tiles == stopAfter {
				cancel()
			}
		}
		return job.Run(ctx, s)
	}
	_, err := runOnce(context.Background(), 50)
	fmt.Println("interrupted:", errors.Is(err, job.ErrInterrupted))
	out, err := runOnce(context.Background(), -1)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("resumed: %t, bcdcor = %.6f\n", out.Resumed >= 50, out.Pair.BCDCor)
	// Output:
	// interrupted: true
	// resumed: true, bcdcor = -0.000045
}
