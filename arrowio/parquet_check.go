package arrowio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
)

// Parquet page headers are checked here before pqarrow reads a row group,
// because arrow-go v18.8.0 allocates what two of their fields claim before
// it can tell that the claim is false:
//
//   - uncompressed_page_size: a buffer of that size (up to 256 MiB) is
//     allocated before the page is decompressed;
//   - the num_values of a dictionary page: an index into the dictionary
//     below num_values makes the decoder allocate index+1 values (16 GiB
//     for a DOUBLE dictionary claiming 2^31 values, which can end the
//     process: a failed allocation is fatal in Go, not a panic).
//
// checkColumnChunk walks the page headers of a column chunk the way
// arrow-go's page reader does (from the dictionary or first data page,
// until the chunk's num_values rows are seen or the chunk ends) and
// refuses, as ErrCorrupt:
//
//   - a page whose uncompressed size exceeds what its codec can produce
//     from its compressed size (maxExpansion), beyond a floor of
//     minPageLimit;
//   - a dictionary page whose num_values values cannot fit in its
//     uncompressed size;
//   - a Snappy or zstd page whose body claims to decompress to more than
//     its header's uncompressed size (checkBody): the decoders allocate
//     the claim first.
//
// Headers it cannot parse it leaves to arrow-go, which reports them. A page
// with a negative size ends the walk (stepping back over it would loop for
// ever; arrow-go refuses it). The walk reads the headers, the first bytes
// of a Snappy body and the frame and block headers of a zstd body: a few
// small reads per page. The footer
// is checked likewise before arrow-go decodes it (checkFooter).
//
// Not checked: levels. A few bytes of run-length encoded levels can
// describe billions of null or repeated values, which is a valid file;
// pqarrow materialises BatchRows rows at a time, so a row of a list column
// holding that many values is allocated whole.

// minPageLimit is the uncompressed size any page may claim, whatever its
// compressed size: arrow-go's read buffers are of this order anyway.
const minPageLimit = 1 << 20

// maxPageHeader bounds a page header, as arrow-go's reader does.
const maxPageHeader = 4 << 20

// maxExpansion returns the largest ratio of uncompressed to compressed
// size that a page of codec may claim, or 0 if no bound is known (then
// only arrow-go's limit of 256 MiB applies). These are the codecs'
// maxima: Snappy emits at most 64 bytes per 3-byte copy (21×), LZ4 about
// 255×, deflate 1032×, and zstd 32768× (a 4-byte RLE block of 128 KiB).
// Brotli can compress further; a brotli page of more than minPageLimit
// bytes that compresses more than 65536× is refused.
func maxExpansion(codec compress.Compression) int64 {
	switch codec {
	case compress.Codecs.Uncompressed:
		return 1
	case compress.Codecs.Snappy:
		return 32
	case compress.Codecs.Lz4, compress.Codecs.Lz4Raw:
		return 256
	case compress.Codecs.Gzip:
		return 1040
	case compress.Codecs.Zstd:
		return 32768
	case compress.Codecs.Brotli:
		return 65536
	}
	return 0
}

// Parquet page types (format.PageType).
const (
	pageData       = 0
	pageDictionary = 2
	pageDataV2     = 3
)

// pageHeader holds the fields of a Parquet page header that are checked.
type pageHeader struct {
	typ          int32
	uncompressed int32
	compressed   int32
	dataValues   int32 // DataPageHeader.num_values
	dictValues   int32 // DictionaryPageHeader.num_values
	v2Rows       int32 // DataPageHeaderV2.num_rows
	v2Def, v2Rep int32 // DataPageHeaderV2's level bytes
	v2Plain      bool  // !DataPageHeaderV2.is_compressed
	size         int   // bytes of the header
}

// columnChunk is what checkColumnChunk needs to know of a column chunk.
type columnChunk struct {
	start, end int64 // the bytes arrow-go reads pages from
	numValues  int64 // pages are read until this many rows are seen
	codec      compress.Compression
	valueBits  int64 // the least bits of a dictionary value
}

// checkColumnChunk walks the page headers of cc in r (see above).
func checkColumnChunk(r io.ReaderAt, cc columnChunk) error {
	var buf []byte
	off, seen := cc.start, int64(0)
	for seen < cc.numValues && off < cc.end {
		var h pageHeader
		var err error
		for window := int64(1 << 10); ; window *= 8 {
			n := min(window, maxPageHeader, cc.end-off)
			if int64(cap(buf)) < n {
				buf = make([]byte, n)
			}
			buf = buf[:n]
			if k, rerr := r.ReadAt(buf, off); int64(k) < n {
				if rerr == nil {
					rerr = io.ErrUnexpectedEOF
				}
				return fmt.Errorf("%w: reading a page header at byte %d: %w", ErrCorrupt, off, rerr)
			}
			h, err = parsePageHeader(buf)
			if !errors.Is(err, errShortHeader) || n == min(maxPageHeader, cc.end-off) {
				break
			}
		}
		if err != nil || h.compressed < 0 || h.uncompressed < 0 {
			// arrow-go reports it. (Walking on past a negative size
			// would go back: an endless loop, as a fuzzer found.)
			return nil
		}
		if err := cc.checkPage(h, off); err != nil {
			return err
		}
		if err := cc.checkBody(r, h, off); err != nil {
			return err
		}
		// Move on as arrow-go does: past the body of a data or
		// dictionary page, past the header only of another page.
		off += int64(h.size)
		switch h.typ {
		case pageData, pageDataV2:
			rows := h.dataValues
			if h.typ == pageDataV2 {
				rows = h.v2Rows
			}
			if rows < 0 {
				return nil // arrow-go refuses it
			}
			seen += int64(rows)
			off += int64(h.compressed)
		case pageDictionary:
			off += int64(h.compressed)
		}
	}
	return nil
}

// checkPage checks the page header h at byte off; its sizes are not
// negative.
func (cc columnChunk) checkPage(h pageHeader, off int64) error {
	if r := maxExpansion(cc.codec); r > 0 && int64(h.uncompressed) > max(minPageLimit, r*int64(h.compressed)) {
		return fmt.Errorf("%w: the page at byte %d claims %d bytes uncompressed from %d compressed with %s",
			ErrCorrupt, off, h.uncompressed, h.compressed, cc.codec)
	}
	if h.typ == pageDictionary && int64(h.dictValues)*cc.valueBits > 8*int64(h.uncompressed) {
		return fmt.Errorf("%w: the dictionary page at byte %d claims %d values in %d bytes",
			ErrCorrupt, off, h.dictValues, h.uncompressed)
	}
	return nil
}

// checkBody checks what the compressed body of the page at byte off says
// of its own size, where arrow-go's decoders allocate what it says before
// they find out whether it is true: the length preamble of a Snappy block
// (up to 4 GiB) and the content sizes of zstd frames (up to 64 GiB). A
// valid page decodes to exactly the uncompressed size in its header (for a
// V2 data page, less its levels, which are not compressed), so neither may
// claim more. Bodies it cannot parse it leaves to arrow-go.
func (cc columnChunk) checkBody(r io.ReaderAt, h pageHeader, off int64) error {
	if cc.codec != compress.Codecs.Snappy && cc.codec != compress.Codecs.Zstd {
		return nil
	}
	body, n, room := off+int64(h.size), int64(h.compressed), int64(h.uncompressed)
	switch h.typ {
	case pageData, pageDictionary:
	case pageDataV2:
		levels := int64(h.v2Def) + int64(h.v2Rep)
		if h.v2Plain || h.v2Def < 0 || h.v2Rep < 0 || levels > n {
			return nil // not decompressed, or refused by arrow-go
		}
		if levels > room {
			return fmt.Errorf("%w: the page at byte %d has %d bytes of levels in %d bytes uncompressed",
				ErrCorrupt, off, levels, room)
		}
		body, n, room = body+levels, n-levels, room-levels
	default:
		return nil
	}
	n = min(n, cc.end-body)
	if n <= 0 {
		return nil
	}
	w := window{r: r, end: body + n}
	var claim uint64
	if cc.codec == compress.Codecs.Snappy {
		b := w.at(body, int(min(n, binary.MaxVarintLen32)))
		v, k := binary.Uvarint(b)
		if k <= 0 {
			return nil // s2 refuses it
		}
		claim = v
	} else {
		claim = zstdClaim(&w, body, uint64(room))
	}
	if claim > uint64(room) {
		return fmt.Errorf("%w: the %s page at byte %d claims to decompress to %d bytes, its header to %d",
			ErrCorrupt, cc.codec, off, claim, room)
	}
	return nil
}

// zstdClaim returns the sum of the content sizes declared by the zstd
// frames from byte off of w, as far as they parse (klauspost/compress
// allocates each frame's declared size when the room left in its output is
// smaller), or a sum past limit as soon as it exceeds limit. Frames that do
// not declare their size count 0: they grow the output only as they are
// decoded.
func zstdClaim(w *window, off int64, limit uint64) uint64 {
	const (
		frameMagic     = 0xFD2FB528
		skippableMagic = 0x184D2A50 // to 0x184D2A5F
	)
	var sum uint64
	for off < w.end {
		b := w.at(off, 4)
		if b == nil {
			return sum
		}
		switch magic := binary.LittleEndian.Uint32(b); {
		case magic&^0xf == skippableMagic:
			b = w.at(off+4, 4)
			if b == nil {
				return sum
			}
			off += 8 + int64(binary.LittleEndian.Uint32(b))
			continue
		case magic != frameMagic:
			return sum
		}
		b = w.at(off+4, 1)
		if b == nil {
			return sum
		}
		desc := b[0]
		single := desc&0x20 != 0
		pos := off + 5 + int64([4]int{0, 1, 2, 4}[desc&3]) // the dictionary ID
		if !single {
			pos++ // the window descriptor
		}
		if size := [4]int{0, 2, 4, 8}[desc>>6]; size > 0 || single {
			size = max(size, 1)
			b = w.at(pos, size)
			if b == nil {
				return sum
			}
			var fcs uint64
			for i := size - 1; i >= 0; i-- {
				fcs = fcs<<8 | uint64(b[i])
			}
			if size == 2 {
				fcs += 256
			}
			if fcs > limit-sum {
				return limit + 1
			}
			sum += fcs
			pos += int64(size)
		}
		for last := false; !last; {
			b = w.at(pos, 3)
			if b == nil {
				return sum
			}
			head := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
			last = head&1 != 0
			pos += 3
			switch head >> 1 & 3 {
			case 0, 2: // raw, compressed
				pos += int64(head >> 3)
			case 1: // run length
				pos++
			default:
				return sum
			}
		}
		if desc&4 != 0 {
			pos += 4 // the checksum
		}
		off = pos
	}
	return sum
}

// window reads small pieces of r below end through a buffer.
type window struct {
	r     io.ReaderAt
	end   int64
	buf   []byte
	start int64 // of buf in r
}

// at returns the k bytes at off, or nil if they are not all there.
func (w *window) at(off int64, k int) []byte {
	if off < 0 || off+int64(k) > w.end {
		return nil
	}
	if off < w.start || off+int64(k) > w.start+int64(len(w.buf)) {
		if w.buf == nil {
			w.buf = make([]byte, 0, 64<<10)
		}
		n := min(int64(cap(w.buf)), w.end-off)
		w.buf = w.buf[:n]
		if m, _ := w.r.ReadAt(w.buf, off); int64(m) < n {
			w.buf = w.buf[:0]
			return nil
		}
		w.start = off
	}
	return w.buf[off-w.start : off-w.start+int64(k)]
}

// valueBits returns the least bits of a PLAIN-encoded value of a column
// of physical type t (of typeLength bytes if fixed-length byte array).
func valueBits(t parquet.Type, typeLength int) int64 {
	switch t {
	case parquet.Types.Boolean:
		return 1
	case parquet.Types.Int32, parquet.Types.Float, parquet.Types.ByteArray:
		return 32 // a ByteArray value has a 4-byte length
	case parquet.Types.Int64, parquet.Types.Double:
		return 64
	case parquet.Types.Int96:
		return 96
	case parquet.Types.FixedLenByteArray:
		return 8 * int64(max(typeLength, 1))
	}
	return 8
}

// errShortHeader reports a page header cut off by the end of the buffer.
var errShortHeader = errors.New("page header cut off")

// errBadHeader reports bytes that are not a Thrift compact PageHeader.
var errBadHeader = errors.New("not a page header")

// parsePageHeader reads the Thrift compact encoding of a PageHeader from
// the start of b:
//
//	1: i32 type, 2: i32 uncompressed_page_size, 3: i32 compressed_page_size,
//	5: DataPageHeader {1: i32 num_values, ...},
//	7: DictionaryPageHeader {1: i32 num_values, ...},
//	8: DataPageHeaderV2 {1: i32 num_values, 2: i32 num_nulls, 3: i32 num_rows, ...}
//
// skipping other fields. Fields 1 to 3 are required.
func parsePageHeader(b []byte) (pageHeader, error) {
	t := thriftReader{b: b}
	var h pageHeader
	var have int
	err := t.fields(func(id int16, typ byte) error {
		var v *int32 // the field read
		var sub *int32
		switch {
		case id == 1 && typ == tI32:
			v = &h.typ
		case id == 2 && typ == tI32:
			v = &h.uncompressed
		case id == 3 && typ == tI32:
			v = &h.compressed
		case id == 5 && typ == tStruct:
			sub = &h.dataValues
		case id == 7 && typ == tStruct:
			sub = &h.dictValues
		case id == 8 && typ == tStruct:
			return h.parseV2(&t)
		default:
			return t.skip(typ, 0)
		}
		if sub != nil {
			return t.fields(func(id int16, typ byte) error {
				if id != 1 || typ != tI32 {
					return t.skip(typ, 1)
				}
				var err error
				*sub, err = t.i32()
				return err
			})
		}
		have |= 1 << id
		var err error
		*v, err = t.i32()
		return err
	})
	if err != nil {
		return h, err
	}
	if have != 1<<1|1<<2|1<<3 {
		return h, errBadHeader
	}
	h.size = t.i
	return h, nil
}

// parseV2 reads the fields of a DataPageHeaderV2 that are checked:
//
//	3: i32 num_rows, 5: i32 definition_levels_byte_length,
//	6: i32 repetition_levels_byte_length, 7: bool is_compressed
func (h *pageHeader) parseV2(t *thriftReader) error {
	return t.fields(func(id int16, typ byte) error {
		switch {
		case id == 3 && typ == tI32:
			v, err := t.i32()
			h.v2Rows = v
			return err
		case id == 5 && typ == tI32:
			v, err := t.i32()
			h.v2Def = v
			return err
		case id == 6 && typ == tI32:
			v, err := t.i32()
			h.v2Rep = v
			return err
		case id == 7 && (typ == tBoolTrue || typ == tBoolFalse):
			h.v2Plain = typ == tBoolFalse
			return nil
		}
		return t.skip(typ, 1)
	})
}

// Thrift compact protocol types.
const (
	tBoolTrue  = 1
	tBoolFalse = 2
	tByte      = 3
	tI16       = 4
	tI32       = 5
	tI64       = 6
	tDouble    = 7
	tBinary    = 8
	tList      = 9
	tSet       = 10
	tMap       = 11
	tStruct    = 12
	tUUID      = 13
)

// maxThriftDepth bounds the nesting of skipped values. It is deeper than
// the Thrift library allows (64 below each struct it knows), so that
// whatever arrow-go reads, this reads.
const maxThriftDepth = 128

// thriftReader reads the Thrift compact protocol from b.
type thriftReader struct {
	b []byte
	i int
}

func (t *thriftReader) byte() (byte, error) {
	if t.i >= len(t.b) {
		return 0, errShortHeader
	}
	t.i++
	return t.b[t.i-1], nil
}

// uvarint reads a varint as the Thrift library does: up to 10 bytes,
// bits beyond 64 dropped.
func (t *thriftReader) uvarint() (uint64, error) {
	var v uint64
	for k := 0; k < 10; k++ {
		c, err := t.byte()
		if err != nil {
			return 0, err
		}
		v |= uint64(c&0x7f) << (7 * k)
		if c < 0x80 {
			return v, nil
		}
	}
	return 0, errBadHeader
}

// i32 reads a zigzag i32 as the Thrift library does: the varint is cut to
// 32 bits before it is decoded.
func (t *thriftReader) i32() (int32, error) {
	v, err := t.uvarint()
	u := uint32(v)
	return int32(u>>1) ^ -int32(u&1), err
}

// size reads the varint size of a binary, list, set or map, which the
// Thrift library reads as an int32 and refuses if negative.
func (t *thriftReader) size() (uint64, error) {
	v, err := t.uvarint()
	if err == nil && int32(v) < 0 {
		err = errBadHeader
	}
	return uint64(uint32(v)), err
}

func (t *thriftReader) advance(n uint64) error {
	if n > uint64(len(t.b)-t.i) {
		return errShortHeader
	}
	t.i += int(n)
	return nil
}

// fields reads the fields of a struct up to its stop byte, calling f for
// each with its id and type; f reads or skips the value.
func (t *thriftReader) fields(f func(id int16, typ byte) error) error {
	var last int16
	for {
		c, err := t.byte()
		if err != nil {
			return err
		}
		typ := c & 0x0f
		if typ == 0 {
			return nil
		}
		id := last + int16(c>>4)
		if c>>4 == 0 {
			v, err := t.i32()
			if err != nil {
				return err
			}
			id = int16(v)
		}
		last = id
		if err := f(id, typ); err != nil {
			return err
		}
	}
}

// skip skips a value of type typ at nesting depth.
func (t *thriftReader) skip(typ byte, depth int) error {
	if depth > maxThriftDepth {
		return errBadHeader
	}
	switch typ {
	case tBoolTrue, tBoolFalse:
		return nil // in the field header (in lists, elements are a byte: see skipElems)
	case tByte:
		return t.advance(1)
	case tI16, tI32, tI64:
		_, err := t.uvarint()
		return err
	case tDouble:
		return t.advance(8)
	case tUUID:
		return t.advance(16)
	case tBinary:
		n, err := t.size()
		if err != nil {
			return err
		}
		return t.advance(n)
	case tList, tSet:
		c, err := t.byte()
		if err != nil {
			return err
		}
		n := uint64(c >> 4)
		if n == 15 {
			if n, err = t.size(); err != nil {
				return err
			}
		}
		return t.skipElems(n, []byte{c & 0x0f}, depth)
	case tMap:
		n, err := t.size()
		if err != nil || n == 0 {
			return err
		}
		c, err := t.byte()
		if err != nil {
			return err
		}
		return t.skipElems(n, []byte{c >> 4, c & 0x0f}, depth)
	case tStruct:
		return t.fields(func(_ int16, typ byte) error { return t.skip(typ, depth+1) })
	}
	return errBadHeader
}

// skipElems skips n elements (for a map, n pairs) of the given types.
// Every element takes at least a byte (or is an error), so a huge n ends
// with the bytes.
func (t *thriftReader) skipElems(n uint64, types []byte, depth int) error {
	for range n {
		for _, typ := range types {
			var err error
			if typ == tBoolTrue || typ == tBoolFalse {
				err = t.advance(1)
			} else {
				err = t.skip(typ, depth+1)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// checkFooter checks the footer (FileMetaData) of the Parquet file r of
// size bytes before arrow-go decodes it, as ErrCorrupt:
//
//   - every list in it must hold the elements it claims: the Thrift
//     library (v0.24) allows up to 100 MiB elements whatever the bytes
//     left, and arrow-go allocates room for them first (800 MB of
//     pointers for a list of structs in a footer of a few bytes);
//   - each schema element has at most as many children as the schema has
//     elements (arrow-go allocates room for num_children nodes: 32 GiB
//     for 2^31-1).
//
// A file without the plain footer magic is left to arrow-go.
func checkFooter(r io.ReaderAt, size int64) error {
	var tail [8]byte
	if size < int64(len(tail)) {
		return nil
	}
	if _, err := r.ReadAt(tail[:], size-8); err != nil || string(tail[4:]) != "PAR1" {
		return nil
	}
	n := int64(binary.LittleEndian.Uint32(tail[:4]))
	if n+8 > size {
		return nil // arrow-go refuses it
	}
	b := make([]byte, n)
	if _, err := r.ReadAt(b, size-8-n); err != nil {
		return fmt.Errorf("%w: reading the footer: %w", ErrCorrupt, err)
	}
	t := thriftReader{b: b}
	if err := t.skip(tStruct, 0); err != nil {
		return fmt.Errorf("%w: footer of %d bytes: %w", ErrCorrupt, n, err)
	}
	// The lists are whole: now the schema's num_children.
	t = thriftReader{b: b}
	err := t.fields(func(id int16, typ byte) error {
		if id != 2 || typ != tList {
			return t.skip(typ, 0)
		}
		c, _ := t.byte()
		elems := uint64(c >> 4)
		if elems == 15 {
			elems, _ = t.size()
		}
		if c&0x0f != tStruct {
			return t.skipElems(elems, []byte{c & 0x0f}, 0)
		}
		for range elems {
			err := t.fields(func(id int16, typ byte) error {
				if id != 5 || typ != tI32 {
					return t.skip(typ, 1)
				}
				k, err := t.i32()
				if err == nil && (k < 0 || uint64(k) > elems) {
					err = fmt.Errorf("a schema element claims %d children, the schema has %d elements", k, elems)
				}
				return err
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w: footer: %w", ErrCorrupt, err)
	}
	return nil
}
