package job

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/dcor-stream/dcor-stream/block"
	"github.com/dcor-stream/dcor-stream/stream"
	"golang.org/x/sync/errgroup"
)

// runOnline is the online mode: the rows are added to a block.Online
// Spec.Every at a time as they are read, OnEvery is called after each
// Every rows with the statistics so far, and the result is that of all
// the rows.
func runOnline(ctx context.Context, s *Spec) (*Outcome, error) {
	r := &runner{spec: s}
	opts := s.stateOptions()
	prec := ""
	if opts.Precision != block.Float64.String() {
		prec = opts.Precision
	}
	var (
		rd *stream.Reader
		on *block.Online
	)
	report := func() *Pair {
		dropped := 0
		if s.DropInvalid {
			dropped = int(max(0, rd.Dropped()))
		}
		return pairOf(on.Stats(), r.spaceInfos(rd.Spaces()), opts.Exponent, dropped, prec)
	}
	err := r.eachBlock(ctx, "the online mode", s.Every, func(from *stream.Reader, b *stream.Block, sp []block.Space) error {
		rd = from
		if on == nil {
			var err error
			if on, err = block.NewOnline(b.Dims, s.blockOptions()); err != nil {
				return err
			}
		}
		if err := on.Add(ctx, sp); err != nil {
			return err
		}
		if b.N == s.Every && s.OnEvery != nil {
			return s.OnEvery(report())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if on == nil {
		return nil, errors.New("the input has no rows")
	}
	return &Outcome{Results: Results{Pair: report()}}, nil
}

// eachBlock is one pass over the input of the spec (files or a Reader,
// not Data; what names the mode in that error) in blocks of rows rows:
// fn gets the reader, each block and its spaces as the tiles see them
// (rows normalised if asked), in order. The reader is closed after the
// pass, and its error returned if there is no other.
func (r *runner) eachBlock(ctx context.Context, what string, rows int, fn func(*stream.Reader, *stream.Block, []block.Space) error) (err error) {
	s := r.spec
	if s.Data != nil {
		return fmt.Errorf("%s reads files or a Reader: %w", what, ErrSpec)
	}
	rd, closeReader, err := s.openReader(ctx, false, min(rows, 64<<10))
	if err != nil {
		return err
	}
	defer func() {
		if cerr := closeReader(); err == nil {
			err = cerr
		}
	}()
	pass, err := rd.NewPass(ctx, 0, rows)
	if err != nil {
		return err
	}
	defer pass.Close()
	var sp []block.Space
	for {
		b, err := pass.Next(ctx)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		sp = r.transform(sp, b)
		if err := fn(rd, b, sp); err != nil {
			return err
		}
	}
}

// runMinibatch is the minibatch estimator of a matrix job: every
// statistic is the mean, over the consecutive batches of B samples, of
// the statistic of the batch alone; a last batch of fewer than B samples
// is kept if it has at least 4 (U-statistics need n ≥ 4) and dropped
// otherwise. The batches are computed concurrently, one worker each, and
// averaged in batch order, so the result does not depend on the number
// of workers. Its flags are the union of the batches' flags.
func runMinibatch(ctx context.Context, s *Spec) (*Outcome, error) {
	r := &runner{spec: s}
	tab, _, err := r.load(ctx)
	if err != nil {
		return nil, err
	}
	infos := r.spaceInfos(tab.spaces)
	spaces := make([]block.Space, len(tab.spaces))
	for k, sp := range tab.spaces {
		x := sp.Data
		if s.Options.NormalizeRows {
			if !tab.owned {
				x = append([]float64(nil), x...)
			}
			NormalizeRows(x, sp.Dim)
		}
		spaces[k] = block.Space{Data: x, Dim: max(1, sp.Dim)}
	}
	lay, batch, n := s.Matrix, s.Matrix.Minibatch, tab.n
	var bounds [][2]int
	for i0 := 0; i0 < n; i0 += batch {
		i1 := min(n, i0+batch)
		if i1-i0 < 4 {
			break
		}
		bounds = append(bounds, [2]int{i0, i1})
	}
	if len(bounds) == 0 {
		return nil, fmt.Errorf("-minibatch %d: %d samples make no batch of at least 4", batch, n)
	}
	parts := make([]*MatrixResult, len(bounds))
	g, gctx := errgroup.WithContext(ctx)
	// Batches are small: one worker per batch, as many batches at once as
	// workers (CPU bound).
	g.SetLimit(s.workers())
	bopts := s.blockOptions()
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
			parts[b] = matrixOf(st, lay)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res := newMatrixResult(n, len(lay.Rows), len(lay.Cols), lay.Given >= 0)
	res.PValue = nil // a mean of p-values is no p-value
	res.Minibatch, res.Batches = batch, len(bounds)
	res.UnusedSamples = n - bounds[len(bounds)-1][1]
	grids := func(m *MatrixResult) [][][]float64 {
		return [][][]float64{m.DCor, m.DCorSq, m.BCDCor, m.PDCor, m.SemiPartial}
	}
	for _, p := range parts {
		for gi, src := range grids(p) {
			dst := grids(res)[gi]
			for i := range dst {
				for j := range dst[i] {
					dst[i][j] += src[i][j]
				}
			}
		}
		for i := range res.Flags {
			for j := range res.Flags[i] {
				res.Flags[i][j] |= p.Flags[i][j]
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
	opts := s.stateOptions()
	res.setLabels(infos, lay)
	res.Exponent, res.Dropped, res.NormalizeRows = opts.Exponent, tab.dropped, opts.NormalizeRows
	if opts.Precision != block.Float64.String() {
		res.Precision = opts.Precision
	}
	return &Outcome{Results: Results{Matrix: res}}, nil
}
