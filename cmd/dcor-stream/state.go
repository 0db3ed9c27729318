package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/dcor-stream/dcor-stream/block"
	"github.com/dcor-stream/dcor-stream/estimator"
	"github.com/dcor-stream/dcor-stream/stream"
)

// A state file (written by -shard … -state and -checkpoint, read by merge
// and on resume) is
//
//	"DCSTATE\n"                 magic
//	uvarint                     length of the header
//	header                      JSON, stateHeader
//	rest of the file            the estimator state (estimator.Stats.MarshalBinary)
const stateMagic = "DCSTATE\n"

// errState marks a state file that cannot be used: corrupt, or for other
// inputs or options.
var errState = errors.New("unusable state")

// stateHeader says what a state covers. Fingerprint and Options must be
// equal for states to be merged or resumed.
type stateHeader struct {
	Version     int          `json:"version"`
	Fingerprint string       `json:"fingerprint"`
	Options     stateOptions `json:"options"`
	Spaces      []stateSpace `json:"spaces"`
	N           int          `json:"n"`
	Dropped     int          `json:"dropped_rows"`
	Shard       int          `json:"shard"`
	Shards      int          `json:"shards"`
	Range       [2]int       `json:"tiles"` // [from, to) of the tile order
	Done        int          `json:"done"`  // tiles of Range added, a prefix
	// Panel is the progress of a -mem run, whose schedule is in panels of
	// rows, not tiles (Done is then 0); nil otherwise.
	Panel *panelProgress `json:"panel,omitempty"`
}

// panelProgress is how far a -mem run is (DESIGN §3): the panels of Rows
// rows before panel Done are added whole; of panel Done, nothing if
// Streamed is 0, else its own pairs and its pairs with the rows before
// Streamed.
type panelProgress struct {
	Rows     int `json:"rows"`
	Done     int `json:"done"`
	Streamed int `json:"streamed"`
}

type stateOptions struct {
	Exponent    float64 `json:"exponent"`
	Tile        int     `json:"tile"`
	DropInvalid bool    `json:"drop_invalid"`
	Precision   string  `json:"precision"`
}

type stateSpace struct {
	Name    string   `json:"name"`
	Columns []string `json:"columns"`
	Dim     int      `json:"dim"`
}

// newStateHeader describes a run of o over tab: a whole run (shard 0 of 1)
// until the caller sets the shard.
func newStateHeader(tab *stream.Table, o options) *stateHeader {
	h := &stateHeader{
		Version: 1,
		Options: stateOptions{Exponent: o.exponent, Tile: o.tile, DropInvalid: o.dropInvalid, Precision: o.prec.String()},
		N:       tab.N,
		Dropped: tab.Dropped,
		Shards:  1,
	}
	h.Spaces = stateSpaces(tab.Spaces)
	h.Fingerprint = fingerprint(tab)
	return h
}

// stateSpaces describes spaces in a header.
func stateSpaces(spaces []stream.Space) []stateSpace {
	var out []stateSpace
	for _, sp := range spaces {
		out = append(out, stateSpace{Name: sp.Name, Columns: sp.Columns, Dim: sp.Dim})
	}
	return out
}

func (h *stateHeader) spaces() []stream.Space {
	out := make([]stream.Space, len(h.Spaces))
	for i, sp := range h.Spaces {
		out[i] = stream.Space{Name: sp.Name, Columns: sp.Columns, Dim: sp.Dim}
	}
	return out
}

// fingerprintRows is about how many rows of each space the fingerprint
// hashes: all of them for small inputs, an evenly spaced sample (with the
// first and the last) of large ones, which catches a changed file, a
// different file or a different row order at a cost independent of n.
const fingerprintRows = 4096

// fingerprint is a SHA-256 of the number of rows, the columns and
// dimensions of each space, and the values of a sample of rows.
func fingerprint(tab *stream.Table) string {
	h := sha256.New()
	var b [8]byte
	put := func(v uint64) {
		binary.LittleEndian.PutUint64(b[:], v)
		h.Write(b[:])
	}
	put(uint64(tab.N))
	step := max(1, tab.N/fingerprintRows)
	for _, sp := range tab.Spaces {
		put(uint64(sp.Dim))
		for _, c := range sp.Columns {
			put(uint64(len(c)))
			io.WriteString(h, c)
		}
		for i := 0; i < tab.N; i += step {
			for _, v := range sp.Data[i*sp.Dim : (i+1)*sp.Dim] {
				put(math.Float64bits(v))
			}
		}
		if tab.N > 0 {
			for _, v := range sp.Data[(tab.N-1)*sp.Dim:] {
				put(math.Float64bits(v))
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// writeState writes hdr and st to path atomically: to a temporary file in
// the same directory, synced, then renamed over path (and the directory
// synced), so that path always holds a whole state, the old or the new,
// whatever moment the process dies at.
func writeState(path string, hdr *stateHeader, st *estimator.Stats) error {
	head, err := json.Marshal(hdr)
	if err != nil {
		return err
	}
	body, err := st.MarshalBinary()
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	buf.WriteString(stateMagic)
	buf.Write(binary.AppendUvarint(nil, uint64(len(head))))
	buf.Write(head)
	buf.Write(body)

	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(buf.Bytes())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing state %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() // best effort: not every file system syncs directories
		d.Close()
	}
	return nil
}

// readState reads a state file. Every error wraps errState (the
// estimator's decoding errors are reported in its message). A state it
// returns is one merge and resume can use: header and estimator state
// agree (n, spaces, exponent), it has 2 or 3 spaces (x, y and maybe z),
// 0 <= shard < shards, its tiles lie in the grid of n samples, and at
// most all of them are done (see stateHeader.check).
func readState(path string) (*stateHeader, *estimator.Stats, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	bad := func(why string, args ...any) error {
		return fmt.Errorf("%s: %s: %w", path, fmt.Sprintf(why, args...), errState)
	}
	if !bytes.HasPrefix(b, []byte(stateMagic)) {
		return nil, nil, bad("not a dcor-stream state file")
	}
	b = b[len(stateMagic):]
	n, m := binary.Uvarint(b)
	if m <= 0 || n > uint64(len(b)-m) {
		return nil, nil, bad("truncated header")
	}
	var hdr stateHeader
	if err := json.Unmarshal(b[m:m+int(n)], &hdr); err != nil {
		return nil, nil, bad("header: %v", err)
	}
	if hdr.Version != 1 {
		return nil, nil, bad("state version %d, this dcor-stream reads 1", hdr.Version)
	}
	var st estimator.Stats
	if err := st.UnmarshalBinary(b[m+int(n):]); err != nil {
		return nil, nil, bad("%v", err)
	}
	if err := hdr.check(&st); err != nil {
		return nil, nil, bad("%v", err)
	}
	return &hdr, &st, nil
}

// check reports what makes h, read with st, a header no run writes:
// merge and resume rely on these (block.Shard panics on a shard outside
// [0, shards), the report on other than 2 or 3 spaces).
func (h *stateHeader) check(st *estimator.Stats) error {
	if st.N() != h.N || st.K() != len(h.Spaces) || st.Exponent() != h.Options.Exponent {
		return errors.New("header and state disagree")
	}
	if k := len(h.Spaces); k != 2 && k != 3 {
		return fmt.Errorf("%d spaces, want 2 or 3", k)
	}
	if h.Options.Tile < 0 || h.Dropped < 0 {
		return fmt.Errorf("negative tile size %d or dropped rows %d", h.Options.Tile, h.Dropped)
	}
	if h.Shard < 0 || h.Shard >= h.Shards {
		return fmt.Errorf("shard %d of %d", h.Shard, h.Shards)
	}
	tiles := block.TileCount(h.N, block.Options{TileSize: h.Options.Tile})
	if h.Range[0] < 0 || h.Range[0] > h.Range[1] || h.Range[1] > tiles {
		return fmt.Errorf("tiles %v outside the grid of %d tiles", h.Range, tiles)
	}
	if h.Done < 0 || h.Done > h.Range[1]-h.Range[0] {
		return fmt.Errorf("%d tiles done of %v", h.Done, h.Range)
	}
	if p := h.Panel; p != nil {
		if p.Rows < 1 || p.Done < 0 || p.Done > (h.N+p.Rows-1)/p.Rows || h.Done != 0 || h.Shards != 1 {
			return fmt.Errorf("-mem progress %+v in a run of %d rows", *p, h.N)
		}
		if i1 := min(h.N, (p.Done+1)*p.Rows); p.Streamed != 0 && (p.Streamed < i1 || p.Streamed > h.N) {
			return fmt.Errorf("-mem progress %+v: panel %d streamed to row %d", *p, p.Done, p.Streamed)
		}
	}
	return nil
}

// sameRun reports why a saved header does not describe the run of cur,
// or nil if it does.
func sameRun(saved, cur *stateHeader) error {
	switch {
	case (saved.Panel == nil) != (cur.Panel == nil):
		return errors.New("it was written by a run with -mem and this one has none, or the other way round")
	case saved.Fingerprint != cur.Fingerprint || saved.N != cur.N:
		return errors.New("it was written for other input data (the fingerprints of the inputs differ)")
	case saved.Options != cur.Options:
		return fmt.Errorf("it was written with other options (%+v, now %+v)", saved.Options, cur.Options)
	case saved.Panel != nil && saved.Panel.Rows != cur.Panel.Rows:
		return fmt.Errorf("its -mem panels are of %d rows, this run's of %d (give the same -mem)", saved.Panel.Rows, cur.Panel.Rows)
	case saved.Shard != cur.Shard || saved.Shards != cur.Shards || saved.Range != cur.Range:
		return fmt.Errorf("it is shard %d/%d (tiles %v), this run is %d/%d (tiles %v)",
			saved.Shard, saved.Shards, saved.Range, cur.Shard, cur.Shards, cur.Range)
	}
	return nil
}

// readCheckpoint reads the checkpoint at path, if there is one (else it
// returns nil, nil, nil). A checkpoint of another run than cur is an
// error: the user removes it.
func readCheckpoint(path string, cur *stateHeader) (*stateHeader, *estimator.Stats, error) {
	saved, st, err := readState(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if err := sameRun(saved, cur); err != nil {
		return nil, nil, fmt.Errorf("checkpoint %s cannot be resumed: %v; remove it to start over: %w", path, err, errState)
	}
	return saved, st, nil
}

// resumeCheckpoint sets bo to resume from the checkpoint at path, if there
// is one. A checkpoint of another run is an error: the user removes it.
func resumeCheckpoint(path string, cur *stateHeader, bo *block.Options, stderr io.Writer) error {
	saved, st, err := readCheckpoint(path, cur)
	if saved == nil {
		return err
	}
	bo.Resume, bo.ResumeDone = st, saved.Done
	fmt.Fprintf(stderr, "dcor-stream: resuming from %s: %d of %d tiles done\n", path, saved.Done, cur.Range[1]-cur.Range[0])
	return nil
}

// checkpointer returns a block.Options.Progress that writes the state to
// path at most every interval (and after the first tile).
func checkpointer(path string, every time.Duration, hdr *stateHeader) func(*estimator.Stats, int, int) error {
	var last time.Time
	return func(st *estimator.Stats, done, total int) error {
		if done < total && time.Since(last) < every {
			return nil
		}
		last = time.Now()
		h := *hdr
		h.Done = done
		return writeState(path, &h, st)
	}
}
