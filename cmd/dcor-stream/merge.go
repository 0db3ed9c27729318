package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/dcor-stream/dcor-stream/block"
	"github.com/dcor-stream/dcor-stream/estimator"
)

const mergeUsage = `usage: dcor-stream merge [-format text|json] STATE...

Adds the states written by 'dcor-stream -shard I/N -state FILE …' and prints
the statistics of the whole sample, exactly as one run would (to the last
bit). The states must be the N shards 0..N-1 of the same inputs and options,
each complete and each once.

Flags:
`

// runMerge is 'dcor-stream merge'.
func runMerge(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dcor-stream merge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, mergeUsage)
		fs.PrintDefaults()
	}
	format := fs.String("format", "text", "output format: text or json")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if *format != "text" && *format != "json" {
		return usagef("-format %q: want text or json", *format)
	}
	if fs.NArg() == 0 {
		return usagef("merge needs the state files of the shards")
	}
	hdr, st, err := mergeStates(fs.Args())
	if err != nil {
		return err
	}
	return newReport(hdr, st).write(stdout, *format)
}

// mergeStates reads and checks the shard states and returns their sum.
func mergeStates(paths []string) (*stateHeader, *estimator.Stats, error) {
	var first *stateHeader
	var total estimator.Stats
	seen := map[int]string{}
	for _, p := range paths {
		h, st, err := readState(p)
		if err != nil {
			return nil, nil, err
		}
		if first == nil {
			first = h
		} else if h.Fingerprint != first.Fingerprint || h.N != first.N || h.Options != first.Options || h.Shards != first.Shards {
			return nil, nil, fmt.Errorf("%s and %s are not shards of the same run (inputs, options or shard count differ): %w", paths[0], p, errState)
		}
		if prev, dup := seen[h.Shard]; dup {
			return nil, nil, fmt.Errorf("%s and %s are both shard %d/%d: %w", prev, p, h.Shard, h.Shards, errState)
		}
		seen[h.Shard] = p
		want := block.Shard(h.N, block.Options{TileSize: h.Options.Tile}, h.Shard, h.Shards)
		if h.Range != [2]int{want.From, want.To} {
			return nil, nil, fmt.Errorf("%s: shard %d/%d covers tiles %v, want [%d %d]: %w", p, h.Shard, h.Shards, h.Range, want.From, want.To, errState)
		}
		if h.Panel != nil {
			return nil, nil, fmt.Errorf("%s: a checkpoint of a -mem run, not a shard: %w", p, errState)
		}
		if h.Done != h.Range[1]-h.Range[0] {
			return nil, nil, fmt.Errorf("%s: shard %d/%d is incomplete (%d of %d tiles): %w", p, h.Shard, h.Shards, h.Done, h.Range[1]-h.Range[0], errState)
		}
		if err := total.Merge(st); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", p, err)
		}
	}
	var missing []int
	for i := range first.Shards {
		if _, ok := seen[i]; !ok {
			missing = append(missing, i)
		}
	}
	if len(missing) > 0 {
		return nil, nil, fmt.Errorf("missing shards %v of %d: %w", missing, first.Shards, errState)
	}
	return first, &total, nil
}
