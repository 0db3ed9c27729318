package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

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
		checkpoint: o.checkpoint, checkpointEvery: o.checkpointEvery, header: runHeader(o, 0, 0, nil),
	}, stderr)
	if err != nil {
		return err
	}
	hdr := runHeader(o, res.n, res.dropped, res.spaces)
	rep := newReport(hdr, res.st)
	if o.format != "json" {
		err = rep.write(stdout, o.format)
	} else {
		err = writeJSONWith(stdout, rep, fmt.Sprintf("\"passes\":%d", res.passes))
	}
	if err == nil && o.checkpoint != "" {
		if err = os.Remove(o.checkpoint); errors.Is(err, fs.ErrNotExist) {
			err = nil
		}
	}
	return err
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
	// With checkpoint, the state is written there every checkpointEvery
	// (see writeState), and a run finding it resumes from it, if it is
	// of the same run: header (its options), the inputs (a SHA-256 of
	// every value, taken in the first pass) and the panels.
	checkpoint      string
	checkpointEvery time.Duration
	header          *stateHeader
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
	var sum hash.Hash
	if job.checkpoint != "" {
		sum = sha256.New()
	}
	pl, passes, err := scanPass(ctx, r, job.bo, t, job.transform, sum)
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
	// The checkpoint: resume from it, and save to it as the run goes.
	at := panelProgress{Rows: lay.held}
	save := func(panelProgress) error { return nil }
	if job.checkpoint != "" {
		hdr := *job.header
		hdr.N, hdr.Spaces = n, stateSpaces(r.Spaces())
		if job.dropInvalid {
			hdr.Dropped = int(max(0, r.Dropped()))
		}
		hdr.Fingerprint = streamFingerprint(sum, n, r.Spaces())
		hdr.Range = [2]int{0, block.TileCount(n, job.bo)}
		hdr.Panel = &at
		if at, st, err = resumePanels(job.checkpoint, &hdr, st, stderr); err != nil {
			return res, err
		}
		var last time.Time
		save = func(p panelProgress) error {
			if time.Since(last) < job.checkpointEvery {
				return nil
			}
			last = time.Now()
			h := hdr
			h.Panel = &p
			return writeState(job.checkpoint, &h, st)
		}
	}
	// Progress counts pairs (with each row's pair with itself): a panel
	// of m rows is m(m+1)/2 of them, and each streamed block of k rows
	// adds k·m.
	total := n * (n + 1) / 2
	prog := newProgress(stderr, job.quiet, job.progress, float64(total))
	done := at.pairs(n)
	advance := func(pairs int) {
		done += pairs
		if prog != nil {
			prog.update(st, done, total)
		}
	}
	if prog != nil {
		prog.unit, prog.base = "pairs", done
		defer prog.finish()
	}
	for i0 := at.Done * lay.held; i0 < n; i0 += lay.held {
		m := min(lay.held, n-i0)
		from := 0
		if i0 == at.Done*lay.held {
			from = at.Streamed
		}
		step := func(pairs, streamed int) error {
			advance(pairs)
			return save(panelProgress{Rows: lay.held, Done: i0 / lay.held, Streamed: streamed})
		}
		if err := panelPass(ctx, r, pl, pn, st, i0, m, lay.streamed, from, &sp, job.transform, step); err != nil {
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

// pairs returns the pairs of rows (with each row's pair with itself)
// that p says are added, in a run of n rows.
func (p panelProgress) pairs(n int) int {
	done := 0
	for i0 := 0; i0 < p.Done*p.Rows && i0 < n; i0 += p.Rows {
		m := min(p.Rows, n-i0)
		done += m*(m+1)/2 + m*(n-i0-m)
	}
	if i0 := p.Done * p.Rows; p.Streamed > 0 && i0 < n {
		m := min(p.Rows, n-i0)
		done += m*(m+1)/2 + m*(p.Streamed-i0-m)
	}
	return done
}

// resumePanels returns the progress and state of the checkpoint at path,
// if there is one and it is of the run cur; at the start and st if there
// is none. A checkpoint of another run is an error: the user removes it.
func resumePanels(path string, cur *stateHeader, st *estimator.Stats, stderr io.Writer) (panelProgress, *estimator.Stats, error) {
	saved, sst, err := readCheckpoint(path, cur)
	if err != nil {
		return panelProgress{}, nil, err
	}
	if saved == nil {
		return *cur.Panel, st, nil
	}
	for k := range st.K() {
		if sst.Shift(k) != st.Shift(k) || sst.Scale(k) != st.Scale(k) {
			return panelProgress{}, nil, fmt.Errorf("checkpoint %s cannot be resumed: its shifts or scales differ; remove it to start over: %w", path, errState)
		}
	}
	p := *saved.Panel
	fmt.Fprintf(stderr, "dcor-stream: resuming from %s: %d of %d panels done", path, p.Done, (cur.N+p.Rows-1)/p.Rows)
	if p.Streamed > 0 {
		fmt.Fprintf(stderr, ", and panel %d up to row %d", p.Done, p.Streamed)
	}
	fmt.Fprintln(stderr)
	return p, sst, nil
}

// streamFingerprint is fingerprint for a run under -mem: a SHA-256 of the
// number of rows, the columns and dimensions of each space, and sum, the
// hash of every value the first pass read.
func streamFingerprint(sum hash.Hash, n int, spaces []stream.Space) string {
	h := sha256.New()
	var b [8]byte
	put := func(v uint64) {
		binary.LittleEndian.PutUint64(b[:], v)
		h.Write(b[:])
	}
	put(uint64(n))
	for _, sp := range spaces {
		put(uint64(sp.Dim))
		for _, c := range sp.Columns {
			put(uint64(len(c)))
			io.WriteString(h, c)
		}
	}
	h.Write(sum.Sum(nil))
	return hex.EncodeToString(h.Sum(nil))
}

// hashValues writes the values of every space of b to h.
func hashValues(h hash.Hash, b *stream.Block, buf []byte) []byte {
	for _, x := range b.Spaces {
		buf = buf[:0]
		for _, v := range x {
			buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(v))
		}
		h.Write(buf)
	}
	return buf
}

// scanPass is the first pass: it keeps the first lead rows until it has
// them all (or the data ends) to prepare the plan, and takes every row
// into the bounds, and into sum if it is not nil.
func scanPass(ctx context.Context, r *stream.Reader, bo block.Options, lead int, transform func([]block.Space), sum hash.Hash) (*block.Plan, int, error) {
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
		buf   []byte
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
		if sum != nil {
			buf = hashValues(sum, b, buf)
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
// streams every later row past them, telling step after each addition how
// many pairs it added and the row streaming has reached. A pass resumed
// from a checkpoint skips what is done: with from > 0, the panel's own
// tiles and the rows before from.
func panelPass(ctx context.Context, r *stream.Reader, pl *block.Plan, pn *block.Panel, st *estimator.Stats, i0, m, streamed, from int, sp *[]block.Space, transform func([]block.Space), step func(pairs, streamed int) error) error {
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
				if from == 0 {
					if err := pn.AddHeld(ctx, st); err != nil {
						return err
					}
					if err := step(m*(m+1)/2, i0+m); err != nil {
						return err
					}
				}
				if i0+m == pl.N() {
					return nil // the last panel: no later rows
				}
			}
			continue
		}
		row0 := int(b.Row0)
		if row0+b.N <= from {
			continue // added before the checkpoint
		}
		if row0 < from {
			return fmt.Errorf("the checkpoint ends inside the block of rows %d to %d: %w", row0, row0+b.N, errState)
		}
		if err := pn.AddStream(ctx, st, row0, *sp); err != nil {
			return err
		}
		if err := step(m*b.N, row0+b.N); err != nil {
			return err
		}
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
	h.Spaces = stateSpaces(spaces)
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
