package main

import (
	"context"
	"fmt"
	"io"

	"github.com/dcor-stream/dcor-stream/job"
)

const mergeUsage = `usage: dcor-stream merge [-format text|json|csv] [-heatmap FILE] [-state FILE] [-ci-level LEVEL] STATE...

Adds the states written by 'dcor-stream [matrix] -shard I/N -state FILE …'
and prints the statistics of the whole sample, exactly as one run would (to
the last bit): the pair mode's output, or the matrix command's. The states
must be the N shards 0..N-1 of the same inputs and options, each complete
and each once; merge says which shard is missing, duplicated or
incomplete, and which option or input differs.

-ci and -permutations on shards take two rounds (docs/sharding.md): merge
the states of the first round with -state FILE, run every shard again with
the same flags and -from FILE, and merge those states: the output then has
the intervals and the permutation p-value.

Flags:
`

// runMerge is 'dcor-stream merge'.
func runMerge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dcor-stream merge", mergeUsage, stderr)
	format := fs.String("format", "text", "output format: text, json, or csv (matrix states)")
	heatmap := fs.String("heatmap", "", "matrix states: also draw the matrix as a heatmap to `FILE`.png or FILE.svg")
	heatmapStat := fs.String("heatmap-stat", "bcdcor", "statistic of the heatmap: bcdcor, dcor, pdcor or semi_partial")
	statePath := fs.String("state", "", "also write the merged state to `FILE` (the -from of the second round of -ci and -permutations)")
	level := fs.Float64("ci-level", 0.95, "confidence `LEVEL` of the intervals of merged -ci states")
	var contrasts []string
	fs.Func("compare", "matrix states of -ci: print bcdcor[A] − bcdcor[B] with its SE and interval, for `ROW,COL-ROW,COL`; repeatable", func(s string) error {
		contrasts = append(contrasts, s)
		return nil
	})
	files, err := parse(fs, args, true)
	if err != nil {
		return err
	}
	if *format != "text" && *format != "json" && *format != "csv" {
		return usagef("-format %q: want text, json or csv", *format)
	}
	if err := checkHeatmap(*heatmap); err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("merge needs the state files of the shards")
	}
	if !(*level > 0 && *level < 1) {
		return usagef("-ci-level %v is outside (0, 1)", *level)
	}
	var out *job.StateFile
	if *statePath != "" {
		if out, err = job.OpenStateFile(*statePath, files); err != nil {
			return err
		}
		defer out.Close()
	}
	states := make([]*job.State, len(files))
	for i, p := range files {
		s, err := job.ReadStateFile(p)
		if err != nil {
			return err
		}
		if s == nil {
			return fmt.Errorf("%s: an empty file, not a state: %w", p, job.ErrState)
		}
		states[i] = s
	}
	total, err := job.Merge(states...)
	if err != nil {
		return err
	}
	if out != nil {
		if err := out.Save(context.Background(), total); err != nil {
			return err
		}
	}
	res, err := total.ResultsContext(ctx)
	if err != nil {
		return err
	}
	if total.HasIntervals() {
		if err := total.Intervals(&res, *level); err != nil {
			return err
		}
	}
	if total.HasPermutations() {
		if err := total.Permutations(&res); err != nil {
			return err
		}
	}
	if res.Matrix != nil {
		if err := res.Matrix.AddContrasts(contrasts); err != nil {
			return err
		}
		return writeMatrix(stdout, res.Matrix, *format, *heatmap, *heatmapStat)
	}
	if *format == "csv" || *heatmap != "" || len(contrasts) > 0 {
		return usagef("-format csv, -heatmap and -compare are for matrix states")
	}
	return writePair(stdout, res.Pair, *format)
}
