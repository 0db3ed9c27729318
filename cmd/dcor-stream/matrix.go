package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"golang.org/x/sync/errgroup"

	"github.com/dcor-stream/dcor-stream/arrowio"
	"github.com/dcor-stream/dcor-stream/block"
	"github.com/dcor-stream/dcor-stream/estimator"
	"github.com/dcor-stream/dcor-stream/stream"
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

// minibatchNote labels every output of -minibatch B (%d is B).
const minibatchNote = "minibatch mean over %d-sample batches: a different, biased and noisier estimator"

// computeFlags are the flags of the computation shared by the pair and the
// matrix modes.
type computeFlags struct {
	exponent    float64
	workers     int
	tile        int
	dropInvalid bool
	precision   string
	prec        block.Precision // parsed from precision by check
	quiet       bool            // -quiet
	progress    bool            // -progress
}

func (c *computeFlags) register(fs *flag.FlagSet) {
	fs.Float64Var(&c.exponent, "exponent", 1, "exponent α in (0, 2] on the Euclidean distances")
	fs.IntVar(&c.workers, "workers", runtime.GOMAXPROCS(0), "number of tile workers")
	fs.IntVar(&c.tile, "tile", 0, "tile size in rows (0: the default)")
	fs.BoolVar(&c.dropInvalid, "drop-invalid", false, "drop rows with a null, NaN or Inf in any space (jointly) instead of failing")
	fs.StringVar(&c.precision, "precision", "float64", "inner products of spaces of 16 or more columns: float64 (the reference) or float32 (faster; norms, distances and every sum stay float64; bcdcor within 1e-7)")
	fs.BoolVar(&c.quiet, "quiet", false, "no progress on stderr")
	fs.BoolVar(&c.progress, "progress", false, "report progress on stderr even when it is not a terminal (a line every 10 s); on a terminal a bar is shown anyway")
}

func (c *computeFlags) check() error {
	p, err := block.ParsePrecision(c.precision)
	if err != nil {
		return usagef("-precision %q: want float64 or float32", c.precision)
	}
	c.prec = p
	switch {
	case !(c.exponent > 0 && c.exponent <= 2):
		return usagef("-exponent %v is outside (0, 2]", c.exponent)
	case c.workers < 1:
		return usagef("-workers %d: need at least 1", c.workers)
	case c.tile < 0:
		return usagef("-tile %d is negative", c.tile)
	}
	return nil
}

func (c computeFlags) blockOptions() block.Options {
	return block.Options{Exponent: c.exponent, Workers: c.workers, TileSize: c.tile, Precision: c.prec}
}

// spaceArg is one -spaces, -space, -rows or -cols argument.
type spaceArg struct {
	spec   string
	family bool // one space per resolved column (-spaces, -rows, -cols)
}

// spaceFlag appends its arguments to a shared list, so that -spaces and
// -space keep their relative order.
type spaceFlag struct {
	dst    *[]spaceArg
	family bool
}

func (f spaceFlag) String() string { return "" }

func (f spaceFlag) Set(s string) error {
	*f.dst = append(*f.dst, spaceArg{s, f.family})
	return nil
}

type matrixOptions struct {
	computeFlags
	square        []spaceArg // -spaces and -space
	rows, cols    []spaceArg // -rows and -cols
	given         string
	format        string
	heatmap       string
	heatmapStat   string
	normalizeRows bool
	minibatch     int
	file          string
	memText       string // -mem as given
	mem           int64  // -mem in bytes; 0: in memory
	tmpdir        string
}

func parseMatrixFlags(args []string, stderr io.Writer) (matrixOptions, error) {
	var o matrixOptions
	fs := flag.NewFlagSet("dcor-stream matrix", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, matrixUsageText)
		fs.PrintDefaults()
	}
	fs.Var(spaceFlag{&o.square, true}, "spaces", "one space per column matching `[FILE:]COLUMNS` (names and globs, comma separated); repeatable")
	fs.Var(spaceFlag{&o.square, false}, "space", "one feature space `SPEC`, as -x of the pair mode; repeatable")
	fs.Var(spaceFlag{&o.rows, true}, "rows", "the row spaces: one per column matching `[FILE:]COLUMNS`; repeatable; needs -cols")
	fs.Var(spaceFlag{&o.cols, true}, "cols", "the column spaces: one per column matching `[FILE:]COLUMNS`; repeatable; needs -rows")
	fs.StringVar(&o.given, "given", "", "feature space `SPEC` Z: adds the pdcor and semi_partial matrices given Z")
	o.computeFlags.register(fs)
	fs.StringVar(&o.format, "format", "text", "output format: text, json or csv")
	fs.StringVar(&o.heatmap, "heatmap", "", "also draw the matrix as a heatmap to `FILE`.png or FILE.svg")
	fs.StringVar(&o.heatmapStat, "heatmap-stat", "bcdcor", "statistic of the heatmap: bcdcor, dcor, pdcor or semi_partial")
	fs.BoolVar(&o.normalizeRows, "normalize-rows", false, "scale every sample's vector to unit L2 norm, per space, before distances (as the seed paper's code)")
	fs.IntVar(&o.minibatch, "minibatch", 0, "mean over consecutive batches of `B` samples instead of the exact statistic (a different, biased estimator)")
	fs.StringVar(&o.memText, "mem", "", "memory budget `SIZE` (64MiB, 8GiB, …): passes over the input, as in the pair mode (default: load the data in memory)")
	fs.StringVar(&o.tmpdir, "tmpdir", "", "`DIR` where standard input is spilled for the passes of -mem")
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
	if err := o.computeFlags.check(); err != nil {
		return o, err
	}
	if o.memText != "" {
		var err error
		if o.mem, err = parseSize(o.memText); err != nil {
			return o, err
		}
	}
	switch {
	case o.mem > 0 && o.minibatch > 0:
		return o, usagef("-mem and -minibatch do not combine: minibatches are small")
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
	if o.heatmap != "" {
		if ext := strings.ToLower(filepath.Ext(o.heatmap)); ext != ".png" && ext != ".svg" {
			return o, usagef("-heatmap %q: want a .png or .svg file", o.heatmap)
		}
	}
	return o, nil
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

func matrixCommand(ctx context.Context, o matrixOptions, stdin io.Reader, stdout, stderr io.Writer) error {
	// Standard input is read twice (the schema to expand globs, then the
	// data), so it is held in memory; the data is loaded whole anyway.
	open := func() io.Reader { return stdin }
	if usesStdin(o) {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return fmt.Errorf("stdin: %w", err)
		}
		open = func() io.Reader { return bytes.NewReader(b) }
	}
	return matrixRun(ctx, o, open, stdout, stderr)
}

// usesStdin reports whether any space may be read from "-".
func usesStdin(o matrixOptions) bool {
	if o.file == arrowio.Stdin {
		return true
	}
	for _, a := range slices.Concat(o.square, o.rows, o.cols, []spaceArg{{spec: o.given}}) {
		if a.spec == arrowio.Stdin || strings.HasPrefix(a.spec, arrowio.Stdin+":") {
			return true
		}
	}
	return false
}

// layout is the set of distinct spaces of a matrix run and where each row,
// column and the given space are among them.
type layout struct {
	specs      []stream.Spec
	labels     []string // one per distinct space
	rows, cols []int    // indices into specs
	given      int      // index into specs, or -1
}

func matrixRun(ctx context.Context, o matrixOptions, stdin func() io.Reader, stdout, stderr io.Writer) error {
	lay, err := resolveLayout(ctx, o, stdin)
	if err != nil {
		return err
	}
	var (
		res     *matrixResult
		dims    []int
		dropped int
	)
	if o.mem > 0 {
		job := memJob{
			file: o.file, specs: lay.specs, stdin: stdin(),
			mem: o.mem, memText: o.memText, tmpdir: o.tmpdir, dropInvalid: o.dropInvalid,
			bo: o.blockOptions(), quiet: o.quiet, progress: o.progress,
		}
		if o.normalizeRows {
			job.transform = func(sp []block.Space) {
				for _, s := range sp {
					normalizeRows(s.Data, s.Dim)
				}
			}
		}
		mr, err := runOutOfCore(ctx, job, stderr)
		if err != nil {
			return err
		}
		res, dropped = matrixFromStats(mr.st, lay.rows, lay.cols, lay.given), mr.dropped
		for _, sp := range mr.spaces {
			dims = append(dims, sp.Dim)
		}
	} else {
		tab, err := stream.Load(ctx, o.file, lay.specs, stream.Options{DropInvalid: o.dropInvalid, Stdin: stdin()})
		if err != nil {
			return err
		}
		spaces := make([]block.Space, len(tab.Spaces))
		for k, sp := range tab.Spaces {
			spaces[k] = block.Space{Data: sp.Data, Dim: sp.Dim}
			if o.normalizeRows {
				normalizeRows(sp.Data, sp.Dim) // the Table owns its data
			}
			dims = append(dims, sp.Dim)
		}
		bo := o.blockOptions()
		n := float64(tab.N)
		if prog := newProgress(stderr, o.quiet, o.progress, n*(n-1)/2); prog != nil && o.minibatch == 0 {
			bo.Progress = prog.update
			defer prog.finish()
		}
		if res, err = computeMatrix(ctx, spaces, lay.rows, lay.cols, lay.given, bo, o.minibatch); err != nil {
			return err
		}
		dropped = tab.Dropped
	}
	rep := &matrixReport{
		res:       res,
		exponent:  o.exponent,
		dropped:   dropped,
		normalize: o.normalizeRows,
	}
	if o.prec != block.Float64 {
		rep.precision = o.prec.String()
	}
	for _, k := range lay.rows {
		rep.rowNames = append(rep.rowNames, lay.labels[k])
		rep.rowDims = append(rep.rowDims, dims[k])
	}
	for _, k := range lay.cols {
		rep.colNames = append(rep.colNames, lay.labels[k])
		rep.colDims = append(rep.colDims, dims[k])
	}
	if lay.given >= 0 {
		rep.given = lay.labels[lay.given]
		rep.givenDim = dims[lay.given]
	}
	rep.square = len(o.square) > 0
	rep.rowTitle, rep.colTitle = "space", "space"
	if !rep.square {
		rep.rowTitle, rep.colTitle = argsTitle(o.rows), argsTitle(o.cols)
	}
	if o.heatmap != "" {
		if err := writeHeatmap(o.heatmap, rep, o.heatmapStat); err != nil {
			return err
		}
	}
	switch o.format {
	case "json":
		return rep.writeJSON(stdout)
	case "csv":
		return rep.writeCSV(stdout)
	}
	return rep.writeText(stdout)
}

func argsTitle(args []spaceArg) string {
	s := make([]string, len(args))
	for i, a := range args {
		s[i] = a.spec
	}
	return strings.Join(s, " ")
}

// resolveLayout expands the space arguments into distinct specs: a family
// argument becomes one spec per matching column, found in the file's
// schema; the same space named twice (in the rows and the columns, say)
// is loaded and computed once.
func resolveLayout(ctx context.Context, o matrixOptions, stdin func() io.Reader) (*layout, error) {
	lay := &layout{given: -1}
	type entry struct {
		spec  stream.Spec
		path  string // the file read: spec.File or the default
		label string
	}
	var distinct []entry
	index := map[string]int{}
	add := func(e entry) int {
		key := e.path + "\x00" + strings.Join(e.spec.Columns, "\x00")
		if k, ok := index[key]; ok {
			return k
		}
		index[key] = len(distinct)
		distinct = append(distinct, e)
		return len(distinct) - 1
	}
	sources := map[string]*arrowio.Source{}
	defer func() {
		for _, s := range sources {
			s.Close()
		}
	}()
	expand := func(flagName string, a spaceArg) ([]int, error) {
		sp, err := stream.ParseSpec(a.spec)
		if err != nil {
			return nil, usagef("-%s %q: %v", flagName, a.spec, err)
		}
		p := sp.File
		if p == "" {
			p = o.file
		}
		if p == "" {
			return nil, usagef("-%s %q names no file and no FILE argument is given", flagName, a.spec)
		}
		if !a.family {
			return []int{add(entry{sp, p, sp.String()})}, nil
		}
		src := sources[p]
		if src == nil {
			if src, err = arrowio.Open(ctx, p, arrowio.Options{Stdin: stdin()}); err != nil {
				return nil, err
			}
			sources[p] = src
		}
		var out []int
		for _, c := range sp.Columns {
			if !isGlobPattern(c) {
				out = append(out, add(entry{stream.Spec{File: sp.File, Columns: []string{c}}, p, c}))
				continue
			}
			m := 0
			for _, f := range src.Schema().Fields() {
				if ok, _ := path.Match(c, f.Name); ok { // ParseSpec checked the pattern
					out = append(out, add(entry{stream.Spec{File: sp.File, Columns: []string{f.Name}}, p, f.Name}))
					m++
				}
			}
			if m == 0 {
				// Let the decoder phrase the error, listing the columns.
				if _, err := stream.NewDecoder(src.Name(), src.Schema(), []string{c}); err != nil {
					return nil, err
				}
				return nil, fmt.Errorf("%s: no column matches %q", src.Name(), c)
			}
		}
		return out, nil
	}
	expandAll := func(flagName string, args []spaceArg) ([]int, error) {
		var out []int
		for _, a := range args {
			ks, err := expand(flagName, a)
			if err != nil {
				return nil, err
			}
			out = append(out, ks...)
		}
		return out, nil
	}
	var err error
	if len(o.square) > 0 {
		if lay.rows, err = expandAll("spaces", o.square); err != nil {
			return nil, err
		}
		lay.cols = lay.rows
	} else {
		if lay.rows, err = expandAll("rows", o.rows); err != nil {
			return nil, err
		}
		if lay.cols, err = expandAll("cols", o.cols); err != nil {
			return nil, err
		}
	}
	if o.given != "" {
		ks, err := expand("given", spaceArg{spec: o.given})
		if err != nil {
			return nil, err
		}
		lay.given = ks[0]
	}

	// Labels: the column name, or FILE:COLUMN where the same name comes
	// from different files.
	count := map[string]int{}
	for _, e := range distinct {
		count[e.label]++
	}
	for _, e := range distinct {
		lay.specs = append(lay.specs, e.spec)
		l := e.label
		if count[l] > 1 {
			l = arrowio.DisplayName(e.path) + ":" + l
		}
		lay.labels = append(lay.labels, l)
	}
	return lay, nil
}

// isGlobPattern reports whether a column name is a path.Match pattern, as
// stream.ParseSpec decides.
func isGlobPattern(name string) bool {
	return strings.ContainsAny(name, `*?[\`)
}

// normalizeRows scales every row of the row-major x of width dim to unit
// Euclidean norm, in place, as the seed paper's code does before its
// distances. A row of norm 0 stays 0.
func normalizeRows(x []float64, dim int) {
	for i := 0; i+dim <= len(x); i += dim {
		row := x[i : i+dim]
		// Scale by the largest magnitude first so that the sum of squares
		// neither overflows nor underflows.
		var m float64
		for _, v := range row {
			m = max(m, math.Abs(v))
		}
		if m == 0 {
			continue
		}
		var ss float64
		for _, v := range row {
			ss += (v / m) * (v / m)
		}
		s := 1 / (m * math.Sqrt(ss))
		for j := range row {
			row[j] *= s
		}
	}
}

// matrixResult holds the statistics of every (row, col) pair, indexed
// [row][col], with the flags of each entry.
type matrixResult struct {
	n                            int
	dcor, bcdcor, pvalue         [][]float64
	pdcor, semi                  [][]float64 // nil without a given space
	flags                        [][]estimator.Flags
	minibatch, batches, leftover int // -minibatch B: B, the batches averaged, samples unused
}

func newGrid(r, c int) [][]float64 {
	g := make([][]float64, r)
	for i := range g {
		g[i] = make([]float64, c)
	}
	return g
}

// computeMatrix computes the statistics of every pair (rows[i], cols[j])
// of spaces, and with given >= 0 the partial statistics given that space,
// from one block.Compute over all the spaces: each space's distance tile
// is computed once per tile and all K(K+1)/2 pair sums are accumulated
// from it.
//
// With minibatch B > 0 every statistic is instead the mean, over the
// consecutive batches of B samples, of the statistic of the batch alone;
// a last batch of fewer than B samples is kept if it has at least 4
// (U-statistics need n >= 4) and dropped otherwise. The batches are
// computed concurrently on opts.Workers workers, one worker each, and
// averaged in batch order, so the result does not depend on the number of
// workers. Its flags are the union of the batches' flags.
func computeMatrix(ctx context.Context, spaces []block.Space, rows, cols []int, given int, opts block.Options, minibatch int) (*matrixResult, error) {
	if minibatch == 0 {
		st, err := block.Compute(ctx, spaces, opts)
		if err != nil {
			return nil, err
		}
		return matrixFromStats(st, rows, cols, given), nil
	}
	n := spaces[0].Rows()
	var bounds [][2]int
	for i0 := 0; i0 < n; i0 += minibatch {
		i1 := min(n, i0+minibatch)
		if i1-i0 < 4 {
			break
		}
		bounds = append(bounds, [2]int{i0, i1})
	}
	if len(bounds) == 0 {
		return nil, fmt.Errorf("-minibatch %d: %d samples make no batch of at least 4", minibatch, n)
	}
	parts := make([]*matrixResult, len(bounds))
	g, gctx := errgroup.WithContext(ctx)
	// Batches are small: one worker per batch, as many batches at once as
	// workers (CPU bound).
	g.SetLimit(max(1, opts.Workers))
	bopts := opts
	bopts.Workers = 1
	for b, bd := range bounds {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			sub := make([]block.Space, len(spaces))
			for k, sp := range spaces {
				sub[k] = block.Space{Data: sp.Data[bd[0]*sp.Dim : bd[1]*sp.Dim], Dim: sp.Dim}
			}
			st, err := block.Compute(gctx, sub, bopts)
			if err != nil {
				return err
			}
			parts[b] = matrixFromStats(st, rows, cols, given)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res := newMatrixResult(n, len(rows), len(cols), given >= 0)
	res.pvalue = nil // a mean of p-values is no p-value
	res.minibatch, res.batches = minibatch, len(bounds)
	res.leftover = n - bounds[len(bounds)-1][1]
	grids := func(m *matrixResult) [][][]float64 { return [][][]float64{m.dcor, m.bcdcor, m.pdcor, m.semi} }
	for _, p := range parts {
		for gi, src := range grids(p) {
			dst := grids(res)[gi]
			for i := range dst {
				for j := range dst[i] {
					dst[i][j] += src[i][j]
				}
			}
		}
		for i := range res.flags {
			for j := range res.flags[i] {
				res.flags[i][j] |= p.flags[i][j]
			}
		}
	}
	for _, dst := range grids(res) {
		for i := range dst {
			for j := range dst[i] {
				dst[i][j] /= float64(len(parts))
			}
		}
	}
	return res, nil
}

func newMatrixResult(n, r, c int, partial bool) *matrixResult {
	res := &matrixResult{n: n, dcor: newGrid(r, c), bcdcor: newGrid(r, c), pvalue: newGrid(r, c)}
	if partial {
		res.pdcor, res.semi = newGrid(r, c), newGrid(r, c)
	}
	res.flags = make([][]estimator.Flags, r)
	for i := range res.flags {
		res.flags[i] = make([]estimator.Flags, c)
	}
	return res
}

// matrixFromStats reads the matrix off one state. A space against itself
// is not flagged perfect_dependence: R* = 1 is its definition there.
func matrixFromStats(st *estimator.Stats, rows, cols []int, given int) *matrixResult {
	res := newMatrixResult(st.N(), len(rows), len(cols), given >= 0)
	for i, x := range rows {
		for j, y := range cols {
			r := st.Pair(x, y)
			res.dcor[i][j], res.bcdcor[i][j], res.pvalue[i][j] = r.DCor, r.BCDCor, r.P
			f := r.Flags
			if x == y {
				f &^= estimator.PerfectDependence
			}
			if given >= 0 {
				p := st.Partial(x, y, given)
				res.pdcor[i][j], res.semi[i][j] = p.PDCor, p.SemiPartial
				f |= p.Flags
			}
			res.flags[i][j] = f
		}
	}
	return res
}

// matrixReport is what one matrix run prints.
type matrixReport struct {
	res                *matrixResult
	rowNames, colNames []string
	rowDims, colDims   []int
	square             bool   // rows and columns are the same spaces (-spaces, -space)
	rowTitle, colTitle string // the arguments that made the rows and columns
	given              string // "" without -given
	givenDim           int
	exponent           float64
	dropped            int
	normalize          bool
	precision          string // "float32" under -precision float32, else empty
}

// estimatorLabel names the estimator of every value of the report.
func (r *matrixReport) estimatorLabel() string {
	if r.res.minibatch > 0 {
		return fmt.Sprintf(minibatchNote, r.res.minibatch)
	}
	return "exact"
}

// stat is one matrix of the report.
type stat struct {
	key  string
	grid [][]float64
	def  string
}

// stats returns the matrices of the report in output order.
func (r *matrixReport) stats() []stat {
	s := []stat{
		{"bcdcor", r.res.bcdcor, "bias-corrected dCor² R*(row, col), U-statistic, in [-1, 1]; 0 under independence"},
		{"p_value", r.res.pvalue, "p-value of the t-test of independence (Székely & Rizzo 2013)"},
		{"dcor", r.res.dcor, "dCor(row, col), V-statistic, in [0, 1] (R energy::dcor); biased upward in high dimension"},
		{"pdcor", r.res.pdcor, "partial dCor of row and col given " + r.given + " (Székely & Rizzo 2014)"},
		{"semi_partial", r.res.semi, "(R*(row,given) - R*(row,col)·R*(col,given)) / sqrt(1 - R*(row,col)²), as the seed paper's code"},
	}
	return slices.DeleteFunc(s, func(s stat) bool { return s.grid == nil })
}

// flagged is one matrix entry with degenerate-case flags.
type flagged struct {
	row, col string
	names    []string
}

// flagged returns the entries with flags, row by row. In the flag names x
// is the row space, y the column space and z the given space.
func (r *matrixReport) flagged() []flagged {
	var out []flagged
	for i, fs := range r.res.flags {
		for j, f := range fs {
			if f != 0 {
				out = append(out, flagged{r.rowNames[i], r.colNames[j], f.Names()})
			}
		}
	}
	return out
}

func jsonString(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}

func jsonStrings(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = jsonString(s)
	}
	return "[" + strings.Join(q, ",") + "]"
}

func jsonInts(v []int) string {
	q := make([]string, len(v))
	for i, x := range v {
		q[i] = strconv.Itoa(x)
	}
	return "[" + strings.Join(q, ",") + "]"
}

// writeJSON writes one object on one line:
//
//	{"n", "rows", "cols", "row_dims", "col_dims", ["given", "given_dim"],
//	 "bcdcor", ["p_value"], "dcor", ["pdcor", "semi_partial"],
//	 "exponent", "dropped_rows", "normalize_rows", "estimator",
//	 ["minibatch": {"size", "batches", "unused_samples"}], "flags"}
//
// The matrices are arrays of rows; p_value is left out with -minibatch.
func (r *matrixReport) writeJSON(w io.Writer) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"n":%d,"rows":%s,"cols":%s,"row_dims":%s,"col_dims":%s`,
		r.res.n, jsonStrings(r.rowNames), jsonStrings(r.colNames), jsonInts(r.rowDims), jsonInts(r.colDims))
	if r.given != "" {
		fmt.Fprintf(&b, `,"given":%s,"given_dim":%d`, jsonString(r.given), r.givenDim)
	}
	for _, s := range r.stats() {
		fmt.Fprintf(&b, ",%q:[", s.key)
		for i, row := range s.grid {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('[')
			for j, v := range row {
				if j > 0 {
					b.WriteByte(',')
				}
				b.WriteString(jsonNumber(v))
			}
			b.WriteByte(']')
		}
		b.WriteByte(']')
	}
	fmt.Fprintf(&b, `,"exponent":%s,"dropped_rows":%d,"normalize_rows":%t,"estimator":%s`,
		jsonNumber(r.exponent), r.dropped, r.normalize, jsonString(r.estimatorLabel()))
	if r.precision != "" {
		fmt.Fprintf(&b, `,"precision":%q`, r.precision)
	}
	if m := r.res; m.minibatch > 0 {
		fmt.Fprintf(&b, `,"minibatch":{"size":%d,"batches":%d,"unused_samples":%d}`, m.minibatch, m.batches, m.leftover)
	}
	b.WriteString(`,"flags":[`)
	for i, f := range r.flagged() {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"row":%s,"col":%s,"flags":%s}`, jsonString(f.row), jsonString(f.col), jsonStrings(f.names))
	}
	b.WriteString("]}\n")
	_, err := w.Write(b.Bytes())
	return err
}

// writeCSV writes the long form: a header, then one line per (row, col)
// pair in row-major order, with the statistics of stats(), the entry's
// flags separated by ';', and the estimator ("exact", or the minibatch
// label).
func (r *matrixReport) writeCSV(w io.Writer) error {
	var b bytes.Buffer
	cw := csv.NewWriter(&b)
	stats := r.stats()
	head := []string{"row", "col"}
	// The brief's order: dcor before bcdcor; then the rest.
	order := []string{"dcor", "bcdcor", "p_value", "pdcor", "semi_partial"}
	byKey := map[string][][]float64{}
	for _, s := range stats {
		byKey[s.key] = s.grid
	}
	order = slices.DeleteFunc(order, func(k string) bool { return byKey[k] == nil })
	head = append(append(head, order...), "flags", "estimator")
	if err := cw.Write(head); err != nil {
		return err
	}
	est := r.estimatorLabel()
	for i, rn := range r.rowNames {
		for j, cn := range r.colNames {
			rec := []string{rn, cn}
			for _, k := range order {
				rec = append(rec, jsonNumber(byKey[k][i][j]))
			}
			rec = append(rec, strings.Join(r.res.flags[i][j].Names(), ";"), est)
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
func (r *matrixReport) writeText(w io.Writer) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "n = %d samples", r.res.n)
	if r.dropped > 0 {
		fmt.Fprintf(&b, " (%d rows with null, NaN or Inf dropped)", r.dropped)
	}
	fmt.Fprintf(&b, ", distance exponent %s", jsonNumber(r.exponent))
	if r.normalize {
		b.WriteString(", rows normalised to unit norm")
	}
	b.WriteByte('\n')
	if m := r.res; m.minibatch > 0 {
		fmt.Fprintf(&b, "ESTIMATOR: %s\n  (%d batches", r.estimatorLabel(), m.batches)
		if m.leftover > 0 {
			fmt.Fprintf(&b, "; the last %d samples unused", m.leftover)
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
	if r.square {
		fmt.Fprintf(&b, "spaces (dims): %s\n", dims(r.rowNames, r.rowDims))
	} else {
		fmt.Fprintf(&b, "rows (dims): %s\n", dims(r.rowNames, r.rowDims))
		fmt.Fprintf(&b, "cols (dims): %s\n", dims(r.colNames, r.colDims))
	}
	if r.given != "" {
		fmt.Fprintf(&b, "given: %s (%d)\n", r.given, r.givenDim)
	}
	nameW := 0
	for _, n := range r.rowNames {
		nameW = max(nameW, utf8.RuneCountInString(n))
	}
	for _, s := range r.stats() {
		fmt.Fprintf(&b, "\n%s: %s\n", s.key, s.def)
		// Right-aligned numbers; the row names padded to one width, so
		// that they read left-aligned.
		tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "%*s\t", nameW, "")
		for _, c := range r.colNames {
			fmt.Fprintf(tw, "%s\t", c)
		}
		fmt.Fprintln(tw)
		for i, row := range s.grid {
			fmt.Fprintf(tw, "%-*s\t", nameW, r.rowNames[i])
			for _, v := range row {
				if s.key == "p_value" {
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
	if fl := r.flagged(); len(fl) > 0 {
		b.WriteString("\nflags (x = row, y = col, z = given; see the README for the value each one implies):\n")
		for _, f := range fl {
			fmt.Fprintf(&b, "  %s × %s: %s\n", f.row, f.col, strings.Join(f.names, ", "))
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}
