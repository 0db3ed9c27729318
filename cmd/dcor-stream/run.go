package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/dcor-stream/dcor-stream/block"
	"github.com/dcor-stream/dcor-stream/estimator"
	"github.com/dcor-stream/dcor-stream/stream"
)

const usageText = `usage: dcor-stream -x SPEC -y SPEC [-z SPEC] [flags] [FILE]

Exact distance correlation (dCor), bias-corrected dCor with its t-test, and
partial dCor (with -z) between two feature spaces of FILE, computed tile by
tile without the n×n distance matrix.

A SPEC is [FILE:]COLUMNS: one list column (a vector per row), one scalar
column, a comma list of scalar columns, or a glob over column names ("x_*";
"*" is every column). A SPEC that names an existing file means all of its
columns. FILE is an Arrow IPC file or stream, a CSV file with a header, or
"-" for an Arrow IPC stream on standard input.

Examples:
  dcor-stream -x model_a -y model_b testdata/activations.arrow
  dcor-stream -format json -x 'x_*' -y 'y_*' -z label data.arrow
  dcor-stream -x acts.arrow:layer4 -y labels.arrow:label

Flags:
`

// usageError is an error in the command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return usageError{fmt.Sprintf(format, args...)}
}

type options struct {
	computeFlags
	x, y, z string
	format  string
	file    string

	shard           string        // "I/N", with state
	state           string        // where -shard writes its state
	checkpoint      string        // checkpoint file, resumed from if present
	checkpointEvery time.Duration // how often the checkpoint is written

	shardIndex, shardCount int // parsed from shard

	memText string // -mem as given
	mem     int64  // -mem in bytes; 0: in memory
	tmpdir  string // where standard input is spilled under -mem
	every   int    // -every: print the running estimate every N rows

	afterPass func(pass int) // tests: called after each pass of -mem
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("dcor-stream", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.x, "x", "", "feature space `SPEC` of X (required)")
	fs.StringVar(&o.y, "y", "", "feature space `SPEC` of Y (required)")
	fs.StringVar(&o.z, "z", "", "feature space `SPEC` of Z: adds partial dCor of X and Y given Z")
	o.computeFlags.register(fs)
	fs.StringVar(&o.format, "format", "text", "output format: text or json")
	fs.StringVar(&o.shard, "shard", "", "compute only shard `I/N` of the tile grid (0 <= I < N) and write its state to -state; combine with 'dcor-stream merge'")
	fs.StringVar(&o.state, "state", "", "`FILE` the state of a -shard run is written to")
	fs.StringVar(&o.checkpoint, "checkpoint", "", "write the state to `FILE` as the run goes, and resume from it if it exists; removed when the run ends")
	fs.DurationVar(&o.checkpointEvery, "checkpoint-every", time.Minute, "how often -checkpoint is written")
	fs.StringVar(&o.memText, "mem", "", "memory budget `SIZE` (64MiB, 8GiB, 512MB, bytes): hold a panel of rows that fits, stream the rest past it, one pass per panel (default: load the data in memory)")
	fs.StringVar(&o.tmpdir, "tmpdir", "", "`DIR` where standard input is spilled for the passes of -mem (default: the system's)")
	fs.IntVar(&o.every, "every", 0, "print the running estimate as one JSON line per `N` new rows, then the result")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, usageError{err.Error()}
	}
	switch fs.NArg() {
	case 0:
	case 1:
		o.file = fs.Arg(0)
	default:
		return o, usagef("more than one FILE: %s", strings.Join(fs.Args(), " "))
	}
	if o.x == "" || o.y == "" {
		return o, usagef("-x and -y are required")
	}
	if err := o.computeFlags.check(); err != nil {
		return o, err
	}
	switch {
	case o.format != "text" && o.format != "json":
		return o, usagef("-format %q: want text or json", o.format)
	case (o.shard == "") != (o.state == ""):
		return o, usagef("-shard and -state go together")
	case o.checkpointEvery < 0:
		return o, usagef("-checkpoint-every %v is negative", o.checkpointEvery)
	}
	if o.shard != "" {
		var err error
		if o.shardIndex, o.shardCount, err = parseShard(o.shard); err != nil {
			return o, err
		}
	}
	if o.memText != "" {
		var err error
		if o.mem, err = parseSize(o.memText); err != nil {
			return o, err
		}
	}
	switch {
	case o.every < 0:
		return o, usagef("-every %d is negative", o.every)
	case (o.mem > 0 || o.every > 0) && o.shard != "":
		return o, usagef("-mem and -every do not combine with -shard")
	case o.every > 0 && o.checkpoint != "":
		return o, usagef("-every does not combine with -checkpoint")
	case o.mem > 0 && o.every > 0:
		return o, usagef("-mem and -every do not combine")
	}
	return o, nil
}

// parseShard parses "I/N" with 0 <= I < N.
func parseShard(s string) (i, n int, err error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return 0, 0, usagef("-shard %q: want I/N with 0 <= I < N", s)
	}
	return i, n, nil
}

// run is the whole command: it returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "matrix":
			return runMatrix(ctx, args[1:], stdin, stdout, stderr)
		case "merge":
			return exitCode(runMerge(args[1:], stdout, stderr), "dcor-stream merge", stderr)
		}
	}
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err == nil {
		err = compute(ctx, o, stdin, stdout, stderr)
	}
	return exitCode(err, "dcor-stream", stderr)
}

// exitCode prints err, prefixed by the command's name ("dcor-stream",
// "dcor-stream matrix"), and returns the exit status it calls for: 0 for
// nil or -h, 2 for a usage error, 1 otherwise.
func exitCode(err error, name string, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(stderr, "%s: %v\n", name, err)
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "run '%s -h' for usage\n", name)
		return 2
	}
	return 1
}

func compute(ctx context.Context, o options, stdin io.Reader, stdout, stderr io.Writer) error {
	names := []string{o.x, o.y}
	if o.z != "" {
		names = append(names, o.z)
	}
	specs := make([]stream.Spec, len(names))
	for i, s := range names {
		sp, err := stream.ParseSpec(s)
		if err != nil {
			return usagef("-%c %q: %v", "xyz"[i], s, err)
		}
		if sp.File == "" && o.file == "" {
			return usagef("-%c %q names no file and no FILE argument is given", "xyz"[i], s)
		}
		specs[i] = sp
	}
	switch {
	case o.mem > 0:
		return computeOutOfCore(ctx, o, specs, stdin, stdout, stderr)
	case o.every > 0:
		return computeOnline(ctx, o, specs, stdin, stdout, stderr)
	}
	tab, err := stream.Load(ctx, o.file, specs, stream.Options{DropInvalid: o.dropInvalid, Stdin: stdin})
	if err != nil {
		return err
	}
	spaces := make([]block.Space, len(tab.Spaces))
	for i, sp := range tab.Spaces {
		spaces[i] = block.Space{Data: sp.Data, Dim: sp.Dim}
	}
	bo := o.blockOptions()
	hdr := newStateHeader(tab, o)
	if o.shard != "" {
		bo.Tiles = block.Shard(tab.N, bo, o.shardIndex, o.shardCount)
		hdr.Shard, hdr.Shards = o.shardIndex, o.shardCount
	}
	hdr.Range = [2]int{bo.Tiles.From, bo.Tiles.To}
	if bo.Tiles == (block.Range{}) {
		hdr.Range = [2]int{0, block.TileCount(tab.N, bo)}
	}
	var save func(*estimator.Stats, int, int) error
	if o.checkpoint != "" {
		if err := resumeCheckpoint(o.checkpoint, hdr, &bo, stderr); err != nil {
			return err
		}
		save = checkpointer(o.checkpoint, o.checkpointEvery, hdr)
	}
	all := block.TileCount(tab.N, bo)
	pairs := float64(tab.N) * float64(tab.N-1) / 2 * float64(hdr.Range[1]-hdr.Range[0]) / float64(max(all, 1))
	if prog := newProgress(stderr, o.quiet, o.progress, pairs); prog != nil {
		prog.base = bo.ResumeDone
		bo.Progress = chain(save, prog.update)
		defer prog.finish()
	} else {
		bo.Progress = save
	}
	st, err := block.Compute(ctx, spaces, bo)
	if err != nil {
		return err
	}
	if o.shard != "" {
		hdr.Done = hdr.Range[1] - hdr.Range[0]
		if err := writeState(o.state, hdr, st); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "dcor-stream: shard %d/%d (tiles %d to %d of %d) written to %s\n",
			o.shardIndex, o.shardCount, hdr.Range[0], hdr.Range[1], block.TileCount(tab.N, bo), o.state)
	} else if err := newReport(hdr, st).write(stdout, o.format); err != nil {
		return err
	}
	if o.checkpoint != "" {
		if err := os.Remove(o.checkpoint); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// newReport makes the report of a whole state described by hdr.
func newReport(hdr *stateHeader, st *estimator.Stats) *report {
	rep := &report{
		spaces:   hdr.spaces(),
		dropped:  hdr.Dropped,
		exponent: hdr.Options.Exponent,
		pair:     st.Pair(0, 1),
	}
	if p := hdr.Options.Precision; p != "" && p != block.Float64.String() {
		rep.precision = p
	}
	if st.K() == 3 {
		p := st.Partial(0, 1, 2)
		rep.partial = &p
	}
	return rep
}

func (r *report) write(w io.Writer, format string) error {
	if format == "json" {
		return r.writeJSON(w)
	}
	return r.writeText(w)
}

// report is what one run prints.
type report struct {
	spaces   []stream.Space
	dropped  int
	exponent float64
	pair     estimator.Result
	partial  *estimator.PartialResult
	// precision is "float32" when the Gram products were computed in
	// float32 (-precision float32); empty for the float64 reference.
	precision string
}
