package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/dcor-stream/dcor-stream/job"
	"github.com/dcor-stream/dcor-stream/stream"
)

const usageText = `usage: dcor-stream -x SPEC -y SPEC [-z SPEC] [flags] [FILE]
       dcor-stream matrix [flags] [FILE]    dCor between many spaces (layer × layer): see matrix -h
       dcor-stream merge [flags] STATE...   adds the states of -shard runs into one result: see merge -h
       dcor-stream -version                 prints the version

Exact distance correlation (dCor), bias-corrected dCor with its t-test, and
partial dCor (with -z) between two feature spaces of FILE, computed tile by
tile without the n×n distance matrix.

A SPEC is [NAME=][FILE:]COLUMNS (NAME labels the space in the output; a .npy space is labelled by its file's stem unless named): one list column (a vector per row), one scalar
column, a comma list of scalar columns, or a glob over column names ("x_*";
"*" is every column). A SPEC that names an existing file means all of its
columns (a .npy file's one column is "data"). FILE is an Arrow IPC file or
stream, Parquet, NumPy .npy, a CSV file with a header, an object of an
object store (s3://BUCKET/KEY, gs://…, azblob://…), or "-" for an Arrow
IPC stream on standard input.

Examples:
  dcor-stream -x model_a -y model_b testdata/activations.arrow
  dcor-stream -format json -x 'x_*' -y 'y_*' -z label data.arrow
  dcor-stream -x acts.arrow:layer4 -y labels.arrow:label
  dcor-stream -ci -permutations 999 -cka -x layer3.npy -y labels.npy
  dcor-stream -minibatch 128 -shuffle 1 -x mlp=mlp_h3.npy -y cnn=cnn_c2.npy -z gt=labels.npy

-minibatch B prints the mean over batches of B samples (the seed paper's
numbers; a different, biased estimator) as the 1×1 matrix of X and Y, in
the matrix command's format.

Exit status: 0 on success, 1 for a data or runtime error (also when
interrupted by SIGTERM or SIGINT, after writing -checkpoint), 2 for a usage
error, 3 for an internal error (a bug: please report it).

Flags:
`

type options struct {
	computeFlags
	x, y, z string
	format  string
	file    string
	every   int  // -every: print the running estimate every N rows
	version bool // -version
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := newFlagSet("dcor-stream", usageText, stderr)
	fs.StringVar(&o.x, "x", "", "feature space `SPEC` of X (required)")
	fs.StringVar(&o.y, "y", "", "feature space `SPEC` of Y (required)")
	fs.StringVar(&o.z, "z", "", "feature space `SPEC` of Z: adds partial dCor of X and Y given Z")
	o.computeFlags.register(fs)
	fs.Float64Var(&o.rbfSigmaXY[0], "rbf-sigma-x", 0, "bandwidth `σ` of the Gaussian kernel of -cka for X (overrides -rbf-sigma)")
	fs.Float64Var(&o.rbfSigmaXY[1], "rbf-sigma-y", 0, "bandwidth `σ` of the Gaussian kernel of -cka for Y (overrides -rbf-sigma)")
	fs.StringVar(&o.format, "format", "text", "output format: text or json")
	fs.IntVar(&o.every, "every", 0, "print the running estimate as one JSON line per `N` new rows, then the result")
	fs.BoolVar(&o.version, "version", false, "print the version of dcor-stream and exit")
	files, err := parse(fs, args, false)
	if err != nil || o.version {
		return o, err
	}
	if len(files) == 1 {
		o.file = files[0]
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
	case o.every < 0:
		return o, usagef("-every %d is negative", o.every)
	case o.every > 0 && (o.shard != "" || o.checkpoint != "" || o.mem > 0 || o.minibatch > 0):
		return o, usagef("-every does not combine with -shard, -checkpoint, -mem or -minibatch")
	case o.shuffle != nil && o.estimator == "blocks" && (o.file == "-" || strings.HasPrefix(o.x, "-:") || strings.HasPrefix(o.y, "-:") || strings.HasPrefix(o.z, "-:")):
		return o, usagef("-shuffle: standard input cannot be shuffled: it is read once, one block at a time, and a permutation needs every row before the first block; shuffle upstream or write the stream to a file")
	case o.every > 0 && o.budget > 0:
		return o, usagef("-every does not combine with -budget")
	case o.estimator == "blocks" && (o.shard != "" || o.checkpoint != "" || o.mem > 0):
		return o, usagef("-estimator blocks holds one block in memory: it does not combine with -mem, -shard or -checkpoint")
	}
	return o, nil
}

// run is the whole command: it returns the exit status. A panic (a bug)
// is reported as an internal error, exit status 3.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(stderr, "dcor-stream: internal error (a bug: please report it with this message): %v\n%s", p, debug.Stack())
			code = 3
		}
	}()
	if len(args) > 0 {
		switch args[0] {
		case "matrix":
			return runMatrix(ctx, args[1:], stdin, stdout, stderr)
		case "merge":
			return exitCode(runMerge(ctx, args[1:], stdout, stderr), "dcor-stream merge", stderr)
		}
	}
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err == nil && o.version {
		fmt.Fprintln(stdout, version())
		return 0
	}
	if err == nil {
		err = compute(ctx, o, stdin, stdout, stderr)
	}
	return exitCode(err, "dcor-stream", stderr)
}

// version is the line of -version: the module's version ("(devel)" when
// built in a checkout), the VCS revision if the build recorded one, and
// the Go toolchain and platform.
func version() string {
	v := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		v = bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				v += " " + s.Value
			}
		}
	}
	return fmt.Sprintf("dcor-stream %s %s %s/%s", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func compute(ctx context.Context, o options, stdin io.Reader, stdout, stderr io.Writer) error {
	names := []string{o.x, o.y}
	if o.z != "" {
		names = append(names, o.z)
	}
	spec := o.computeFlags.spec(o.file, stdin)
	named := false
	for i, arg := range names {
		name, s := job.SplitName(arg)
		sp, err := stream.ParseSpec(s)
		if err != nil {
			return usagef("-%c %q: %v", "xyz"[i], arg, err)
		}
		if sp.File == "" && o.file == "" {
			return usagef("-%c %q names no file and no FILE argument is given", "xyz"[i], arg)
		}
		spec.Spaces = append(spec.Spaces, sp)
		spec.Labels = append(spec.Labels, name)
		named = named || name != ""
	}
	if !named {
		spec.Labels = nil
	}
	spec.RBFSigma = o.sigmas(len(spec.Spaces))
	if o.every > 0 {
		spec.Every = o.every
		spec.OnEvery = func(p *job.Pair) error { return writePair(stdout, p, "json") }
		spec.OnBlocks = func(p *job.BlockPair) error { return writeJSON(stdout, p) }
	}
	return o.runJob(ctx, spec, stderr, func(out *job.Outcome) error {
		if b := out.Blocks; b != nil {
			if o.format == "json" {
				return writeJSON(stdout, b)
			}
			return b.WriteText(stdout)
		}
		if m := out.Matrix; m != nil { // -minibatch: the 1×1 matrix of X and Y
			return writeMatrix(stdout, m, o.format, "", "")
		}
		return writePair(stdout, out.Pair, o.format)
	})
}

// writeJSON writes v as one line of JSON.
func writeJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// writePair writes the result of the pair mode as text or JSON.
func writePair(w io.Writer, p *job.Pair, format string) error {
	if format == "json" {
		b, err := json.Marshal(p)
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, '\n'))
		return err
	}
	return p.WriteText(w)
}
