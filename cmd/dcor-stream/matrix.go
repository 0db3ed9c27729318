package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/dcor-stream/dcor-stream/arrowio"
	"github.com/dcor-stream/dcor-stream/heatmap"
	"github.com/dcor-stream/dcor-stream/job"
)

const matrixUsageText = `usage: dcor-stream matrix [-spaces COLUMNS | -space SPEC]... [-given SPEC] [flags] [FILE]
       dcor-stream matrix -rows COLUMNS -cols COLUMNS [-given SPEC] [flags] [FILE]

The matrix of dCor and bias-corrected dCor between every pair of K feature
spaces (a square matrix), or between every row space and every column space
(-rows, -cols), computed exactly in one pass over the tiles of pairs: each
space's distance tile is computed once per tile and every pair's sums are
accumulated from it. Outputs bcdcor (bias-corrected dCor², report it) with
the p-value of its t-test, and dcor; with -given Z also pdcor(row, col; Z)
and the semi-partial statistic of the seed paper's code,
semi_partial = (R*(row,Z) - R*(row,col)·R*(col,Z)) / sqrt(1 - R*(row,col)²).

-spaces, -rows and -cols take [FILE:]COLUMNS, COLUMNS a comma list of
column names and globs, and make ONE SPACE PER MATCHING COLUMN: -spaces
'layer*' compares every layer with every other. -space SPEC adds one space
with the syntax of the pair mode (a list column, or several scalar columns
together: -space 'x_*' is a single space). -spaces, -space, -rows and -cols
may be repeated; the spaces keep the order of the flags, and of the schema
within a glob. Columns of the same name in different files are labelled
FILE:COLUMN; NAME=SPEC names a space (-rows mlp=acts/mlp.npy), and a .npy
space is labelled by its file's stem. FILE and the files of the specs are
Arrow IPC files or streams, Parquet, NumPy .npy, CSV with a header, objects
(s3://, gs://, azblob://) or "-" (an Arrow IPC stream on standard input).

-minibatch B replaces every statistic by its mean over batches of B samples
(consecutive rows, or with -shuffle SEED rows in a seeded random order; the
last batch is kept if it has at least 4 samples, dropped otherwise), as the
seed paper's code computes it: a different, biased and noisier estimator,
labelled so in every output. Consecutive batches of rows sorted by class
give a different number: a warning says so.

Examples:
  dcor-stream matrix -rows 'a_*' -cols 'b_*' -heatmap heat.png testdata/networks.arrow
  dcor-stream matrix -spaces 'a_*,b_*' -given input -format json testdata/networks.arrow
  dcor-stream matrix -rows m1.arrow:'layer*' -cols m2.arrow:'block*' -format csv

Flags:
`

// spaceFlag appends its arguments to a shared list, so that -spaces and
// -space keep their relative order.
type spaceFlag struct {
	dst  *[]job.SpaceArg
	each bool // one space per resolved column (-spaces, -rows, -cols)
	name string
}

func (f spaceFlag) String() string { return "" }

func (f spaceFlag) Set(s string) error {
	*f.dst = append(*f.dst, job.SpaceArg{Spec: s, Each: f.each, Flag: f.name})
	return nil
}

type matrixOptions struct {
	computeFlags
	square      []job.SpaceArg // -spaces and -space
	rows, cols  []job.SpaceArg // -rows and -cols
	given       string
	format      string
	heatmap     string
	heatmapStat string
	compare     []string // -compare
	file        string
}

func parseMatrixFlags(args []string, stderr io.Writer) (matrixOptions, error) {
	var o matrixOptions
	fs := newFlagSet("dcor-stream matrix", matrixUsageText, stderr)
	fs.Var(spaceFlag{&o.square, true, "spaces"}, "spaces", "one space per column matching `[FILE:]COLUMNS` (names and globs, comma separated); repeatable")
	fs.Var(spaceFlag{&o.square, false, "space"}, "space", "one feature space `SPEC`, as -x of the pair mode; repeatable")
	fs.Var(spaceFlag{&o.rows, true, "rows"}, "rows", "the row spaces: one per column matching `[FILE:]COLUMNS`; repeatable; needs -cols")
	fs.Var(spaceFlag{&o.cols, true, "cols"}, "cols", "the column spaces: one per column matching `[FILE:]COLUMNS`; repeatable; needs -rows")
	fs.StringVar(&o.given, "given", "", "feature space `SPEC` Z: adds the pdcor and semi_partial matrices given Z")
	o.computeFlags.register(fs)
	fs.StringVar(&o.format, "format", "text", "output format: text, json or csv")
	fs.StringVar(&o.heatmap, "heatmap", "", "also draw the matrix as a heatmap to `FILE`.png or FILE.svg")
	fs.StringVar(&o.heatmapStat, "heatmap-stat", "bcdcor", "statistic of the heatmap: bcdcor, dcor, dcor_sq, pdcor, semi_partial, cka_linear or cka_rbf (with -cka), or bcdcor_se (with -ci)")
	fs.Func("compare", "with -ci: print bcdcor[A] − bcdcor[B] with its jackknife SE and interval, for `ROW,COL-ROW,COL` (labels, or indices from 0); repeatable", func(s string) error {
		o.compare = append(o.compare, s)
		return nil
	})
	files, err := parse(fs, args, false)
	if err != nil {
		return o, err
	}
	if len(files) == 1 {
		o.file = files[0]
	}
	if err := o.computeFlags.check(); err != nil {
		return o, err
	}
	switch {
	case len(o.square) > 0 && (len(o.rows) > 0 || len(o.cols) > 0):
		return o, usagef("-spaces or -space cannot be combined with -rows and -cols")
	case len(o.rows) > 0 != (len(o.cols) > 0):
		return o, usagef("-rows and -cols go together")
	case len(o.square) == 0 && len(o.rows) == 0:
		return o, usagef("no spaces: give -spaces, -space, or -rows and -cols")
	case o.format != "text" && o.format != "json" && o.format != "csv":
		return o, usagef("-format %q: want text, json or csv", o.format)
	case o.minibatch > 0 && (o.estimator == "blocks" || o.budget > 0):
		return o, usagef("-minibatch is an estimator of its own: not with -estimator blocks or -budget")
	case o.shuffle != nil && o.estimator == "blocks" && usesStdin(o):
		return o, usagef("-shuffle: standard input cannot be shuffled: it is read once, and a permutation needs every row before the first block; shuffle upstream or write the stream to a file")
	case o.estimator == "blocks" && (o.mem > 0 || o.shard != "" || o.checkpoint != ""):
		return o, usagef("-estimator blocks holds one block in memory: it does not combine with -mem, -shard or -checkpoint")
	}
	blocks := o.estimator == "blocks"
	switch o.heatmapStat {
	case "bcdcor":
	case "dcor", "dcor_sq":
		if blocks || o.budget > 0 {
			return o, usagef("-heatmap-stat %s: the block estimator (which -budget may choose) estimates bcdcor, not the V-statistics", o.heatmapStat)
		}
	case "pdcor", "semi_partial":
		if o.given == "" {
			return o, usagef("-heatmap-stat %s needs -given", o.heatmapStat)
		}
	case "cka_linear", "cka_rbf":
		if !o.cka {
			return o, usagef("-heatmap-stat %s needs -cka", o.heatmapStat)
		}
	case "bcdcor_se":
		if !o.ci && !blocks {
			return o, usagef("-heatmap-stat bcdcor_se needs -ci or -estimator blocks")
		}
	default:
		return o, usagef("-heatmap-stat %q: want bcdcor, dcor, dcor_sq, pdcor, semi_partial, cka_linear, cka_rbf or bcdcor_se", o.heatmapStat)
	}
	return o, checkHeatmap(o.heatmap)
}

// runMatrix is the matrix command (dcor-stream matrix ARGS): it returns
// the exit status.
func runMatrix(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o, err := parseMatrixFlags(args, stderr)
	if err == nil {
		err = matrixCommand(ctx, o, stdin, stdout, stderr)
	}
	return exitCode(err, "dcor-stream matrix", stderr)
}

func matrixCommand(ctx context.Context, o matrixOptions, in io.Reader, stdout, stderr io.Writer) error {
	// Standard input is read twice (the schema to expand globs, then the
	// data), so it is held in memory; the data is loaded whole anyway.
	stdin := func() io.Reader { return in }
	if usesStdin(o) {
		b, err := io.ReadAll(in)
		if err != nil {
			return fmt.Errorf("stdin: %w", err)
		}
		stdin = func() io.Reader { return bytes.NewReader(b) }
	}
	rows, cols := o.square, []job.SpaceArg(nil)
	if len(rows) == 0 {
		rows, cols = o.rows, o.cols
	}
	var given *job.SpaceArg
	if o.given != "" {
		given = &job.SpaceArg{Spec: o.given, Flag: "given"}
	}
	spaces, labels, m, err := job.MatrixSpaces(ctx, o.file, stdin, rows, cols, given, o.key)
	if errors.Is(err, job.ErrSpec) {
		return usageError{strings.TrimSuffix(err.Error(), ": "+job.ErrSpec.Error())}
	}
	if err != nil {
		return err
	}
	spec := o.computeFlags.spec(o.file, stdin())
	spec.Spaces, spec.Labels, spec.Matrix, spec.Compare = spaces, labels, m, o.compare
	spec.RBFSigma = o.sigmas(len(spaces))
	m.Square, m.RowTitle, m.ColTitle = cols == nil, "space", "space"
	if !m.Square {
		m.RowTitle, m.ColTitle = argsTitle(o.rows), argsTitle(o.cols)
	}
	return o.runJob(ctx, spec, stderr, func(out *job.Outcome) error {
		return writeMatrix(stdout, out.Matrix, o.format, o.heatmap, o.heatmapStat)
	})
}

// usesStdin reports whether any space may be read from "-".
func usesStdin(o matrixOptions) bool {
	if o.file == arrowio.Stdin {
		return true
	}
	for _, a := range slices.Concat(o.square, o.rows, o.cols, []job.SpaceArg{{Spec: o.given}}) {
		if a.Spec == arrowio.Stdin || strings.HasPrefix(a.Spec, arrowio.Stdin+":") {
			return true
		}
	}
	return false
}

// writeMatrix draws the heatmap, if asked, and writes the matrix as
// text, JSON or CSV.
func writeMatrix(w io.Writer, m *job.MatrixResult, format, heatmapFile, heatmapStat string) error {
	if heatmapFile != "" {
		if err := heatmap.Write(heatmapFile, m, heatmapStat); err != nil {
			return err
		}
	}
	switch format {
	case "json":
		b, err := json.Marshal(m)
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, '\n'))
		return err
	case "csv":
		return m.WriteCSV(w)
	}
	return m.WriteText(w)
}

func argsTitle(args []job.SpaceArg) string {
	s := make([]string, len(args))
	for i, a := range args {
		s[i] = a.Spec
	}
	return strings.Join(s, " ")
}
