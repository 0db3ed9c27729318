package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"strings"

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
	x, y, z     string
	exponent    float64
	workers     int
	tile        int
	format      string
	dropInvalid bool
	file        string
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
	fs.Float64Var(&o.exponent, "exponent", 1, "exponent α in (0, 2] on the Euclidean distances")
	fs.IntVar(&o.workers, "workers", runtime.GOMAXPROCS(0), "number of tile workers")
	fs.IntVar(&o.tile, "tile", 0, "tile size in rows (0: the default)")
	fs.StringVar(&o.format, "format", "text", "output format: text or json")
	fs.BoolVar(&o.dropInvalid, "drop-invalid", false, "drop rows with a null, NaN or Inf in any space (jointly) instead of failing")
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
	switch {
	case o.x == "" || o.y == "":
		return o, usagef("-x and -y are required")
	case !(o.exponent > 0 && o.exponent <= 2):
		return o, usagef("-exponent %v is outside (0, 2]", o.exponent)
	case o.workers < 1:
		return o, usagef("-workers %d: need at least 1", o.workers)
	case o.tile < 0:
		return o, usagef("-tile %d is negative", o.tile)
	case o.format != "text" && o.format != "json":
		return o, usagef("-format %q: want text or json", o.format)
	}
	return o, nil
}

// run is the whole command: it returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "matrix" {
		return runMatrix(ctx, args[1:], stdin, stdout, stderr)
	}
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err == nil {
		err = compute(ctx, o, stdin, stdout)
	}
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "dcor-stream: %v\n", err)
		fmt.Fprintln(stderr, "run 'dcor-stream -h' for usage")
		return 2
	default:
		fmt.Fprintf(stderr, "dcor-stream: %v\n", err)
		return 1
	}
}

func compute(ctx context.Context, o options, stdin io.Reader, stdout io.Writer) error {
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
	tab, err := stream.Load(ctx, o.file, specs, stream.Options{DropInvalid: o.dropInvalid, Stdin: stdin})
	if err != nil {
		return err
	}
	spaces := make([]block.Space, len(tab.Spaces))
	for i, sp := range tab.Spaces {
		spaces[i] = block.Space{Data: sp.Data, Dim: sp.Dim}
	}
	st, err := block.Compute(ctx, spaces, block.Options{Exponent: o.exponent, Workers: o.workers, TileSize: o.tile})
	if err != nil {
		return err
	}
	rep := report{
		spaces:   tab.Spaces,
		dropped:  tab.Dropped,
		exponent: o.exponent,
		pair:     st.Pair(0, 1),
	}
	if len(tab.Spaces) == 3 {
		p := st.Partial(0, 1, 2)
		rep.partial = &p
	}
	if o.format == "json" {
		return rep.writeJSON(stdout)
	}
	return rep.writeText(stdout)
}

// report is what one run prints.
type report struct {
	spaces   []stream.Space
	dropped  int
	exponent float64
	pair     estimator.Result
	partial  *estimator.PartialResult
}
