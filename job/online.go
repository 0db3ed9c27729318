package job

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/dcor-stream/dcor-stream/block"
	"github.com/dcor-stream/dcor-stream/stream"
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
