package job

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math"

	"github.com/dcor-stream/dcor-stream/block"
	"github.com/dcor-stream/dcor-stream/stream"
)

// table is the data of an in-memory run.
type table struct {
	n       int
	dropped int
	spaces  []stream.Space
	files   []string // per space: the file it is read from
	owned   bool     // the data is the run's own (not Spec.Data)
}

// openReader opens the reader of the spec's files (or returns the
// caller's, with a no-op close), and checks the dimensions it declares
// against the budget before any row is read.
func (s *Spec) openReader(ctx context.Context, spill bool, batchRows int) (*stream.Reader, func() error, error) {
	r := s.Reader
	closer := func() error { return nil }
	if r == nil {
		var err error
		r, err = stream.NewReader(ctx, s.File, s.Spaces, stream.Options{DropInvalid: s.DropInvalid, Stdin: s.Stdin, Spill: spill, TempDir: s.TempDir, BatchRows: batchRows,
			Key: s.Key, KeyDrop: s.KeyMissing == "drop", Aligned: s.Aligned, Workers: s.workers(),
			// Row normalisation is not translation invariant: no centre.
			RawIntegers: s.Options.NormalizeRows})
		if err != nil {
			return nil, nil, err
		}
		closer = r.Close
		s.notifyKey(r.Key())
	}
	infos := make([]SpaceInfo, 0)
	for _, sp := range r.Spaces() {
		infos = append(infos, SpaceInfo{Name: sp.Name, Columns: sp.Columns, Dim: sp.Dim})
	}
	if err := s.checkBudget(infos, s.files()); err != nil {
		closer()
		return nil, nil, err
	}
	return r, closer, nil
}

// files returns the file each space is read from, for messages.
func (s *Spec) files() []string {
	k := len(s.Spaces)
	if s.Data != nil {
		k = len(s.Data)
	}
	if s.Reader != nil {
		k = len(s.Reader.Spaces())
	}
	out := make([]string, k)
	for i := range out {
		out[i] = "input"
		if i < len(s.Spaces) {
			out[i] = s.File
			if f := s.Spaces[i].File; f != "" {
				out[i] = f
			}
			if out[i] == "-" {
				out[i] = "stdin"
			}
		}
	}
	return out
}

// loadBatchRows is the Arrow batch size of the formats that take one
// (Parquet, CSV) when the data is loaded: a batch is decoded and dropped
// while the data grows, so a smaller one keeps less alongside the data
// (at 100,000 × 64 from Parquet, batches of 65,536 rows peaked 50 MB
// higher) for no measurable CPU.
const loadBatchRows = 8192

// load reads the data into memory and hashes it (the chunk sums of the
// fingerprint).
func (r *runner) load(ctx context.Context) (*table, [][sha256.Size]byte, error) {
	tab, err := r.read(ctx)
	if err != nil {
		return nil, nil, err
	}
	cols, dims := tab.columns()
	sums, err := hashChunks(ctx, cols, dims, tab.n, r.spec.stateOptions().Tile, r.spec.workers())
	return tab, sums, err
}

// read reads the data into memory (or checks the shape of Spec.Data).
func (r *runner) read(ctx context.Context) (*table, error) {
	s := r.spec
	if s.Data != nil {
		tab := &table{spaces: s.Data, files: s.files(), dropped: s.dropped}
		for k, sp := range s.Data {
			if sp.Dim < 1 || len(sp.Data)%sp.Dim != 0 {
				return nil, errShape(k, sp)
			}
		}
		tab.n = rowsOf(s.Data[0])
		for k, sp := range s.Data {
			if rowsOf(sp) != tab.n {
				return nil, fmt.Errorf("space %d (%s): %d rows, space 0 has %d: %w", k, sp.Name, rowsOf(sp), tab.n, block.ErrSampleCount)
			}
		}
		return tab, nil
	}
	rd, closeReader, err := s.openReader(ctx, false, loadBatchRows)
	if err != nil {
		return nil, err
	}
	defer closeReader()
	data, err := rd.ReadAll(ctx)
	if err != nil {
		return nil, err
	}
	tab := &table{n: int(rd.N()), spaces: rd.Spaces(), files: s.files(), owned: true}
	if s.DropInvalid {
		tab.dropped = int(max(0, rd.Dropped()))
	}
	for k := range tab.spaces {
		tab.spaces[k].Data = data[k]
	}
	return tab, nil
}

// columns returns the data and the dimensions of the spaces (at least 1).
func (t *table) columns() ([][]float64, []int) {
	data := make([][]float64, len(t.spaces))
	dims := make([]int, len(t.spaces))
	for k, sp := range t.spaces {
		data[k], dims[k] = sp.Data, max(1, sp.Dim)
	}
	return data, dims
}

// inMemory is the in-memory schedule: the data loaded, then the tiles of
// the shard not yet done, on the workers.
func (r *runner) inMemory(ctx context.Context) (*Outcome, error) {
	s := r.spec
	tab, sums, err := r.load(ctx)
	if err != nil {
		return nil, err
	}
	infos := r.spaceInfos(tab.spaces)
	if err := s.checkContrasts(infos); err != nil {
		return nil, err
	}
	if err := s.checkBudget(infos, tab.files); err != nil {
		return nil, err
	}
	r.begin(tab.n, tab.dropped, infos, sums)
	spaces := tab.blockSpaces(s.Options.NormalizeRows, true)
	if s.CKA {
		p, err := s.linearOf(ctx, spaces)
		if err != nil {
			return nil, err
		}
		r.parts = append(r.parts, p)
	}
	uni, err := s.univariate(r.hdr.N, r.hdr.Spaces)
	if err != nil {
		return nil, err
	}
	rbf := s.rbfOn(uni)
	if uni {
		return r.univariate(ctx, spaces)
	}
	pl, err := block.Prepare(spaces, s.blockOptions())
	if err != nil {
		return nil, err
	}
	if err := r.checkPermBytes(); err != nil {
		return nil, err
	}
	if err := pl.ScanBound(spaces); err != nil {
		return nil, err
	}
	fresh, err := pl.NewStats()
	if err != nil {
		return nil, err
	}
	if rbf {
		kern, err := s.rbfOf(spaces, infos)
		if err != nil {
			return nil, err
		}
		if err := r.startRBF(pl, kern); err != nil {
			return nil, err
		}
	}
	if err := r.resume(ctx, fresh); err != nil {
		return nil, err
	}
	if err := r.resumeRBF(pl); err != nil {
		return nil, err
	}
	var tiles []block.Tile
	if r.hdr.Phase == "" {
		for next := r.hdr.Tiles[0]; next < r.hdr.Tiles[1] && err == nil; {
			tiles = r.todo(tiles, &next)
			err = pl.AddTiles(ctx, r.st, spaces, tiles, r.added)
		}
	}
	held := func(k ...int) ([]block.Space, error) {
		out := make([]block.Space, len(k))
		for i, k := range k {
			out[i] = spaces[k]
		}
		return out, nil
	}
	for _, ph := range s.passes() {
		if err != nil || phaseIndex(r.hdr.Phase) > phaseIndex(ph) {
			continue // failed, or done before a resume
		}
		var pass tilePass
		if pass, err = r.startPass(ctx, pl, ph, held); err == nil {
			for next := r.hdr.Tiles[0]; next < r.hdr.Tiles[1] && err == nil; {
				tiles = r.todo(tiles, &next)
				err = pass.AddTiles(ctx, spaces, tiles, r.added)
			}
		}
	}
	return r.finish(ctx, err)
}

// blockSpaces returns the table's spaces as block takes them, each
// sample's vector scaled to unit norm when normalize is set (the
// -normalize-rows option): in place if inPlace and the data is the run's
// own, else in a copy, so that Spec.Data and a table used again stay as
// they were.
func (t *table) blockSpaces(normalize, inPlace bool) []block.Space {
	spaces := make([]block.Space, len(t.spaces))
	for k, sp := range t.spaces {
		x := sp.Data
		if normalize {
			if !inPlace || !t.owned {
				x = append([]float64(nil), x...)
			}
			NormalizeRows(x, max(1, sp.Dim))
		}
		spaces[k] = block.Space{Data: x, Dim: max(1, sp.Dim)}
	}
	return spaces
}

// NormalizeRows scales every row of the row-major x of width dim to unit
// Euclidean norm, in place, as the seed paper's training loss does before its
// distances. A row of norm 0 stays 0.
func NormalizeRows(x []float64, dim int) {
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
			ss += float64((v / m) * (v / m)) // rounded: not fused on any CPU
		}
		sc := 1 / (m * math.Sqrt(ss))
		for j := range row {
			row[j] *= sc
		}
	}
}

// rowsOf is the number of rows of an in-memory space.
func rowsOf(sp stream.Space) int { return len(sp.Data) / max(1, sp.Dim) }
