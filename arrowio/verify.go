package arrowio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/endian"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// This file checks Arrow IPC metadata before arrow-go decodes it.
//
// arrow-go reads the FlatBuffers metadata without a verifier and sizes some
// allocations from vector lengths found in it (the fields of a schema, the
// custom metadata of every message, the variadic buffer counts of view
// columns, the uncompressed size of compressed buffers). A corrupt length
// there makes it ask the Go runtime for hundreds of gigabytes, which is a
// fatal error, not a panic: it cannot be recovered. So every metadata
// flatbuffer is walked here first, and every vector length, string, table
// and buffer range it holds is checked against the bytes really present.
//
// FlatBuffers layout, as far as needed: a table at t starts with an int32
// soffset to its vtable at t-soffset; the vtable holds uint16 sizes (vtable,
// table) then one uint16 offset per field (0: absent). Offset fields hold a
// uint32 relative to their own position. A vector or string holds a uint32
// length, then its elements. The schema is Arrow's format/Schema.fbs,
// Message.fbs and File.fbs.

var errFlatbuffer = errors.New("invalid metadata flatbuffer")

// Arrow's Type union tags and MessageHeader union tags used below.
const (
	fbTypeTimestamp = 10
	fbTypeUnion     = 14

	fbHeaderSchema          = 1
	fbHeaderDictionaryBatch = 2
	fbHeaderRecordBatch     = 3

	maxNesting = 64 // as arrow-go's kMaxNestingDepth
)

type verifier struct {
	b     []byte
	depth int
}

func (v *verifier) in(p, n int) bool {
	return p >= 0 && n >= 0 && p <= len(v.b) && n <= len(v.b)-p
}

func (v *verifier) fail(what string, args ...any) error {
	return fmt.Errorf("%w: %s", errFlatbuffer, fmt.Sprintf(what, args...))
}

func (v *verifier) u16(p int) (int, error) {
	if !v.in(p, 2) {
		return 0, v.fail("offset %d out of range", p)
	}
	return int(binary.LittleEndian.Uint16(v.b[p:])), nil
}

func (v *verifier) u32(p int) (int, error) {
	if !v.in(p, 4) {
		return 0, v.fail("offset %d out of range", p)
	}
	return int(binary.LittleEndian.Uint32(v.b[p:])), nil
}

// table checks the table at t and its vtable.
func (v *verifier) table(t int) (int, error) {
	if !v.in(t, 4) {
		return 0, v.fail("table at %d out of range", t)
	}
	vt := t - int(int32(binary.LittleEndian.Uint32(v.b[t:])))
	vsize, err := v.u16(vt)
	if err != nil {
		return 0, err
	}
	tsize, err := v.u16(vt + 2)
	if err != nil {
		return 0, err
	}
	if vsize < 4 || vsize%2 != 0 || !v.in(vt, vsize) || tsize < 4 || !v.in(t, tsize) {
		return 0, v.fail("bad vtable for table at %d", t)
	}
	return t, nil
}

// field returns the position of field k of table t, which holds size bytes.
func (v *verifier) field(t, k, size int) (int, bool, error) {
	vt := t - int(int32(binary.LittleEndian.Uint32(v.b[t:])))
	vsize, _ := v.u16(vt)
	tsize, _ := v.u16(vt + 2)
	if 4+2*k+2 > vsize {
		return 0, false, nil
	}
	off, _ := v.u16(vt + 4 + 2*k)
	if off == 0 {
		return 0, false, nil
	}
	if off+size > tsize || !v.in(t+off, size) {
		return 0, false, v.fail("field %d of table at %d out of range", k, t)
	}
	return t + off, true, nil
}

// ref follows the offset field k of table t.
func (v *verifier) ref(t, k int) (int, bool, error) {
	p, ok, err := v.field(t, k, 4)
	if !ok || err != nil {
		return 0, ok, err
	}
	off, err := v.u32(p)
	return p + off, true, err
}

// sub returns the table that field k of table t points to.
func (v *verifier) sub(t, k int) (int, bool, error) {
	p, ok, err := v.ref(t, k)
	if !ok || err != nil {
		return 0, ok, err
	}
	t, err = v.table(p)
	return t, true, err
}

// vector checks the vector of elem-byte elements in field k of table t and
// returns the position of its first element and its length.
func (v *verifier) vector(t, k, elem int) (start, n int, err error) {
	p, ok, err := v.ref(t, k)
	if !ok || err != nil {
		return 0, 0, err
	}
	n, err = v.u32(p)
	if err != nil {
		return 0, 0, err
	}
	if !v.in(p+4, n*elem) {
		return 0, 0, v.fail("vector of %d elements at %d exceeds the %d bytes of metadata", n, p, len(v.b))
	}
	return p + 4, n, nil
}

// tables calls each for every table of the table vector in field k of t.
func (v *verifier) tables(t, k int, each func(t int) error) error {
	start, n, err := v.vector(t, k, 4)
	if err != nil {
		return err
	}
	for j := range n {
		e := start + 4*j
		off, _ := v.u32(e)
		tt, err := v.table(e + off)
		if err != nil {
			return err
		}
		if err := each(tt); err != nil {
			return err
		}
	}
	return nil
}

func (v *verifier) str(t, k int) error {
	_, _, err := v.vector(t, k, 1)
	return err
}

func (v *verifier) keyValues(t, k int) error {
	return v.tables(t, k, func(kv int) error {
		if err := v.str(kv, 0); err != nil {
			return err
		}
		return v.str(kv, 1)
	})
}

// schema checks a Schema table: endianness, fields, custom_metadata,
// features.
func (v *verifier) schema(t int) error {
	// arrow-go byte-swaps the buffers of non-native data in place, and
	// nothing here tests that path (no common writer produces such
	// files): refuse such data instead.
	big := false
	if p, ok, err := v.field(t, 0, 2); err != nil {
		return err
	} else if ok {
		big = binary.LittleEndian.Uint16(v.b[p:]) != 0
	}
	if big != endian.IsBigEndian {
		order := "little"
		if big {
			order = "big"
		}
		return fmt.Errorf("%s-endian data on a machine of the other byte order: %w", order, ErrUnsupported)
	}
	if err := v.tables(t, 1, v.fieldTable); err != nil {
		return err
	}
	if err := v.keyValues(t, 2); err != nil {
		return err
	}
	_, _, err := v.vector(t, 3, 8)
	return err
}

// fieldTable checks a Field table: name, type, dictionary, children,
// custom_metadata.
func (v *verifier) fieldTable(t int) error {
	if v.depth++; v.depth > maxNesting {
		return v.fail("fields nested deeper than %d", maxNesting)
	}
	defer func() { v.depth-- }()
	if err := v.str(t, 0); err != nil {
		return err
	}
	typ := 0
	if p, ok, err := v.field(t, 2, 1); err != nil {
		return err
	} else if ok {
		typ = int(v.b[p])
	}
	if tt, ok, err := v.sub(t, 3); err != nil {
		return err
	} else if ok {
		switch typ {
		case fbTypeUnion: // typeIds: [int]
			if _, _, err := v.vector(tt, 1, 4); err != nil {
				return err
			}
		case fbTypeTimestamp: // timezone: string
			if err := v.str(tt, 1); err != nil {
				return err
			}
		}
	}
	if d, ok, err := v.sub(t, 4); err != nil { // dictionary
		return err
	} else if ok {
		if _, _, err := v.sub(d, 1); err != nil { // indexType
			return err
		}
	}
	if err := v.tables(t, 5, v.fieldTable); err != nil {
		return err
	}
	return v.keyValues(t, 6)
}

// message describes a verified Message flatbuffer.
type message struct {
	header     int   // MessageHeader union tag
	bodyLen    int64 // bodyLength
	length     int64 // a RecordBatch's length: its rows
	compressed bool
	nodes      []fieldNode
	buffers    [][2]int64 // (offset, length) of each body buffer
}

// verifyMessage checks the Message flatbuffer b (without its length
// prefix): version, header, bodyLength, custom_metadata.
func verifyMessage(b []byte) (message, error) {
	v := &verifier{b: b}
	var m message
	root, err := v.u32(0)
	if err != nil {
		return m, err
	}
	t, err := v.table(root)
	if err != nil {
		return m, err
	}
	if p, ok, err := v.field(t, 1, 1); err != nil {
		return m, err
	} else if ok {
		m.header = int(b[p])
	}
	if p, ok, err := v.field(t, 3, 8); err != nil {
		return m, err
	} else if ok {
		m.bodyLen = int64(binary.LittleEndian.Uint64(b[p:]))
	}
	if m.bodyLen < 0 {
		return m, v.fail("negative body length %d", m.bodyLen)
	}
	if err := v.keyValues(t, 4); err != nil {
		return m, err
	}
	h, ok, err := v.sub(t, 2)
	if err != nil {
		return m, err
	}
	if !ok {
		return m, v.fail("message without header")
	}
	switch m.header {
	case fbHeaderSchema:
		err = v.schema(h)
	case fbHeaderDictionaryBatch:
		var rb int
		if rb, ok, err = v.sub(h, 1); err == nil && ok {
			err = v.recordBatch(rb, &m)
		}
	case fbHeaderRecordBatch:
		err = v.recordBatch(h, &m)
	default:
		err = v.fail("unsupported message type %d", m.header)
	}
	return m, err
}

// recordBatch checks a RecordBatch table: length, nodes, buffers,
// compression, variadicBufferCounts.
func (v *verifier) recordBatch(t int, m *message) error {
	if p, ok, err := v.field(t, 0, 8); err != nil { // length: long
		return err
	} else if ok {
		m.length = int64(binary.LittleEndian.Uint64(v.b[p:]))
	}
	if m.length < 0 {
		return v.fail("negative batch length %d", m.length)
	}
	ns, nn, err := v.vector(t, 1, 16) // nodes: [FieldNode]
	if err != nil {
		return err
	}
	m.nodes = make([]fieldNode, nn)
	for j := range m.nodes {
		m.nodes[j] = fieldNode{
			length: int64(binary.LittleEndian.Uint64(v.b[ns+16*j:])),
			nulls:  int64(binary.LittleEndian.Uint64(v.b[ns+16*j+8:])),
		}
	}
	start, n, err := v.vector(t, 2, 16) // buffers: [Buffer]
	if err != nil {
		return err
	}
	for j := range n {
		off := int64(binary.LittleEndian.Uint64(v.b[start+16*j:]))
		size := int64(binary.LittleEndian.Uint64(v.b[start+16*j+8:]))
		if off < 0 || size < 0 || off > m.bodyLen || size > m.bodyLen-off {
			return v.fail("buffer %d (offset %d, length %d) outside the body of %d bytes", j, off, size, m.bodyLen)
		}
		m.buffers = append(m.buffers, [2]int64{off, size})
	}
	if _, ok, err := v.sub(t, 3); err != nil {
		return err
	} else if ok {
		m.compressed = true
	}
	vs, vn, err := v.vector(t, 4, 8) // variadicBufferCounts: [long]
	if err != nil {
		return err
	}
	for j := range vn {
		if c := int64(binary.LittleEndian.Uint64(v.b[vs+8*j:])); c < 0 || c > int64(n) {
			return v.fail("variadic buffer count %d, the batch has %d buffers", c, n)
		}
	}
	return nil
}

// checkBody checks the body of a verified message: each compressed buffer
// starts with its uncompressed length (-1: stored uncompressed), which
// arrow-go allocates; it must not exceed limit.
func (m message) checkBody(body []byte, limit int64) error {
	if int64(len(body)) < m.bodyLen {
		return fmt.Errorf("message body has %d bytes, want %d", len(body), m.bodyLen)
	}
	if !m.compressed {
		return nil
	}
	for j, b := range m.buffers {
		if b[1] == 0 {
			continue
		}
		if b[1] < 8 {
			return fmt.Errorf("compressed buffer %d of %d bytes has no length prefix", j, b[1])
		}
		n := int64(binary.LittleEndian.Uint64(body[b[0]:]))
		if n < -1 || n > limit {
			return fmt.Errorf("compressed buffer %d claims %d uncompressed bytes (limit %d)", j, n, limit)
		}
	}
	return nil
}

// block is a Block of an IPC file footer.
type block struct {
	offset  int64
	metaLen int32
	bodyLen int64
}

// fileTrailer is the end of an IPC file: the footer's int32 length, then
// the magic "ARROW1".
const fileTrailer = 4 + 6

// footerRange returns where the footer of an IPC file of size bytes lies,
// given the file's last fileTrailer bytes, as arrow-go's FileReader will
// read it: off and size of the footer flatbuffer.
func footerRange(trailer []byte, size int64) (off, n int64, err error) {
	// The file starts with the 8 bytes of the padded magic.
	if size < 2*8+fileTrailer-2 || len(trailer) != fileTrailer {
		return 0, 0, fmt.Errorf("file of %d bytes is too small", size)
	}
	n = int64(binary.LittleEndian.Uint32(trailer))
	if n <= 0 || n > size-fileTrailer-8 {
		return 0, 0, fmt.Errorf("footer length %d does not fit the file of %d bytes", n, size)
	}
	return size - fileTrailer - n, n, nil
}

// verifyFooter checks the footer flatbuffer fb of an IPC file and returns
// its dictionary and record batch blocks.
func verifyFooter(fb []byte) (dicts, recs []block, err error) {
	v := &verifier{b: fb}
	root, err := v.u32(0)
	if err != nil {
		return nil, nil, err
	}
	t, err := v.table(root)
	if err != nil {
		return nil, nil, err
	}
	sch, ok, err := v.sub(t, 1)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, v.fail("footer without schema")
	}
	if err := v.schema(sch); err != nil {
		return nil, nil, err
	}
	if err := v.keyValues(t, 4); err != nil {
		return nil, nil, err
	}
	blocks := func(k int) ([]block, error) {
		start, n, err := v.vector(t, k, 24)
		if err != nil {
			return nil, err
		}
		bs := make([]block, n)
		for j := range bs {
			p := fb[start+24*j:]
			bs[j] = block{
				offset:  int64(binary.LittleEndian.Uint64(p)),
				metaLen: int32(binary.LittleEndian.Uint32(p[8:])),
				bodyLen: int64(binary.LittleEndian.Uint64(p[16:])),
			}
		}
		return bs, nil
	}
	if dicts, err = blocks(2); err != nil {
		return nil, nil, err
	}
	if recs, err = blocks(3); err != nil {
		return nil, nil, err
	}
	return dicts, recs, nil
}

// check checks that block b lies within a file of size bytes.
func (b block) check(size int64) error {
	if b.offset < 0 || b.metaLen < 8 || b.bodyLen < 0 || b.offset > size ||
		int64(b.metaLen) > size-b.offset || b.bodyLen > size-b.offset-int64(b.metaLen) {
		return fmt.Errorf("block at offset %d (metadata %d, body %d bytes) does not fit the file of %d bytes",
			b.offset, b.metaLen, b.bodyLen, size)
	}
	return nil
}

// verifyMeta checks meta, the metadata bytes of block b (b.metaLen of
// them), and returns its message; the body is checked by
// message.checkBody once read.
func (b block) verifyMeta(meta []byte) (message, error) {
	// The metadata is prefixed by the continuation marker and its length,
	// or (before Arrow 0.15) by its length only; arrow-go decodes all the
	// rest of the block's metadata bytes.
	prefix := 4
	if binary.LittleEndian.Uint32(meta) == 0xffffffff {
		prefix = 8
	}
	if n := int64(binary.LittleEndian.Uint32(meta[prefix-4:])); n != int64(len(meta)-prefix) {
		return message{}, fmt.Errorf("block at offset %d: metadata length %d does not match the block's %d", b.offset, n, len(meta)-prefix)
	}
	m, err := verifyMessage(meta[prefix:])
	if err != nil {
		return m, fmt.Errorf("block at offset %d: %w", b.offset, err)
	}
	if m.bodyLen > b.bodyLen {
		return m, fmt.Errorf("block at offset %d: message body of %d bytes exceeds the block's %d", b.offset, m.bodyLen, b.bodyLen)
	}
	return m, nil
}

// messageReader reads the messages of an IPC stream like arrow-go's, but
// verifies each (verifyMessage, checkBody) before handing it out. Its refs
// field is not atomic: readers are not shared between goroutines.
type messageReader struct {
	r      io.Reader
	opts   Options
	schema *arrow.Schema // record batches are checked against it, once set
	msg    *ipc.Message
	refs   int
	hdr    [4]byte
}

func newMessageReader(r io.Reader, opts Options) *messageReader {
	return &messageReader{r: r, opts: opts, refs: 1}
}

func (r *messageReader) Retain() { r.refs++ }

func (r *messageReader) Release() {
	if r.refs--; r.refs == 0 && r.msg != nil {
		r.msg.Release()
		r.msg = nil
	}
}

// Message returns the next message, valid until the next call; io.EOF at
// the end-of-stream marker. An input that ends without the marker is an
// error: it was truncated.
func (r *messageReader) Message() (*ipc.Message, error) {
	if r.msg != nil {
		r.msg.Release()
		r.msg = nil
	}
	if _, err := io.ReadFull(r.r, r.hdr[:]); err != nil {
		if errors.Is(err, io.EOF) {
			// Writers end a stream with the marker; without it the
			// stream was cut, perhaps exactly between two messages.
			return nil, fmt.Errorf("stream ends without its end-of-stream marker: %w", io.ErrUnexpectedEOF)
		}
		return nil, fmt.Errorf("reading message length: %w", unexpected(err))
	}
	n := binary.LittleEndian.Uint32(r.hdr[:])
	if n == 0xffffffff {
		if _, err := io.ReadFull(r.r, r.hdr[:]); err != nil {
			return nil, fmt.Errorf("reading message length: %w", unexpected(err))
		}
		n = binary.LittleEndian.Uint32(r.hdr[:])
	}
	if n == 0 {
		return nil, io.EOF // end-of-stream marker
	}
	if int64(n) > r.opts.MaxMetadataSize || n < 8 {
		return nil, fmt.Errorf("message metadata length %d outside [8, %d]", n, r.opts.MaxMetadataSize)
	}
	meta := make([]byte, n)
	if _, err := io.ReadFull(r.r, meta); err != nil {
		return nil, fmt.Errorf("reading message metadata: %w", unexpected(err))
	}
	m, err := verifyMessage(meta)
	if err != nil {
		return nil, err
	}
	if m.bodyLen > r.opts.MaxBodySize {
		return nil, fmt.Errorf("message body length %d exceeds the limit %d", m.bodyLen, r.opts.MaxBodySize)
	}
	// The body is on the Go heap, not from Options.Alloc: see Options.Alloc.
	body := memory.NewBufferBytes(make([]byte, m.bodyLen))
	defer body.Release()
	if _, err := io.ReadFull(r.r, body.Bytes()); err != nil {
		return nil, fmt.Errorf("reading message body: %w", unexpected(err))
	}
	if err := m.checkBody(body.Bytes(), r.opts.MaxBodySize); err != nil {
		return nil, err
	}
	if r.schema != nil {
		if err := checkLayout(r.schema, &m); err != nil {
			return nil, err
		}
	}
	mb := memory.NewBufferBytes(meta)
	defer mb.Release()
	r.msg = ipc.NewMessage(mb, body)
	return r.msg, nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
