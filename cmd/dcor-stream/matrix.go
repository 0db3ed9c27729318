package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/dcor-stream/dcor-stream/arrowio"
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
FILE:COLUMN.

-minibatch B replaces every statistic by its mean over consecutive batches
of B samples (the last batch is kept if it has at least 4 samples, dropped
otherwise), as the seed paper's code computes it: a different, biased and
noisier estimator, labelled so in every output.

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
	square        []job.SpaceArg // -spaces and -space
	rows, cols    []job.SpaceArg // -rows and -cols
	given         string
	format        string
	heatmap       string
	heatmapStat   string
	normalizeRows bool
	minibatch     int
	file          string
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
	fs.StringVar(&o.heatmapStat, "heatmap-stat", "bcdcor", "statistic of the heatmap: bcdcor, dcor, pdcor or semi_partial")
	fs.BoolVar(&o.normalizeRows, "normalize-rows", false, "scale every sample's vector to unit L2 norm, per space, before distances (as the seed paper's code)")
	fs.IntVar(&o.minibatch, "minibatch", 0, "mean over consecutive batches of `B` samples instead of the exact statistic (a different, biased estimator)")
	var err error
	if o.file, err = parse(fs, args, false); err != nil {
		return o, err
	}
	if err := o.computeFlags.check(); err != nil {
		return o, err
	}
	switch {
	case o.minibatch > 0 && (o.mem > 0 || o.shard != "" || o.checkpoint != ""):
		return o, usagef("-minibatch does not combine with -mem, -shard or -checkpoint: minibatches are small")
	case len(o.square) > 0 && (len(o.rows) > 0 || len(o.cols) > 0):
		return o, usagef("-spaces or -space cannot be combined with -rows and -cols")
	case len(o.rows) > 0 != (len(o.cols) > 0):
		return o, usagef("-rows and -cols go together")
	case len(o.square) == 0 && len(o.rows) == 0:
		return o, usagef("no spaces: give -spaces, -space, or -rows and -cols")
	case o.format != "text" && o.format != "json" && o.format != "csv":
		return o, usagef("-format %q: want text, json or csv", o.format)
	case o.minibatch != 0 && o.minibatch < 4:
		return o, usagef("-minibatch %d: need at least 4 samples per batch", o.minibatch)
	}
	switch o.heatmapStat {
	case "bcdcor", "dcor":
	case "pdcor", "semi_partial":
		if o.given == "" {
			return o, usagef("-heatmap-stat %s needs -given", o.heatmapStat)
		}
	default:
		return o, usagef("-heatmap-stat %q: want bcdcor, dcor, pdcor or semi_partial", o.heatmapStat)
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
	spaces, labels, m, err := job.MatrixSpaces(ctx, o.file, stdin, rows, cols, given)
	if errors.Is(err, job.ErrSpec) {
		return usageError{strings.TrimSuffix(err.Error(), ": "+job.ErrSpec.Error())}
	}
	if err != nil {
		return err
	}
	spec := o.computeFlags.spec(o.file, stdin())
	spec.Spaces, spec.Labels, spec.Matrix = spaces, labels, m
	spec.Options.NormalizeRows = o.normalizeRows
	m.Minibatch, m.Square, m.RowTitle, m.ColTitle = o.minibatch, cols == nil, "space", "space"
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
func writeMatrix(w io.Writer, m *job.MatrixResult, format, heatmap, heatmapStat string) error {
	if heatmap != "" {
		if err := writeHeatmap(heatmap, m, heatmapStat); err != nil {
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
		return writeMatrixCSV(w, m)
	}
	return writeMatrixText(w, m)
}

func argsTitle(args []job.SpaceArg) string {
	s := make([]string, len(args))
	for i, a := range args {
		s[i] = a.Spec
	}
	return strings.Join(s, " ")
}

// writeCSV writes the long form: a header, then one line per (row, col)
// pair in row-major order, with the statistics, the entry's flags
// separated by ';', and the estimator ("exact", or the minibatch label).
// The columns are always the same; a cell whose statistic does not apply
// (a p-value of the minibatch mean, pdcor without -given, an SE without
// -ci) is empty, so that one reader serves every run.
func writeMatrixCSV(w io.Writer, r *job.MatrixResult) error {
	var b bytes.Buffer
	cw := csv.NewWriter(&b)
	stats := r.Stats()
	head := []string{"row", "col"}
	order := []string{"dcor", "dcor_sq", "bcdcor", "bcdcor_se", "p_value", "pdcor", "semi_partial", "cka_linear"}
	byKey := map[string][][]float64{}
	for _, s := range stats {
		byKey[s.Key] = s.Grid
	}
	head = append(append(head, order...), "flags", "estimator")
	if err := cw.Write(head); err != nil {
		return err
	}
	est := r.Estimator()
	for i, rn := range r.Rows {
		for j, cn := range r.Cols {
			rec := []string{rn, cn}
			for _, k := range order {
				if g := byKey[k]; g != nil {
					rec = append(rec, job.Number(g[i][j]))
				} else {
					rec = append(rec, "")
				}
			}
			rec = append(rec, strings.Join(r.Flags[i][j].Names(), ";"), est)
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

// writeText writes a header naming the spaces, then each matrix as a table
// with 4 decimals (p-values with 2 significant digits).
func writeMatrixText(w io.Writer, r *job.MatrixResult) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "n = %d samples", r.N)
	if r.Dropped > 0 {
		fmt.Fprintf(&b, " (%d rows with null, NaN or Inf dropped)", r.Dropped)
	}
	fmt.Fprintf(&b, ", distance exponent %s", job.Number(r.Exponent))
	if r.NormalizeRows {
		b.WriteString(", rows normalised to unit norm")
	}
	b.WriteByte('\n')
	if m := r; m.Minibatch > 0 {
		fmt.Fprintf(&b, "ESTIMATOR: %s\n  (%d batches", r.Estimator(), m.Batches)
		if m.UnusedSamples > 0 {
			fmt.Fprintf(&b, "; the last %d samples unused", m.UnusedSamples)
		}
		b.WriteString("; drop -minibatch for the exact statistic on all samples)\n")
	}
	dims := func(names []string, d []int) string {
		s := make([]string, len(names))
		for i := range names {
			s[i] = fmt.Sprintf("%s (%d)", names[i], d[i])
		}
		return strings.Join(s, ", ")
	}
	if r.Square {
		fmt.Fprintf(&b, "spaces (dims): %s\n", dims(r.Rows, r.RowDims))
	} else {
		fmt.Fprintf(&b, "rows (dims): %s\n", dims(r.Rows, r.RowDims))
		fmt.Fprintf(&b, "cols (dims): %s\n", dims(r.Cols, r.ColDims))
	}
	if r.Given != "" {
		fmt.Fprintf(&b, "given: %s (%d)\n", r.Given, r.GivenDim)
	}
	nameW := 0
	for _, n := range r.Rows {
		nameW = max(nameW, utf8.RuneCountInString(n))
	}
	for _, s := range r.Stats() {
		fmt.Fprintf(&b, "\n%s: %s\n", s.Key, s.Def)
		// Right-aligned numbers; the row names padded to one width, so
		// that they read left-aligned.
		tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "%*s\t", nameW, "")
		for _, c := range r.Cols {
			fmt.Fprintf(tw, "%s\t", c)
		}
		fmt.Fprintln(tw)
		for i, row := range s.Grid {
			fmt.Fprintf(tw, "%-*s\t", nameW, r.Rows[i])
			for _, v := range row {
				if s.Key == "p_value" {
					fmt.Fprintf(tw, "%.2g\t", v)
				} else {
					fmt.Fprintf(tw, "%.4f\t", v)
				}
			}
			fmt.Fprintln(tw)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if fl := r.Flagged(); len(fl) > 0 {
		b.WriteString("\nflags (x = row, y = col, z = given; see the README for the value each one implies):\n")
		for _, f := range fl {
			fmt.Fprintf(&b, "  %s × %s: %s\n", f.Row, f.Col, strings.Join(f.Names, ", "))
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}
