package job

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/dcor-stream/dcor-stream/block"
	"github.com/dcor-stream/dcor-stream/estimator"
	"github.com/dcor-stream/dcor-stream/stream"
)

// BlockPair is the result of the block estimator in the pair mode
// (Spec.Estimator "blocks"): the U components averaged over blocks of
// Spec.Block consecutive samples, R* and pdCor of the means, each with
// its delete-one-block jackknife standard error (estimator.Blocks). Not
// the exact statistic: an estimate with its error. Its JSON is one object:
//
//	{"n", "estimator": "blocks", "block", "blocks", "unused_rows",
//	 ["shuffle_seed"], "bcdcor", "bcdcor_se", "dcov_u", "dcov_u_se", "dvar_x_u",
//	 "dvar_y_u", ["pdcor", "pdcor_se", "pdcov", "pdcov_se", "semi_partial",
//	 "semi_partial_se"], "exponent", "x_dim", "y_dim", ["z_dim"],
//	 [the fields of Choice under Spec.Budget], "flags"}
type BlockPair struct {
	estimator.BlockResult
	Partial     *estimator.BlockPartialResult // nil without Z
	Block       int                           // B
	Unused      int                           // rows of a last block of fewer than 4
	Spaces      []SpaceInfo
	Exponent    float64
	Shuffled    bool    // the rows taken in the order of a permutation
	ShuffleSeed uint64  // drawn from this seed
	Budget      *Choice // the choice of a Spec.Budget run; nil otherwise
}

// MarshalJSON writes the object documented on BlockPair.
func (p *BlockPair) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"n":%d,"estimator":"blocks","block":%d,"blocks":%d,"unused_rows":%d`, p.Rows, p.Block, p.Blocks, p.Unused)
	if p.Shuffled {
		fmt.Fprintf(&b, `,"shuffle_seed":%d`, p.ShuffleSeed)
	}
	num := func(k string, v float64) { fmt.Fprintf(&b, ",%q:%s", k, Number(v)) }
	// With one block the SEs are undefined: left out (flag se_undefined).
	se := func(k string, v float64) {
		if p.Flags&estimator.SEUndefined == 0 {
			num(k, v)
		}
	}
	num("bcdcor", p.BCDCor)
	se("bcdcor_se", p.BCDCorSE)
	num("dcov_u", p.DCovU)
	se("dcov_u_se", p.DCovUSE)
	num("dvar_x_u", p.DVarXU)
	num("dvar_y_u", p.DVarYU)
	flags := p.Flags
	if q := p.Partial; q != nil {
		num("pdcor", q.PDCor)
		se("pdcor_se", q.PDCorSE)
		num("pdcov", q.PDCov)
		se("pdcov_se", q.PDCovSE)
		num("semi_partial", q.SemiPartial)
		se("semi_partial_se", q.SemiPartialSE)
		flags |= q.Flags
	}
	num("exponent", p.Exponent)
	for i, sp := range p.Spaces {
		fmt.Fprintf(&b, ",\"%c_dim\":%d", "xyz"[i], sp.Dim)
	}
	p.Budget.writeJSON(&b)
	fmt.Fprintf(&b, `,"flags":%s}`, jsonOf(nonNil(flags.Names())))
	return b.Bytes(), nil
}

// WriteText writes the estimate with its standard errors and what it is.
func (p *BlockPair) WriteText(w io.Writer) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "n = %d samples in %d blocks of %d", p.Rows, p.Blocks, p.Block)
	if p.Unused > 0 {
		fmt.Fprintf(&b, " (%d rows after the last block unused)", p.Unused)
	}
	fmt.Fprintf(&b, ", distance exponent %s\n", Number(p.Exponent))
	b.WriteString("ESTIMATOR: blocks: exact U-statistics of each block averaged as components, R* of the means;\n" +
		"  an estimate of the full-sample statistic, with delete-one-block jackknife SEs\n")
	b.WriteString(shuffleNote(p.Shuffled, p.ShuffleSeed))
	p.Budget.writeText(&b)
	for i, sp := range p.Spaces {
		fmt.Fprintf(&b, "%c = %s\n", "XYZ"[i], sp.text())
	}
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	row := func(k string, v, se float64, def string) {
		s := textNumber(se)
		if p.Flags&estimator.SEUndefined != 0 {
			s = "undefined (one block)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t± %s\t%s\n", k, textNumber(v), s, def)
	}
	b.WriteByte('\n')
	row("bcdcor", p.BCDCor, p.BCDCorSE, "R* of the mean U components")
	row("dcov_u", p.DCovU, p.DCovUSE, "mean unbiased dCov² U(X,Y)")
	if q := p.Partial; q != nil {
		row("pdcor", q.PDCor, q.PDCorSE, "partial dCor given Z, from the means")
		row("pdcov", q.PDCov, q.PDCovSE, "partial dCov from the means")
		row("semi_partial", q.SemiPartial, q.SemiPartialSE, "(R*(X,Z) - R*(X,Y)·R*(Y,Z)) / sqrt(1 - R*(X,Y)²), from the means")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if names := p.Flags.Names(); len(names) > 0 {
		fmt.Fprintf(&b, "\nflags: %s\n", strings.Join(names, ", "))
	}
	_, err := w.Write(b.Bytes())
	return err
}

// shuffleNote says in what order the blocks took the rows, and what that
// assumes.
func shuffleNote(shuffled bool, seed uint64) string {
	if shuffled {
		return fmt.Sprintf("  rows in the order of a seeded permutation (-shuffle %d): block membership unrelated to the data\n", seed)
	}
	return "  rows in input order: it assumes block membership unrelated to the data (-shuffle SEED for ordered files)\n"
}

// runBlocks is the block estimator: one pass over the input in blocks of
// Spec.Block rows, each block's exact state computed (all the pairs of
// spaces the mode needs) and added to an estimator.Blocks. From files or
// an unbounded stream the rows come in their order and memory is
// O(Block·(p+q)) beyond 8 bytes per block and pair of spaces; from data
// in memory (Spec.Data, a Spec.Budget run) or with Spec.Shuffle (which
// loads the input) they come in the order of the seeded permutation, if
// any. In the pair mode with Every, OnBlocks gets the running estimate
// after every block that ends at or past each multiple of Every rows.
// The pair mode gives Results.Blocks, the matrix mode Results.Matrix.
func runBlocks(ctx context.Context, s *Spec) (*Outcome, error) {
	r := &runner{spec: s}
	opts := s.stateOptions()
	var (
		infos []SpaceInfo
		est   *estimator.Blocks
	)
	result := func(unused int) *BlockPair {
		p := &BlockPair{BlockResult: est.Pair(0, 1), Block: s.Block, Unused: unused, Spaces: infos, Exponent: opts.Exponent}
		if len(infos) == 3 {
			q := est.Partial(0, 1, 2)
			p.Partial = &q
		}
		return p
	}
	unused, next := 0, s.Every
	add := func(sp []block.Space, n int) error {
		if est == nil {
			est = estimator.NewBlocks(len(infos))
		}
		if n < 4 {
			unused = n // only the last block can be short
			return nil
		}
		st, err := block.Compute(ctx, sp, s.blockOptions())
		if err != nil {
			return err
		}
		if err := est.Add(st); err != nil {
			return err
		}
		if s.Every > 0 && est.Rows() >= next && s.OnBlocks != nil {
			for next <= est.Rows() {
				next += s.Every
			}
			return s.OnBlocks(result(0))
		}
		return nil
	}
	var (
		err     error
		dropped int
	)
	if s.Data != nil || s.Shuffle {
		dropped, err = r.memoryBlocks(ctx, &infos, add)
	} else {
		err = r.eachBlock(ctx, "the block estimator", s.Block, func(rd *stream.Reader, b *stream.Block, sp []block.Space) error {
			if infos == nil {
				infos = r.spaceInfos(rd.Spaces())
			}
			if s.DropInvalid {
				dropped = int(max(0, rd.Dropped()))
			}
			return add(sp, b.N)
		})
	}
	if err != nil {
		return nil, err
	}
	if est == nil || est.Len() == 0 {
		return nil, errors.New("the input has no block of at least 4 rows")
	}
	if s.Matrix != nil {
		m := blockMatrix(est, s.Matrix)
		m.setLabels(infos, s.Matrix)
		m.Exponent, m.Dropped, m.NormalizeRows = opts.Exponent, dropped, opts.NormalizeRows
		if opts.Precision != block.Float64.String() {
			m.Precision = opts.Precision
		}
		m.Block, m.Batches, m.UnusedSamples = s.Block, est.Len(), unused
		m.Shuffled, m.ShuffleSeed = s.Shuffle, s.ShuffleSeed
		return &Outcome{Results: Results{Matrix: m}}, nil
	}
	p := result(unused)
	p.Shuffled, p.ShuffleSeed = s.Shuffle, s.ShuffleSeed
	return &Outcome{Results: Results{Blocks: p}}, nil
}

// memoryBlocks loads the input (or takes Spec.Data), sets *infos, and
// calls add with each block of Spec.Block rows: rows i of the block
// sequence are the input's rows π(i), π the seeded permutation
// block.NewPermutation(n, Spec.ShuffleSeed).Of(0) with Spec.Shuffle,
// else the identity. It returns the rows dropped as invalid.
func (r *runner) memoryBlocks(ctx context.Context, infos *[]SpaceInfo, add func([]block.Space, int) error) (int, error) {
	s := r.spec
	tab, err := r.read(ctx)
	if err != nil {
		return 0, err
	}
	*infos = r.spaceInfos(tab.spaces)
	var perm []int
	if s.Shuffle {
		perm = block.NewPermutation(tab.n, s.ShuffleSeed).Of(0)
	}
	bufs := make([][]float64, len(tab.spaces))
	sp := make([]block.Space, len(tab.spaces))
	for i0 := 0; i0 < tab.n; i0 += s.Block {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		i1 := min(tab.n, i0+s.Block)
		for k, x := range tab.spaces {
			d := max(1, x.Dim)
			if perm == nil && !s.Options.NormalizeRows {
				sp[k] = block.Space{Data: x.Data[i0*d : i1*d], Dim: d}
				continue
			}
			buf := bufs[k][:0]
			for i := i0; i < i1; i++ {
				j := i
				if perm != nil {
					j = perm[i]
				}
				buf = append(buf, x.Data[j*d:(j+1)*d]...)
			}
			if s.Options.NormalizeRows {
				NormalizeRows(buf, d)
			}
			bufs[k], sp[k] = buf, block.Space{Data: buf, Dim: d}
		}
		if err := add(sp, i1-i0); err != nil {
			return 0, err
		}
	}
	return tab.dropped, nil
}

// blockMatrix reads the matrix of the layout off the block estimator:
// bcdcor with its SE and the jackknife covariance of the entries, and
// with a given space pdcor and semi_partial with their SEs. The
// V-statistics and the t-test have no block estimate: DCor, DCorSq and
// PValue are nil.
func blockMatrix(est *estimator.Blocks, lay *Matrix) *MatrixResult {
	r, c := len(lay.Rows), len(lay.Cols)
	res := &MatrixResult{N: est.Rows(), BCDCor: grid2(r, c), BCDCorSE: grid2(r, c), Flags: make([][]estimator.Flags, r)}
	if lay.Given >= 0 {
		res.PDCor, res.PDCorSE = grid2(r, c), grid2(r, c)
		res.SemiPartial, res.SemiPartialSE = grid2(r, c), grid2(r, c)
	}
	var entries [][2]int
	for i, x := range lay.Rows {
		res.Flags[i] = make([]estimator.Flags, c)
		for j, y := range lay.Cols {
			entries = append(entries, [2]int{x, y})
			p := est.Pair(x, y)
			res.BCDCor[i][j], res.BCDCorSE[i][j], res.Flags[i][j] = p.BCDCor, p.BCDCorSE, p.Flags
			if x == y { // as the exact matrix: a space against itself is not flagged
				res.Flags[i][j] &^= estimator.PerfectDependence
			}
			if lay.Given >= 0 {
				q := est.Partial(x, y, lay.Given)
				res.PDCor[i][j], res.PDCorSE[i][j] = q.PDCor, q.PDCorSE
				res.SemiPartial[i][j], res.SemiPartialSE[i][j] = q.SemiPartial, q.SemiPartialSE
				res.Flags[i][j] |= q.Flags
			}
		}
	}
	res.BCDCorCov = est.BCDCorCov(entries)
	if res.BCDCorCov == nil { // one block: every SE undefined, left out
		res.BCDCorSE, res.PDCorSE, res.SemiPartialSE = nil, nil, nil
	}
	return res
}
