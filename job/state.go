package job

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"

	"github.com/dcor-stream/dcor-stream/block"
	"github.com/dcor-stream/dcor-stream/estimator"
)

// Errors of states, wrapped with context.
var (
	// ErrState marks a state that cannot be used: corrupt, of an earlier
	// format, or of other inputs or options than the run or states it is
	// combined with.
	ErrState = errors.New("unusable state")
	// ErrOldState marks a state file written by an earlier dcor-stream,
	// whose format this one does not read. It wraps ErrState.
	ErrOldState = fmt.Errorf("state of an earlier format: %w", ErrState)
)

// State is the additive state of a job, or of the part of it done so far:
// what Run returns, a checkpoint holds and Merge adds. Header says what it
// is the state of; Stats holds the sums of the tiles in Header.Done.
type State struct {
	Header
	Stats *estimator.Stats
	// Parts are the additive sums of the statistics a Spec asks beyond
	// Stats (see Part), in no particular order; Merge adds them kind by
	// kind. A state file holds them sorted by Kind.
	Parts []Part
	// Source names the state in messages (ReadStateFile sets the path);
	// optional.
	Source string
}

// name is Source, or "state i" (counted from 1).
func (s *State) name(i int) string {
	if s.Source != "" {
		return s.Source
	}
	return fmt.Sprintf("state %d", i+1)
}

// Header describes a state. Two states can be merged, or a checkpoint
// resumed, only if their Fingerprint, Options, Spaces, Matrix, N and
// Dropped are equal (see Compatible).
type Header struct {
	// Fingerprint is a SHA-256 of every value of every space (see
	// Fingerprint), hex encoded.
	Fingerprint string       `json:"fingerprint"`
	Options     StateOptions `json:"options"`
	Spaces      []SpaceInfo  `json:"spaces"`
	// Matrix is the layout of a matrix job; nil for the pair mode (spaces
	// x, y and maybe z).
	Matrix  *Matrix `json:"matrix,omitempty"`
	N       int     `json:"n"`
	Dropped int     `json:"dropped_rows"`
	// Shard of Shards: the tiles [Tiles[0], Tiles[1]) of the tile order
	// (block.Shard); 0 of 1 for a whole job.
	Shard  int    `json:"shard"`
	Shards int    `json:"shards"`
	Tiles  [2]int `json:"tiles"`
	// Done holds the tiles of Tiles added to Stats, as sorted disjoint
	// half-open intervals of the tile order. It equals [Tiles] when the
	// state is complete.
	Done [][2]int `json:"done"`
	// Phase is the pass the state is of: "" for the statistics, or
	// "jackknife" for the second pass of -ci, whose Stats are the
	// complete state of the whole job and whose Done are the tiles added
	// to its part "jackknife" (see jackPart).
	Phase string `json:"phase,omitempty"`
}

// StateOptions are the options that change the sums.
type StateOptions struct {
	Exponent      float64 `json:"exponent"`
	Tile          int     `json:"tile"` // the tile option, block.DefaultTileSize for the default
	DropInvalid   bool    `json:"drop_invalid"`
	Precision     string  `json:"precision"`
	NormalizeRows bool    `json:"normalize_rows"`
}

// SpaceInfo describes one space of a state: what Spec.Spaces named
// (Name), its resolved columns and dimension, and its label in reports.
type SpaceInfo struct {
	Name    string   `json:"name"`
	Label   string   `json:"label,omitempty"`
	Columns []string `json:"columns"`
	Dim     int      `json:"dim"`
}

// Complete reports whether the state holds every tile of its range.
func (h *Header) Complete() bool {
	s := tileSet{iv: h.Done}
	return s.covers(h.Tiles[0], h.Tiles[1])
}

// Whole reports whether the state is complete and of the whole grid.
func (h *Header) Whole() bool {
	return h.Complete() && h.Tiles == [2]int{0, newGrid(h.N, h.Options.Tile).count()}
}

// A state file is, all integers little endian:
//
//	bytes 0..7     magic "DCSTATE\n"
//	bytes 8..11    format version, uint32 (3)
//	bytes 12..19   length L of the whole file in bytes, uint64
//	bytes 20..23   length H of the header, uint32
//	H bytes        the header: JSON of Header
//	8 bytes        length S of the estimator state, uint64
//	S bytes        the estimator state (estimator.Stats.MarshalBinary)
//	4 bytes        the number P of parts, uint32
//	P times        a part: the length of its kind, uint16; the kind;
//	               the length B of its encoding, uint64; B bytes of
//	               Part.MarshalBinary; the parts sorted by kind
//	last 4 bytes   CRC-32C (Castagnoli) of bytes 0..L−5, uint32
//
// The checksum and the length are verified before anything else is read,
// so any single-bit change is refused. Format 2 (the same without S, P
// and the parts: the estimator state runs to the checksum) is read as a
// state without parts. Format 1 (dcor-stream before the engine package:
// "DCSTATE\n", a uvarint, a JSON header with "version":1, the estimator
// encoding 3) is recognised and refused with ErrOldState.
const (
	stateMagic   = "DCSTATE\n"
	stateVersion = 3
	// maxHeader bounds the header length a file may claim.
	maxHeader = 64 << 20
)

// A Part is an additive part of a state beyond its Stats: the sums that a
// statistic asked by the Spec adds over the tiles or rows of a job (for
// example the feature-space sums of linear CKA), saved in checkpoints and
// state files with the Stats and added across shards by Merge. Its
// encoding must be canonical (equal sums, equal bytes) and its Merge
// exact, so that merged and resumed states keep the one-process bits.
type Part interface {
	// Kind names the part in state files: one part of each kind per
	// state, decoded by the function registered for it (registerPart).
	Kind() string
	MarshalBinary() ([]byte, error)
	// Merge adds o, a part of the same kind from another shard of the
	// same job.
	Merge(o Part) error
}

// partDecoders decode the parts of state files, by kind.
var partDecoders = map[string]func([]byte) (Part, error){}

// registerPart makes parts of kind decodable; called from init.
func registerPart(kind string, decode func([]byte) (Part, error)) {
	if _, dup := partDecoders[kind]; dup {
		panic("job: part kind " + kind + " registered twice")
	}
	partDecoders[kind] = decode
}

// Part returns the part of kind, or nil.
func (s *State) Part(kind string) Part {
	for _, p := range s.Parts {
		if p.Kind() == kind {
			return p
		}
	}
	return nil
}

// sortedParts returns s.Parts sorted by kind, or an error for a kind held
// twice or not registered.
func (s *State) sortedParts() ([]Part, error) {
	ps := slices.Clone(s.Parts)
	slices.SortFunc(ps, func(a, b Part) int { return strings.Compare(a.Kind(), b.Kind()) })
	for i, p := range ps {
		if _, ok := partDecoders[p.Kind()]; !ok {
			return nil, fmt.Errorf("part of unknown kind %q", p.Kind())
		}
		if i > 0 && ps[i-1].Kind() == p.Kind() {
			return nil, fmt.Errorf("two parts of kind %q", p.Kind())
		}
	}
	return ps, nil
}

// kinds returns the sorted kinds of the parts of s.
func (s *State) kinds() []string {
	var k []string
	for _, p := range s.Parts {
		k = append(k, p.Kind())
	}
	slices.Sort(k)
	return k
}

// copyPart returns a copy of p, through its encoding.
func copyPart(p Part) (Part, error) {
	b, err := p.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return partDecoders[p.Kind()](b)
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// MarshalBinary encodes s in the state file format.
func (s *State) MarshalBinary() ([]byte, error) {
	head, err := json.Marshal(&s.Header)
	if err != nil {
		return nil, err
	}
	body, err := s.Stats.MarshalBinary()
	if err != nil {
		return nil, err
	}
	ps, err := s.sortedParts()
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, 40+len(head)+len(body))
	b = append(b, stateMagic...)
	b = binary.LittleEndian.AppendUint32(b, stateVersion)
	b = binary.LittleEndian.AppendUint64(b, 0) // the length, below
	b = binary.LittleEndian.AppendUint32(b, uint32(len(head)))
	b = append(b, head...)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(body)))
	b = append(b, body...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(ps)))
	for _, p := range ps {
		enc, err := p.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("part %s: %w", p.Kind(), err)
		}
		b = binary.LittleEndian.AppendUint16(b, uint16(len(p.Kind())))
		b = append(b, p.Kind()...)
		b = binary.LittleEndian.AppendUint64(b, uint64(len(enc)))
		b = append(b, enc...)
	}
	binary.LittleEndian.PutUint64(b[12:], uint64(len(b)+4))
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)), nil
}

// IsStateFile reports whether b starts like a state file of any format.
func IsStateFile(b []byte) bool { return bytes.HasPrefix(b, []byte(stateMagic)) }

// UnmarshalBinary decodes a state file into s. Every error wraps ErrState
// (ErrOldState for a file of format 1); s is unchanged on error. A state
// it returns is consistent: header and estimator state agree, the shard
// and its tiles lie in the grid of N samples, and the done tiles in the
// shard's range.
func (s *State) UnmarshalBinary(b []byte) error {
	bad := func(why string, args ...any) error {
		return fmt.Errorf("%s: %w", fmt.Sprintf(why, args...), ErrState)
	}
	if !IsStateFile(b) {
		return bad("not a dcor-stream state file")
	}
	if len(b) < 28 {
		return bad("truncated (%d bytes)", len(b))
	}
	v := binary.LittleEndian.Uint32(b[8:])
	if v != stateVersion && v != 2 {
		if old(b) {
			return fmt.Errorf("written by an earlier dcor-stream (state format 1, estimator encoding 3), which this one (format %d) does not read: "+
				"rerun that shard or job with this dcor-stream, or merge its states with the dcor-stream that wrote them: %w", stateVersion, ErrOldState)
		}
		return bad("state format %d, this dcor-stream reads %d", v, stateVersion)
	}
	if l := binary.LittleEndian.Uint64(b[12:]); l != uint64(len(b)) {
		return bad("%d bytes, its header says %d: truncated or extended", len(b), l)
	}
	if sum := binary.LittleEndian.Uint32(b[len(b)-4:]); sum != crc32.Checksum(b[:len(b)-4], castagnoli) {
		return bad("checksum mismatch: the file is corrupt")
	}
	h := int(binary.LittleEndian.Uint32(b[20:]))
	if h > maxHeader || h > len(b)-28 {
		return bad("header of %d bytes in a file of %d", h, len(b))
	}
	var hdr Header
	dec := json.NewDecoder(bytes.NewReader(b[24 : 24+h]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&hdr); err != nil {
		return bad("header: %v", err)
	}
	body, rest := b[24+h:len(b)-4], []byte(nil)
	if v == stateVersion {
		var ok bool
		if body, rest, ok = chunk(body, 8); !ok {
			return bad("estimator state of %d bytes in a file of %d", binary.LittleEndian.Uint64(b[24+h:]), len(b))
		}
	}
	st := new(estimator.Stats)
	if err := st.UnmarshalBinary(body); err != nil {
		return bad("%v", err)
	}
	if err := hdr.check(st); err != nil {
		return bad("%v", err)
	}
	var parts []Part
	if v == stateVersion {
		if len(rest) < 4 {
			return bad("truncated before its parts")
		}
		count := binary.LittleEndian.Uint32(rest)
		rest = rest[4:]
		prev := ""
		for i := uint32(0); i < count; i++ {
			kind, r, ok := chunk(rest, 2)
			if !ok {
				return bad("part %d: truncated", i+1)
			}
			enc, r, ok := chunk(r, 8)
			if !ok {
				return bad("part %q: truncated", kind)
			}
			rest = r
			decode, known := partDecoders[string(kind)]
			switch {
			case !known:
				return bad("part of kind %q, which this dcor-stream does not know", kind)
			case i > 0 && string(kind) <= prev:
				return bad("parts not sorted by kind (%q after %q)", kind, prev)
			}
			prev = string(kind)
			p, err := decode(enc)
			if err != nil {
				return bad("part %s: %v", kind, err)
			}
			parts = append(parts, p)
		}
		if len(rest) != 0 {
			return bad("%d bytes after the parts", len(rest))
		}
	}
	if kinds := (&State{Parts: parts}).kinds(); hdr.Phase != "" && !slices.Contains(kinds, hdr.Phase) && (hdr.Phase != phasePermutations || !slices.Contains(kinds, kindMatrixPerm)) {
		return bad("a state of the %s pass without its part", hdr.Phase)
	}
	s.Header, s.Stats, s.Parts = hdr, st, parts
	return nil
}

// chunk splits b into a piece whose length is the little-endian integer
// of size bytes (2 or 8) at its start, and the rest.
func chunk(b []byte, size int) (piece, rest []byte, ok bool) {
	if len(b) < size {
		return nil, nil, false
	}
	var l uint64
	if size == 2 {
		l = uint64(binary.LittleEndian.Uint16(b))
	} else {
		l = binary.LittleEndian.Uint64(b)
	}
	if l > uint64(len(b)-size) {
		return nil, nil, false
	}
	b = b[size:]
	return b[:l], b[l:], true
}

// old reports whether b is a state file of format 1: the magic, a
// uvarint, then a JSON object.
func old(b []byte) bool {
	n, m := binary.Uvarint(b[len(stateMagic):])
	r := b[len(stateMagic):]
	return m > 0 && n > 0 && uint64(len(r)-m) >= n && r[m] == '{'
}

// check reports what makes h, read with st, a header no run writes.
func (h *Header) check(st *estimator.Stats) error {
	if st.N() != h.N || st.K() != len(h.Spaces) || st.Exponent() != h.Options.Exponent {
		return errors.New("header and estimator state disagree")
	}
	if h.Options.Tile < 1 || h.Dropped < 0 || h.N < 0 {
		return fmt.Errorf("tile size %d, dropped rows %d, n %d", h.Options.Tile, h.Dropped, h.N)
	}
	for k, sp := range h.Spaces {
		if sp.Dim < 0 {
			return fmt.Errorf("space %d of dimension %d", k, sp.Dim)
		}
	}
	if m := h.Matrix; m != nil {
		if err := m.check(len(h.Spaces)); err != nil {
			return err
		}
	} else if k := len(h.Spaces); k != 2 && k != 3 {
		return fmt.Errorf("%d spaces in a pair state, want 2 or 3", k)
	}
	if phaseIndex(h.Phase) < 0 {
		return fmt.Errorf("a state of the pass %q", h.Phase)
	}
	if h.Shards < 1 || h.Shard < 0 || h.Shard >= h.Shards {
		return fmt.Errorf("shard %d of %d", h.Shard, h.Shards)
	}
	g := newGrid(h.N, h.Options.Tile)
	if want := shardRange(g, h.Shard, h.Shards); h.Tiles != want {
		return fmt.Errorf("shard %d/%d covers tiles %v, want %v", h.Shard, h.Shards, h.Tiles, want)
	}
	prev := h.Tiles[0] - 1
	for _, v := range h.Done {
		if v[0] <= prev || v[0] >= v[1] || v[1] > h.Tiles[1] {
			return fmt.Errorf("done tiles %v outside the range %v or unsorted", h.Done, h.Tiles)
		}
		prev = v[1]
	}
	return nil
}

// shardRange is block.Shard as an interval.
func shardRange(g grid, i, count int) [2]int {
	r := block.Shard(g.n, block.Options{TileSize: g.t}, i, count)
	return [2]int{r.From, r.To}
}

// Compatible returns nil if states with headers a and b hold sums of the
// same job (same inputs, spaces and options: they can be merged, or one
// resumed by the other's run), else an error saying which field differs.
func Compatible(a, b *Header) error {
	diff := func(what string, x, y any) error {
		return fmt.Errorf("%s differs: %v and %v: %w", what, x, y, ErrState)
	}
	oa, ob := a.Options, b.Options
	switch {
	case oa.Exponent != ob.Exponent:
		return diff("-exponent", oa.Exponent, ob.Exponent)
	case oa.Tile != ob.Tile:
		return diff("-tile", oa.Tile, ob.Tile)
	case oa.DropInvalid != ob.DropInvalid:
		return diff("-drop-invalid", oa.DropInvalid, ob.DropInvalid)
	case oa.Precision != ob.Precision:
		return diff("-precision", oa.Precision, ob.Precision)
	case oa.NormalizeRows != ob.NormalizeRows:
		return diff("-normalize-rows", oa.NormalizeRows, ob.NormalizeRows)
	case a.Phase != b.Phase:
		return diff("the pass (\"\" for the statistics)", fmt.Sprintf("%q", a.Phase), fmt.Sprintf("%q", b.Phase))
	case len(a.Spaces) != len(b.Spaces):
		return diff("the number of spaces", len(a.Spaces), len(b.Spaces))
	}
	for k := range a.Spaces {
		x, y := a.Spaces[k], b.Spaces[k]
		if x.Name != y.Name || x.Label != y.Label || x.Dim != y.Dim || !slices.Equal(x.Columns, y.Columns) {
			return diff(fmt.Sprintf("space %d", k), fmt.Sprintf("%s (%d dims)", x.Name, x.Dim), fmt.Sprintf("%s (%d dims)", y.Name, y.Dim))
		}
	}
	if (a.Matrix == nil) != (b.Matrix == nil) || a.Matrix != nil && !a.Matrix.equal(b.Matrix) {
		return fmt.Errorf("the statistics asked for (pair, matrix rows, columns or given space) differ: %w", ErrState)
	}
	switch {
	case a.N != b.N:
		return diff("the number of samples", a.N, b.N)
	case a.Dropped != b.Dropped:
		return diff("the number of dropped rows", a.Dropped, b.Dropped)
	case a.Fingerprint != b.Fingerprint:
		return fmt.Errorf("the input data differ (fingerprints %.12s… and %.12s…): %w", a.Fingerprint, b.Fingerprint, ErrState)
	}
	return nil
}

// Merge returns the state of the whole job from the states of its shards:
// the N shards 0..N−1 of one job, each complete and each once. It says
// which shard is missing, duplicated or incomplete, and which option or
// input differs (Compatible). The states are not modified; the result
// holds the first state's header, as a whole job's.
func Merge(states ...*State) (*State, error) {
	if len(states) == 0 {
		return nil, fmt.Errorf("no states to merge: %w", ErrState)
	}
	first := states[0]
	seen := make(map[int]int)
	total := new(estimator.Stats)
	var parts []Part
	for _, p := range first.Parts {
		c, err := copyPart(p)
		if err != nil {
			return nil, fmt.Errorf("%s: part %s: %w", first.name(0), p.Kind(), err)
		}
		parts = append(parts, c)
	}
	for i, s := range states {
		if err := Compatible(&first.Header, &s.Header); err != nil {
			return nil, fmt.Errorf("%s and %s are not shards of one job: %w", first.name(0), s.name(i), err)
		}
		if s.Shards != first.Shards {
			return nil, fmt.Errorf("%s is one of %d shards, %s one of %d: %w", first.name(0), first.Shards, s.name(i), s.Shards, ErrState)
		}
		if j, dup := seen[s.Shard]; dup {
			return nil, fmt.Errorf("%s and %s are both shard %d/%d: %w", states[j].name(j), s.name(i), s.Shard, s.Shards, ErrState)
		}
		seen[s.Shard] = i
		if !s.Complete() {
			d := tileSet{iv: s.Done}
			return nil, fmt.Errorf("%s: shard %d/%d is incomplete (%d of %d tiles): %w", s.name(i), s.Shard, s.Shards, d.count(), s.Tiles[1]-s.Tiles[0], ErrState)
		}
		if first.Phase != "" && i > 0 {
			// The second pass of every shard is of the same complete
			// state: its parts add, its Stats are kept once.
			same, err := sameStats(first.Stats, s.Stats)
			if err != nil {
				return nil, err
			}
			if !same {
				return nil, fmt.Errorf("%s and %s are %s passes of different states (give each shard the same -from): %w", first.name(0), s.name(i), first.Phase, ErrState)
			}
		} else if err := total.Merge(s.Stats); err != nil {
			return nil, fmt.Errorf("%s: %w", s.name(i), err)
		}
		if i == 0 {
			continue
		}
		if a, b := first.kinds(), s.kinds(); !slices.Equal(a, b) {
			return nil, fmt.Errorf("%s holds the parts %v, %s the parts %v (asked for other statistics): %w", first.name(0), a, s.name(i), b, ErrState)
		}
		for _, p := range parts {
			if err := p.Merge(s.Part(p.Kind())); err != nil {
				return nil, fmt.Errorf("%s: part %s: %w", s.name(i), p.Kind(), err)
			}
		}
	}
	var missing []int
	for i := range first.Shards {
		if _, ok := seen[i]; !ok {
			missing = append(missing, i)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("missing shards %v of %d: %w", missing, first.Shards, ErrState)
	}
	h := first.Header
	h.Shard, h.Shards = 0, 1
	h.Tiles = [2]int{0, newGrid(h.N, h.Options.Tile).count()}
	h.Done = nil
	if h.Tiles[1] > 0 {
		h.Done = [][2]int{h.Tiles}
	}
	return &State{Header: h, Stats: total, Parts: parts}, nil
}
