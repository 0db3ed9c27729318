package job

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/dcor-stream/dcor-stream/block"
	"github.com/dcor-stream/dcor-stream/estimator"
)

// Results are the statistics of a whole job: Pair in the pair mode,
// Matrix in the matrix mode.
type Results struct {
	Pair   *Pair
	Matrix *MatrixResult
	Blocks *BlockPair // the block estimator (Spec.Estimator "blocks")
}

// Results returns the statistics of a complete state of the whole grid
// (a whole job, or the Merge of its shards): ResultsContext without a
// deadline.
func (s *State) Results() (Results, error) { return s.ResultsContext(context.Background()) }

// ResultsContext is Results, abandoned with ctx's error when ctx is done:
// a matrix of K spaces evaluates K² pairs, each from exact sums (seconds
// for K in the thousands), and a cancellation is honoured between its
// rows.
func (s *State) ResultsContext(ctx context.Context) (Results, error) {
	if !s.Whole() {
		return Results{}, fmt.Errorf("the state holds %d tile intervals of shard %d/%d, not the whole job: %w", len(s.Done), s.Shard, s.Shards, ErrState)
	}
	prec := ""
	if s.Options.Precision != block.Float64.String() {
		prec = s.Options.Precision
	}
	var res Results
	if s.Matrix == nil {
		res.Pair = pairOf(s.Stats, s.Spaces, s.Options.Exponent, s.Dropped, prec)
	} else {
		m, err := matrixOf(ctx, s.Stats, s.Matrix)
		if err != nil {
			return Results{}, err
		}
		m.setLabels(s.Spaces, s.Matrix)
		m.Exponent, m.Dropped, m.NormalizeRows, m.Precision = s.Options.Exponent, s.Dropped, s.Options.NormalizeRows, prec
		res.Matrix = m
	}
	if err := s.linearResults(ctx, res); err != nil {
		return Results{}, err
	}
	if err := s.rbfResults(ctx, res); err != nil {
		return Results{}, err
	}
	return res, nil
}

// Pair is the result of the pair mode: the statistics of X and Y
// (estimator.Result), and given Z those of Partial. Its JSON is one
// object, the fields in the order of the README:
//
//	{"n", "dcor", "dcor_sq", "dcov", "dcov_sq", "dvar_x_sq", "dvar_y_sq",
//	 "bcdcor", "dcov_u", "dvar_x_u", "dvar_y_u", "t_stat", "t_df", "p_value",
//	 ["pdcor", "pdcov", "bcdcor_xz", "bcdcor_yz", "semi_partial"],
//	 "exponent", "dropped_rows", ["precision"], "x_dim", "y_dim", ["z_dim"],
//	 "flags", ["passes"], ["estimator": "exact" and the fields of
//	 Choice under Spec.Budget]}
type Pair struct {
	estimator.Result
	Partial   *estimator.PartialResult // nil without Z
	Spaces    []SpaceInfo              // x, y and maybe z
	Exponent  float64
	Dropped   int         // rows dropped by Spec.DropInvalid
	Precision string      // "float32" under block.Float32; "" for the float64 reference
	Passes    int         // passes over the input under a memory budget; 0 in memory
	Extras    *PairExtras // intervals, permutation tests, CKA: nil unless asked (Spec.CI, Permutations, CKA)
	Budget    *Choice     // the choice of a Spec.Budget run; nil otherwise
}

func pairOf(st *estimator.Stats, spaces []SpaceInfo, exponent float64, dropped int, prec string) *Pair {
	p := &Pair{Result: st.Pair(0, 1), Spaces: spaces, Exponent: exponent, Dropped: dropped, Precision: prec}
	if st.K() == 3 {
		q := st.Partial(0, 1, 2)
		p.Partial = &q
	}
	return p
}

// FlagNames returns the degenerate-case flags of the pair and partial
// statistics, each once.
func (p *Pair) FlagNames() []string {
	f := p.Flags
	if p.Partial != nil {
		f |= p.Partial.Flags
	}
	if p.Extras.seUndefined() {
		f |= estimator.SEUndefined
	}
	names := f.Names()
	if x := p.Extras; x != nil && x.RBFUnknown {
		names = append(names, RBFUnderflow)
	}
	return names
}

// RBFUnderflow is the flag of RBF CKA whose Gaussian kernel float64
// cannot hold: σ so far below the data's distances that every kernel
// value of a space lies below about 2^−450, where the values underflow
// (below e^−708) or their products do (block.KernelUnknown). cka_rbf and
// hsic_rbf_u are then 0, not a value: give a larger -rbf-sigma.
const RBFUnderflow = "rbf_underflow"

// Number formats v so that it parses back to the same float64. JSON has
// no infinities: ±Inf (t_stat under perfect dependence) is written as
// ±1.7976931348623157e308, the largest float64, and flagged; NaN, which
// no result holds, as null.
func Number(v float64) string {
	switch {
	case math.IsInf(v, 1):
		v = math.MaxFloat64
	case math.IsInf(v, -1):
		v = -math.MaxFloat64
	case math.IsNaN(v):
		return "null"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// MarshalJSON writes the object documented on Pair.
func (p *Pair) MarshalJSON() ([]byte, error) {
	r := p.Result
	var b bytes.Buffer
	fmt.Fprintf(&b, "{\"n\":%d", r.N)
	num := func(k string, v float64) { fmt.Fprintf(&b, ",%q:%s", k, Number(v)) }
	num("dcor", r.DCor)
	num("dcor_sq", r.DCorSq)
	num("dcov", r.DCov)
	num("dcov_sq", r.DCovSq)
	num("dvar_x_sq", r.DVarXSq)
	num("dvar_y_sq", r.DVarYSq)
	num("bcdcor", r.BCDCor)
	num("dcov_u", r.DCovU)
	num("dvar_x_u", r.DVarXU)
	num("dvar_y_u", r.DVarYU)
	num("t_stat", r.T)
	num("t_df", r.DF)
	num("p_value", r.P)
	if q := p.Partial; q != nil {
		num("pdcor", q.PDCor)
		num("pdcov", q.PDCov)
		num("bcdcor_xz", q.BCDCorXZ)
		num("bcdcor_yz", q.BCDCorYZ)
		num("semi_partial", q.SemiPartial)
	}
	if x := p.Extras; x != nil {
		pair := func(k string, v [2]float64) { fmt.Fprintf(&b, ",%q:[%s,%s]", k, Number(v[0]), Number(v[1])) }
		if x.CILevel > 0 { // an undefined SE is left out (flag se_undefined)
			if !x.DCorSEUndefined {
				num("dcor_se", x.DCorSE)
				pair("dcor_ci", x.DCorCI)
			}
			if !x.BCDCorSEUndefined {
				num("bcdcor_se", x.BCDCorSE)
				pair("bcdcor_ci", x.BCDCorCI)
			}
			if p.Partial != nil && !x.PDCorSEUndefined {
				num("pdcor_se", x.PDCorSE)
				pair("pdcor_ci", x.PDCorCI)
			}
			num("ci_level", x.CILevel)
		}
		if x.Permutations > 0 {
			fmt.Fprintf(&b, ",\"permutations\":%d,\"seed\":%d", x.Permutations, x.Seed)
			num("perm_p_value", x.PermP)
			num("perm_p_value_v", x.PermPV)
			if p.Partial != nil {
				num("pdcor_perm_p_value", x.PDCorPermP)
			}
		}
		if x.CKA {
			num("cka_linear", x.CKALinear)
			num("hsic_linear_u", x.HSICLinU)
		}
		if x.RBF {
			num("cka_rbf", x.CKARBF)
			num("hsic_rbf_u", x.HSICRBFU)
			num("rbf_sigma_x", x.RBFSigmaX)
			num("rbf_sigma_y", x.RBFSigmaY)
		}
	}
	fmt.Fprintf(&b, ",\"exponent\":%s,\"dropped_rows\":%d", Number(p.Exponent), p.Dropped)
	if p.Precision != "" {
		fmt.Fprintf(&b, ",\"precision\":%q", p.Precision)
	}
	for i, sp := range p.Spaces {
		fmt.Fprintf(&b, ",\"%c_dim\":%d", "xyz"[i], sp.Dim)
	}
	names, _ := json.Marshal(p.FlagNames())
	if len(p.FlagNames()) == 0 {
		names = []byte("[]")
	}
	fmt.Fprintf(&b, ",\"flags\":%s", names)
	if p.Passes > 0 {
		fmt.Fprintf(&b, ",\"passes\":%d", p.Passes)
	}
	if p.Budget != nil {
		b.WriteString(`,"estimator":"exact"`)
		p.Budget.writeJSON(&b)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// MinibatchNote labels every output of the minibatch estimator (%d is
// the batch size).
const MinibatchNote = "minibatch mean over %d-sample batches: a different, biased and noisier estimator"

// MatrixResult holds the statistics of every (row, col) pair of a matrix
// job, indexed [row][col], with the flags of each entry (x the row space,
// y the column space, z the given space; a space against itself is not
// flagged perfect_dependence). Its JSON is one object:
//
//	{"n", "rows", "cols", "row_dims", "col_dims", ["given", "given_dim"],
//	 "bcdcor", ["p_value"], "dcor", ["pdcor", "semi_partial"],
//	 ["bcdcor_se", "bcdcor_cov", "ci_level", ["compare"]],
//	 ["perm_p_value", "permutations", "seed"],
//	 "exponent", "dropped_rows", "normalize_rows", "estimator", ["precision"],
//	 ["minibatch": {"size", "batches", "unused_samples", ["shuffle_seed"],
//	   ["order_check": {"random_batches", "stat", "row", "col", "consecutive",
//	    "random", "t", "df", "p_value", "threshold", "warning"}]}],
//	 ["block", "blocks", "unused_rows", ["shuffle_seed"] of the block estimator,
//	 with "bcdcor_se", "bcdcor_cov", "pdcor_se", "semi_partial_se"],
//	 [the fields of Choice under Spec.Budget], ["passes"], "flags"}
type MatrixResult struct {
	N                  int
	Rows, Cols         []string // labels
	RowDims, ColDims   []int
	Given              string // "" without a given space
	GivenDim           int
	BCDCor, PValue     [][]float64 // PValue nil for the minibatch estimator
	DCor, DCorSq       [][]float64
	PDCor, SemiPartial [][]float64 // nil without a given space
	Flags              [][]estimator.Flags

	// With Spec.CI: the jackknife SE of every bcdcor entry, and the
	// covariance of every pair of entries, (R·C)×(R·C), entry (i, j) at
	// index i·C + j.
	CILevel   float64
	BCDCorSE  [][]float64
	BCDCorCov [][]float64
	// With Spec.Permutations: the permutation p-value of independence
	// (bcdcor, as the pair's perm_p_value) of every entry, all entries
	// of the same R permutations of Seed.
	PermP        [][]float64
	Permutations int
	Seed         uint64
	// Passes over the input under a memory budget; 0 in memory.
	Passes int
	// Contrasts are differences of entries asked of a result with the
	// covariance (see Compare), in JSON "compare".
	Contrasts []Contrast
	// With Spec.CKA: debiased linear CKA of every entry; debiased CKA and
	// unbiased HSIC with the Gaussian kernel, and the bandwidths of the
	// rows' and the columns' spaces (nil if RBF CKA was not computed).
	CKALinear                  [][]float64
	CKARBF, HSICRBFU           [][]float64
	RBFSigmaRows, RBFSigmaCols []float64
	// RBFUnknown marks the entries whose RBF CKA float64 cannot know
	// (flag RBFUnderflow; their CKARBF and HSICRBFU hold 0).
	RBFUnknown [][]bool
	// The block estimator (Block > 0): the delete-one-block SEs of pdcor
	// and semi_partial (BCDCorSE and BCDCorCov are its too); Batches and
	// UnusedSamples count its blocks and the rows of a last block of
	// fewer than 4; Shuffled (below) that the rows were taken in the
	// order of the permutation of ShuffleSeed.
	PDCorSE, SemiPartialSE [][]float64
	Block                  int
	// Budget: the choice of a Spec.Budget run, nil otherwise.
	Budget *Choice

	Exponent      float64
	Dropped       int
	NormalizeRows bool
	Precision     string // "float32", or "" for the float64 reference

	// The minibatch estimator: batch size, batches averaged, samples
	// unused; 0 for the exact statistics. Shuffled: the batches (or the
	// blocks of the block estimator) are of the rows permuted with
	// ShuffleSeed. OrderCheck: the check of the
	// row order of consecutive batches (nil when shuffled or one batch).
	Minibatch, Batches, UnusedSamples int
	Shuffled                          bool
	ShuffleSeed                       uint64
	OrderCheck                        *OrderCheck

	// For reports: the rows and the columns are the same spaces; the
	// titles of the rows and the columns.
	Square             bool
	RowTitle, ColTitle string
}

// Estimator names the estimator of every value: "exact", "blocks", or the
// minibatch label.
func (m *MatrixResult) Estimator() string {
	if m.Block > 0 {
		return "blocks"
	}
	if m.Minibatch > 0 {
		return fmt.Sprintf(MinibatchNote, m.Minibatch)
	}
	return "exact"
}

// flagAll sets f on every entry.
func (m *MatrixResult) flagAll(f estimator.Flags) {
	for i := range m.Flags {
		for j := range m.Flags[i] {
			m.Flags[i][j] |= f
		}
	}
}

func grid2(r, c int) [][]float64 {
	g := make([][]float64, r)
	for i := range g {
		g[i] = make([]float64, c)
	}
	return g
}

func newMatrixResult(n, r, c int, partial bool) *MatrixResult {
	res := &MatrixResult{N: n, DCor: grid2(r, c), DCorSq: grid2(r, c), BCDCor: grid2(r, c), PValue: grid2(r, c)}
	if partial {
		res.PDCor, res.SemiPartial = grid2(r, c), grid2(r, c)
	}
	res.Flags = make([][]estimator.Flags, r)
	for i := range res.Flags {
		res.Flags[i] = make([]estimator.Flags, c)
	}
	return res
}

// matrixOf reads the matrix off one state; it returns ctx's error if ctx
// is done before the last row.
func matrixOf(ctx context.Context, st *estimator.Stats, lay *Matrix) (*MatrixResult, error) {
	given := lay.Given
	res := newMatrixResult(st.N(), len(lay.Rows), len(lay.Cols), given >= 0)
	for i, x := range lay.Rows {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for j, y := range lay.Cols {
			r := st.Pair(x, y)
			res.DCor[i][j], res.DCorSq[i][j], res.BCDCor[i][j], res.PValue[i][j] = r.DCor, r.DCorSq, r.BCDCor, r.P
			f := r.Flags
			if x == y {
				f &^= estimator.PerfectDependence
			}
			if given >= 0 {
				p := st.Partial(x, y, given)
				res.PDCor[i][j], res.SemiPartial[i][j] = p.PDCor, p.SemiPartial
				f |= p.Flags
			}
			res.Flags[i][j] = f
		}
	}
	return res, nil
}

// setLabels names the rows, columns and given space.
func (m *MatrixResult) setLabels(spaces []SpaceInfo, lay *Matrix) {
	m.Rows, m.Cols = labelsOf(spaces, lay.Rows), labelsOf(spaces, lay.Cols)
	for _, k := range lay.Rows {
		m.RowDims = append(m.RowDims, spaces[k].Dim)
	}
	for _, k := range lay.Cols {
		m.ColDims = append(m.ColDims, spaces[k].Dim)
	}
	if lay.Given >= 0 {
		m.Given, m.GivenDim = labelsOf(spaces, []int{lay.Given})[0], spaces[lay.Given].Dim
	}
	m.Square, m.RowTitle, m.ColTitle = lay.Square, lay.RowTitle, lay.ColTitle
}

// labelsOf returns the labels of the spaces ks: each Label, or its Name.
func labelsOf(spaces []SpaceInfo, ks []int) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = spaces[k].Label
		if out[i] == "" {
			out[i] = spaces[k].Name
		}
	}
	return out
}

// Stat is one matrix of a MatrixResult.
type Stat struct {
	Key  string
	Grid [][]float64
	Def  string
}

// Stats returns the matrices in output order: bcdcor, p_value, dcor, and
// with a given space pdcor and semi_partial.
func (m *MatrixResult) Stats() []Stat {
	s := []Stat{
		{"bcdcor", m.BCDCor, "bias-corrected dCor² R*(row, col), U-statistic, in [-1, 1]; 0 under independence"},
		{"p_value", m.PValue, "p-value of the t-test of independence (Székely & Rizzo 2013)"},
		{"bcdcor_se", m.BCDCorSE, "delete-one jackknife standard error of bcdcor (-ci)"},
		{"perm_p_value", m.PermP, fmt.Sprintf("permutation test of independence (bcdcor), %d permutations, seed %d", m.Permutations, m.Seed)},
		{"dcor", m.DCor, "dCor(row, col), V-statistic, in [0, 1] (R energy::dcor); biased upward in high dimension"},
		{"dcor_sq", m.DCorSq, "dCor², the V-statistic (the seed paper's Distance_Correlation, with -normalize-rows)"},
		{"cka_linear", m.CKALinear, "debiased linear CKA (Kornblith et al. 2019, unbiased HSIC) (-cka)"},
		{"cka_rbf", m.CKARBF, "debiased CKA with the Gaussian kernel exp(-|x-x'|²/(2σ²)) (-cka)"},
		{"hsic_rbf_u", m.HSICRBFU, "unbiased HSIC with the Gaussian kernel (-cka)"},
		{"pdcor", m.PDCor, "partial dCor of row and col given " + m.Given + " (Székely & Rizzo 2014)"},
		{"pdcor_se", m.PDCorSE, "delete-one-block jackknife standard error of pdcor"},
		{"semi_partial", m.SemiPartial, "(R*(row,given) - R*(row,col)·R*(col,given)) / sqrt(1 - R*(row,col)²), as the seed paper's code"},
		{"semi_partial_se", m.SemiPartialSE, "delete-one-block jackknife standard error of semi_partial"},
	}
	return slices.DeleteFunc(s, func(s Stat) bool { return s.Grid == nil })
}

// Flagged is one matrix entry with degenerate-case flags.
type Flagged struct {
	Row, Col string
	Names    []string
}

// Flagged returns the entries with flags, row by row.
func (m *MatrixResult) Flagged() []Flagged {
	var out []Flagged
	for i, fs := range m.Flags {
		for j := range fs {
			if names := m.EntryFlags(i, j); len(names) > 0 {
				out = append(out, Flagged{m.Rows[i], m.Cols[j], names})
			}
		}
	}
	return out
}

// EntryFlags returns the flags of entry (i, j): its estimator.Flags'
// names and RBFUnderflow.
func (m *MatrixResult) EntryFlags(i, j int) []string {
	names := m.Flags[i][j].Names()
	if m.RBFUnknown != nil && m.RBFUnknown[i][j] {
		names = append(names, RBFUnderflow)
	}
	return names
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v) // strings and ints always marshal
	return string(b)
}

// MarshalJSON writes the object documented on MatrixResult.
func (m *MatrixResult) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"n":%d,"rows":%s,"cols":%s,"row_dims":%s,"col_dims":%s`,
		m.N, jsonOf(nonNil(m.Rows)), jsonOf(nonNil(m.Cols)), jsonOf(nonNilInt(m.RowDims)), jsonOf(nonNilInt(m.ColDims)))
	if m.Given != "" {
		fmt.Fprintf(&b, `,"given":%s,"given_dim":%d`, jsonOf(m.Given), m.GivenDim)
	}
	for _, s := range m.Stats() {
		writeGrid(&b, s.Key, s.Grid)
	}
	if m.RBFSigmaRows != nil {
		for _, s := range []struct {
			key string
			v   []float64
		}{{"rbf_sigma_rows", m.RBFSigmaRows}, {"rbf_sigma_cols", m.RBFSigmaCols}} {
			fmt.Fprintf(&b, ",%q:[", s.key)
			for i, v := range s.v {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(Number(v))
			}
			b.WriteByte(']')
		}
	}
	if m.BCDCorCov != nil {
		writeGrid(&b, "bcdcor_cov", m.BCDCorCov)
	}
	if m.CILevel > 0 {
		fmt.Fprintf(&b, `,"ci_level":%s`, Number(m.CILevel))
	}
	if m.PermP != nil {
		fmt.Fprintf(&b, `,"permutations":%d,"seed":%d`, m.Permutations, m.Seed)
	}
	if len(m.Contrasts) > 0 {
		b.WriteString(`,"compare":[`)
		for i, c := range m.Contrasts {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"a":{"row":%s,"col":%s},"b":{"row":%s,"col":%s},"diff":%s,"se":%s,"ci":[%s,%s]}`,
				jsonOf(m.Rows[c.A[0]]), jsonOf(m.Cols[c.A[1]]), jsonOf(m.Rows[c.B[0]]), jsonOf(m.Cols[c.B[1]]),
				Number(c.Diff), Number(c.SE), Number(c.CI[0]), Number(c.CI[1]))
		}
		b.WriteByte(']')
	}
	fmt.Fprintf(&b, `,"exponent":%s,"dropped_rows":%d,"normalize_rows":%t,"estimator":%s`,
		Number(m.Exponent), m.Dropped, m.NormalizeRows, jsonOf(m.Estimator()))
	if m.Precision != "" {
		fmt.Fprintf(&b, `,"precision":%q`, m.Precision)
	}
	if m.Minibatch > 0 {
		fmt.Fprintf(&b, `,"minibatch":{"size":%d,"batches":%d,"unused_samples":%d`, m.Minibatch, m.Batches, m.UnusedSamples)
		if m.Shuffled {
			fmt.Fprintf(&b, `,"shuffle_seed":%d`, m.ShuffleSeed)
		}
		if c := m.OrderCheck; c != nil {
			fmt.Fprintf(&b, `,"order_check":{"random_batches":%d,"stat":%s,"row":%s,"col":%s,"consecutive":%s,"random":%s,"t":%s,"df":%s,"p_value":%s,"threshold":%s,"warning":%t}`,
				c.Batches, jsonOf(c.Stat), jsonOf(c.Row), jsonOf(c.Col), Number(c.Consecutive), Number(c.Random), Number(c.T), Number(c.DF), Number(c.P), Number(c.Threshold), c.Warn)
		}
		b.WriteByte('}')
	}
	if m.Block > 0 {
		fmt.Fprintf(&b, `,"block":%d,"blocks":%d,"unused_rows":%d`, m.Block, m.Batches, m.UnusedSamples)
		if m.Shuffled {
			fmt.Fprintf(&b, `,"shuffle_seed":%d`, m.ShuffleSeed)
		}
	}
	m.Budget.writeJSON(&b)
	if m.Passes > 0 {
		fmt.Fprintf(&b, `,"passes":%d`, m.Passes)
	}
	b.WriteString(`,"flags":[`)
	for i, f := range m.Flagged() {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"row":%s,"col":%s,"flags":%s}`, jsonOf(f.Row), jsonOf(f.Col), jsonOf(nonNil(f.Names)))
	}
	b.WriteString("]}")
	return b.Bytes(), nil
}

// writeGrid writes ,"key":[[…],…], a matrix as an array of its rows.
func writeGrid(b *bytes.Buffer, key string, grid [][]float64) {
	fmt.Fprintf(b, ",%q:[", key)
	for i, row := range grid {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('[')
		for j, v := range row {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(Number(v))
		}
		b.WriteByte(']')
	}
	b.WriteByte(']')
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilInt(s []int) []int {
	if s == nil {
		return []int{}
	}
	return s
}
