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
//	 "bcdcor", "bcdcor_se", "dcov_u", "dcov_u_se", "dvar_x_u", "dvar_y_u",
//	 ["pdcor", "pdcor_se", "pdcov", "pdcov_se"], "exponent", "x_dim",
//	 "y_dim", ["z_dim"], "flags"}
type BlockPair struct {
	estimator.BlockResult
	Partial  *estimator.BlockPartialResult // nil without Z
	Block    int                           // B
	Unused   int                           // rows of a last block of fewer than 4
	Spaces   []SpaceInfo
	Exponent float64
}

// MarshalJSON writes the object documented on BlockPair.
func (p *BlockPair) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"n":%d,"estimator":"blocks","block":%d,"blocks":%d,"unused_rows":%d`, p.Rows, p.Block, p.Blocks, p.Unused)
	num := func(k string, v float64) { fmt.Fprintf(&b, ",%q:%s", k, Number(v)) }
	num("bcdcor", p.BCDCor)
	num("bcdcor_se", p.BCDCorSE)
	num("dcov_u", p.DCovU)
	num("dcov_u_se", p.DCovUSE)
	num("dvar_x_u", p.DVarXU)
	num("dvar_y_u", p.DVarYU)
	flags := p.Flags
	if q := p.Partial; q != nil {
		num("pdcor", q.PDCor)
		num("pdcor_se", q.PDCorSE)
		num("pdcov", q.PDCov)
		num("pdcov_se", q.PDCovSE)
		flags |= q.Flags
	}
	num("exponent", p.Exponent)
	for i, sp := range p.Spaces {
		fmt.Fprintf(&b, ",\"%c_dim\":%d", "xyz"[i], sp.Dim)
	}
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
		"  an estimate of the full-sample statistic, with delete-one-block jackknife SEs; it assumes\n" +
		"  that block membership is unrelated to the data (shuffle ordered files)\n")
	for i, sp := range p.Spaces {
		fmt.Fprintf(&b, "%c = %s (%d dims)\n", "XYZ"[i], spaceLabel(sp.Name, sp.Columns), sp.Dim)
	}
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	row := func(k string, v, se float64, def string) {
		fmt.Fprintf(tw, "  %s\t%s\t± %s\t%s\n", k, textNumber(v), textNumber(se), def)
	}
	b.WriteByte('\n')
	row("bcdcor", p.BCDCor, p.BCDCorSE, "R* of the mean U components")
	row("dcov_u", p.DCovU, p.DCovUSE, "mean unbiased dCov² U(X,Y)")
	if q := p.Partial; q != nil {
		row("pdcor", q.PDCor, q.PDCorSE, "partial dCor given Z, from the means")
		row("pdcov", q.PDCov, q.PDCovSE, "partial dCov from the means")
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

// runBlocks is the block estimator: one pass over the input (files or an
// unbounded stream) in blocks of Spec.Block rows, each block's exact state
// computed and added to an estimator.Blocks; memory O(Block·(p+q)) beyond
// 8 bytes per block and pair of spaces. With Every, OnBlocks gets the
// running estimate after every block that ends at or past each multiple of
// Every rows.
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
	err := r.eachBlock(ctx, "the block estimator", s.Block, func(rd *stream.Reader, b *stream.Block, sp []block.Space) error {
		if est == nil {
			infos = r.spaceInfos(rd.Spaces())
			est = estimator.NewBlocks(len(infos))
		}
		if b.N < 4 {
			unused = b.N // only the last block can be short
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
	})
	if err != nil {
		return nil, err
	}
	if est == nil || est.Len() == 0 {
		return nil, errors.New("the input has no block of at least 4 rows")
	}
	return &Outcome{Results: Results{Blocks: result(unused)}}, nil
}
