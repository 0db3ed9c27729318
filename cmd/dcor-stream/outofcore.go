package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/dcor-stream/dcor-stream/block"
	"github.com/dcor-stream/dcor-stream/estimator"
	"github.com/dcor-stream/dcor-stream/stream"
)

// parseSize parses a memory size: a number of bytes, optionally followed
// by a unit: B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (of
// 1024), in any case.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(c rune) bool { return !(c >= '0' && c <= '9' || c == '.') })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	}
	mult := map[string]float64{
		"": 1, "b": 1,
		"k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
		"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
	}[unit]
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || mult == 0 || !(v*mult >= 1) || v*mult >= 1<<62 {
		return 0, usagef("-mem %q: want a size such as 64MiB, 8GiB, 512MB or a number of bytes", s)
	}
	return int64(v * mult), nil
}

// toSpaces views the spaces of a stream block as block spaces.
func toSpaces(dst []block.Space, b *stream.Block) []block.Space {
	dst = dst[:0]
	for k, x := range b.Spaces {
		dst = append(dst, block.Space{Data: x, Dim: b.Dims[k]})
	}
	return dst
}

// outOfCore is the layout of a run under a memory budget.
type outOfCore struct {
	held, streamed int // rows of a panel, and of a streamed block
	clamped        bool
}

// panelLayout chooses the panel: the streamed blocks are up to 4 tiles, and the
// held panel the largest multiple of them that fits what the budget leaves
// after the stream's buffers (the block, its copy in the panel and an
// input batch), the workers' scratch and the row sums of the state; at
// least one tile each.
func panelLayout(pl *block.Plan, budget int64, n int) outOfCore {
	t := pl.TileSize()
	rb := pl.RowBytes()
	fixed := pl.ScratchBytes() + 16*int64(n)*int64(len(pl.Dims()))
	streamed := t
	for c := 4; c > 1; c-- {
		if fixed+3*int64(c*t)*rb+int64(c*t)*rb <= budget {
			streamed = c * t
			break
		}
	}
	left := budget - fixed - 3*int64(streamed)*rb
	held := int(max(0, left/rb)) / streamed * streamed
	l := outOfCore{held: held, streamed: streamed}
	if held < streamed {
		l.held, l.clamped = streamed, true
	}
	// No larger than the data, in whole blocks.
	l.held = min(l.held, max(streamed, (n+streamed-1)/streamed*streamed))
	return l
}

// computeOutOfCore is compute under -mem: the first pass reads the leading
// rows (centring means, shifts), the bounds and n; then each panel of rows
// is held in memory while every later block is streamed past it, one pass
// per panel. The state is the same, byte for byte, as the in-memory run's.
func computeOutOfCore(ctx context.Context, o options, specs []stream.Spec, stdin io.Reader, stdout, stderr io.Writer) error {
	res, err := runOutOfCore(ctx, memJob{
		file: o.file, specs: specs, stdin: stdin,
		mem: o.mem, memText: o.memText, tmpdir: o.tmpdir, dropInvalid: o.dropInvalid,
		bo: o.blockOptions(), afterPass: o.afterPass, quiet: o.quiet, progress: o.progress,
	}, stderr)
	if err != nil {
		return err
	}
	hdr := runHeader(o, res.n, res.dropped, res.spaces)
	rep := newReport(hdr, res.st)
	if o.format != "json" {
		return rep.write(stdout, o.format)
	}
	return writeJSONWith(stdout, rep, fmt.Sprintf("\"passes\":%d", res.passes))
}

// memJob is a run of the out-of-core schedule under a memory budget.
type memJob struct {
	file        string
	specs       []stream.Spec
	stdin       io.Reader
	mem         int64  // the budget in bytes
	memText     string // as the user gave it, for messages
	tmpdir      string
	dropInvalid bool
	bo          block.Options
	transform   func([]block.Space) // applied to every block as it is read (-normalize-rows); optional
	afterPass   func(int)           // called after each pass, for tests; optional
	quiet       bool                // -quiet: no progress
	progress    bool                // -progress: progress lines even when stderr is not a terminal
}

// memResult is what outOfCore computed.
type memResult struct {
	st      *estimator.Stats
	n       int
	dropped int
	passes  int
	spaces  []stream.Space // without data
}

// runOutOfCore runs the schedule of DESIGN §3: a first pass finds the plan
// (leading rows), the bounds and n; then each pass holds the largest panel
// of rows the budget allows, adds its own tiles, and streams every later
// row past it. The state equals block.Compute's on the whole data, byte
// for byte.
func runOutOfCore(ctx context.Context, job memJob, stderr io.Writer) (res memResult, err error) {
	// The garbage collector keeps the heap near the budget (plus room for
	// the runtime and the input's decoding buffers), unless GOMEMLIMIT
	// says otherwise: by default it lets the heap grow to twice what is
	// live, the input batches of each pass being garbage.
	if os.Getenv("GOMEMLIMIT") == "" {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(job.mem + 16<<20))
	}
	t := block.LeadRows(job.bo)
	sopts := stream.Options{DropInvalid: job.dropInvalid, Stdin: job.stdin, Spill: true, TempDir: job.tmpdir, BatchRows: 1024}
	r, err := stream.NewReader(ctx, job.file, job.specs, sopts)
	if err != nil {
		return res, err
	}
	defer func() {
		if cerr := r.Close(); err == nil {
			err = cerr
		}
	}()

	// Pass 1: leading rows, then bounds and n.
	pl, passes, err := scanPass(ctx, r, job.bo, t, job.transform)
	if err != nil {
		return res, err
	}
	if job.afterPass != nil {
		job.afterPass(passes)
	}
	st, err := pl.NewStats()
	if err != nil {
		return res, err
	}
	n := pl.N()
	lay := panelLayout(pl, job.mem, n)
	if lay.clamped {
		fmt.Fprintf(stderr, "dcor-stream: -mem %s is less than the smallest panel; using panels of one tile (%d rows)\n", job.memText, lay.held)
	}
	pn := pl.NewPanel(lay.held, lay.streamed)
	var sp []block.Space
	// Progress counts pairs (with each row's pair with itself): a panel
	// of m rows is m(m+1)/2 of them, and each streamed block of k rows
	// adds k·m.
	total := n * (n + 1) / 2
	prog := newProgress(stderr, job.quiet, job.progress, float64(total))
	done := 0
	advance := func(pairs int) {
		done += pairs
		if prog != nil {
			prog.update(st, done, total)
		}
	}
	if prog != nil {
		prog.unit = "pairs"
		defer prog.finish()
	}
	for i0 := 0; i0 < n; i0 += lay.held {
		m := min(lay.held, n-i0)
		if err := panelPass(ctx, r, pl, pn, st, i0, m, lay.streamed, &sp, job.transform, advance); err != nil {
			return res, err
		}
		passes++
		if job.afterPass != nil {
			job.afterPass(passes)
		}
	}
	fmt.Fprintf(stderr, "dcor-stream: out of core: %d rows in %d panels of %d rows, %d passes over the input\n",
		n, (n+lay.held-1)/max(1, lay.held), lay.held, passes)
	res = memResult{st: st, n: n, passes: passes, spaces: r.Spaces()}
	if job.dropInvalid {
		res.dropped = int(max(0, r.Dropped()))
	}
	return res, nil
}

// scanPass is the first pass: it keeps the first lead rows until it has
// them all (or the data ends) to prepare the plan, and takes every row
// into the bounds.
func scanPass(ctx context.Context, r *stream.Reader, bo block.Options, lead int, transform func([]block.Space)) (*block.Plan, int, error) {
	pass, err := r.NewPass(ctx, 0, 1024)
	if err != nil {
		return nil, 0, err
	}
	defer pass.Close()
	var (
		first [][]float64
		dims  []int
		pl    *block.Plan
		sp    []block.Space
		have  int
	)
	prepare := func() error {
		fs := make([]block.Space, len(first))
		for k := range first {
			fs[k] = block.Space{Data: first[k], Dim: dims[k]}
		}
		var err error
		if pl, err = block.Prepare(fs, bo); err != nil {
			return err
		}
		first = nil
		return pl.ScanBound(fs)
	}
	for {
		b, err := pass.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, 0, err
		}
		sp = toSpaces(sp, b)
		if transform != nil {
			transform(sp)
		}
		if pl != nil {
			if err := pl.ScanBound(sp); err != nil {
				return nil, 0, err
			}
			continue
		}
		if first == nil {
			first = make([][]float64, len(sp))
			dims = append([]int(nil), b.Dims...)
		}
		for k, s := range sp {
			first[k] = append(first[k], s.Data...)
		}
		have += b.N
		if have >= lead {
			if err := prepare(); err != nil {
				return nil, 0, err
			}
		}
	}
	if pl == nil {
		if first == nil { // no rows
			first = make([][]float64, len(r.Spaces()))
			dims = make([]int, len(first))
			for k, s := range r.Spaces() {
				dims[k] = max(1, s.Dim)
			}
		}
		if err := prepare(); err != nil {
			return nil, 0, err
		}
	}
	return pl, 1, nil
}

// panelPass holds the rows [i0, i0+m) in pn, adds their tiles, then
// streams every later row past them, telling advance how many pairs each
// step added.
func panelPass(ctx context.Context, r *stream.Reader, pl *block.Plan, pn *block.Panel, st *estimator.Stats, i0, m, streamed int, sp *[]block.Space, transform func([]block.Space), advance func(pairs int)) error {
	pass, err := r.NewPass(ctx, int64(i0), streamed)
	if err != nil {
		return err
	}
	defer pass.Close()
	pn.Hold(i0)
	for {
		b, err := pass.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		*sp = toSpaces(*sp, b)
		if transform != nil {
			transform(*sp)
		}
		if int(b.Row0) < i0+m {
			if err := pn.Append(*sp); err != nil {
				return err
			}
			if pn.Held() == m {
				if err := pn.AddHeld(ctx, st); err != nil {
					return err
				}
				advance(m * (m + 1) / 2)
				if i0+m == pl.N() {
					return nil // the last panel: no later rows
				}
			}
			continue
		}
		if err := pn.AddStream(ctx, st, int(b.Row0), *sp); err != nil {
			return err
		}
		advance(m * b.N)
	}
	if pn.Held() != m {
		return fmt.Errorf("%w: the input ended at row %d in this pass, at %d in the first: it changed", stream.ErrRowMismatch, i0+pn.Held(), pl.N())
	}
	return nil
}

// runHeader describes a run of o over n rows as newStateHeader does over a
// loaded table (without the fingerprint, which -mem and -every do not
// write).
func runHeader(o options, n, dropped int, spaces []stream.Space) *stateHeader {
	h := &stateHeader{
		Version: 1,
		Options: stateOptions{Exponent: o.exponent, Tile: o.tile, DropInvalid: o.dropInvalid, Precision: o.prec.String()},
		N:       n,
		Dropped: dropped,
		Shards:  1,
	}
	for _, sp := range spaces {
		h.Spaces = append(h.Spaces, stateSpace{Name: sp.Name, Columns: sp.Columns, Dim: sp.Dim})
	}
	return h
}

// readerHeader is runHeader for the rows r has read so far.
func readerHeader(r *stream.Reader, o options, n int) *stateHeader {
	dropped := 0
	if o.dropInvalid {
		dropped = int(max(0, r.Dropped()))
	}
	return runHeader(o, n, dropped, r.Spaces())
}

// writeJSONWith writes rep as JSON with one more member, extra ("key":value),
// at the end of the object.
func writeJSONWith(w io.Writer, rep *report, extra string) error {
	var b bytes.Buffer
	if err := rep.writeJSON(&b); err != nil {
		return err
	}
	out := bytes.TrimSuffix(b.Bytes(), []byte("}\n"))
	if len(out) == b.Len() {
		return errors.New("internal error: JSON report does not end with }")
	}
	out = append(out, ","...)
	out = append(out, extra...)
	out = append(out, "}\n"...)
	_, err := w.Write(out)
	return err
}

// computeOnline is compute under -every N: the rows are added to an
// online computation N at a time, a JSON line of the statistics so far is
// printed after each N rows, and the result after the last row.
func computeOnline(ctx context.Context, o options, specs []stream.Spec, stdin io.Reader, stdout, stderr io.Writer) (err error) {
	sopts := stream.Options{DropInvalid: o.dropInvalid, Stdin: stdin, BatchRows: min(o.every, 64<<10)}
	r, err := stream.NewReader(ctx, o.file, specs, sopts)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := r.Close(); err == nil {
			err = cerr
		}
	}()
	pass, err := r.NewPass(ctx, 0, o.every)
	if err != nil {
		return err
	}
	defer pass.Close()
	var (
		on *block.Online
		sp []block.Space
	)
	for {
		b, err := pass.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		sp = toSpaces(sp, b)
		if on == nil {
			if on, err = block.NewOnline(b.Dims, o.blockOptions()); err != nil {
				return err
			}
		}
		if err := on.Add(ctx, sp); err != nil {
			return err
		}
		if b.N == o.every {
			hdr := readerHeader(r, o, on.N())
			if err := newReport(hdr, on.Stats()).writeJSON(stdout); err != nil {
				return err
			}
		}
	}
	if on == nil {
		return errors.New("the input has no rows")
	}
	return newReport(readerHeader(r, o, on.N()), on.Stats()).write(stdout, o.format)
}
