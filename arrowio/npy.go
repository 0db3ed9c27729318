package arrowio

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/endian"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// NpyColumn is the name of the only column of a NumPy .npy file: its rows
// are the array's first axis.
const NpyColumn = "data"

// npyMagic starts every .npy file (format versions 1.0, 2.0 and 3.0).
var npyMagic = []byte("\x93NUMPY")

// npyBatchBytes bounds the bytes of one batch of a .npy file, so that a
// batch of wide rows stays small; a batch holds at least one row.
const npyBatchBytes = 8 << 20

// maxNpyHeader bounds the header of a .npy file (numpy itself refuses
// headers above 10 KB unless told otherwise).
const maxNpyHeader = 1 << 20

// npyFile is a NumPy .npy file read by offset: batch b holds rows
// [b*batch, (b+1)*batch), read (ReadAt) into a Go buffer aligned for any
// element type, recycled once the batch is released (nothing charged to
// Options.Alloc). See localFile for
// why it is not memory-mapped.
//
// A file of shape (n,) is one scalar column; a file of shape (n, d1, ...,
// dk) is one FixedSizeList column of d1·…·dk values per row (the trailing
// axes flattened in C order). The column is named NpyColumn.
type npyFile struct {
	in     randomFile
	mem    recycler // the buffers of the batches
	sch    *arrow.Schema
	elem   arrow.DataType
	off    int64 // offset of the first value
	n      int64 // rows
	width  int   // values per row (1 for a 1-D array)
	list   bool  // shape has more than one axis
	rowLen int64 // bytes per row
	batch  int64 // rows per batch
}

// npyHeader is the parsed header dictionary of a .npy file.
type npyHeader struct {
	descr   string
	fortran bool
	shape   []int64
}

// openNpy takes ownership of in, whose first bytes are npyMagic.
func openNpy(in randomFile, opts Options) (source, error) {
	s, err := newNpy(in, opts)
	if err != nil {
		in.Close()
		return nil, err
	}
	return s, nil
}

func newNpy(f randomFile, opts Options) (*npyFile, error) {
	size := f.Size()
	pre := make([]byte, 12)
	if _, err := f.ReadAt(pre[:10], 0); err != nil {
		return nil, fmt.Errorf("%w: .npy preamble: %w", ErrCorrupt, err)
	}
	major, minor := pre[6], pre[7]
	var hlen, hstart int64
	switch major {
	case 1:
		hlen, hstart = int64(binary.LittleEndian.Uint16(pre[8:])), 10
	case 2, 3:
		if _, err := f.ReadAt(pre[:12], 0); err != nil {
			return nil, fmt.Errorf("%w: .npy preamble: %w", ErrCorrupt, err)
		}
		hlen, hstart = int64(binary.LittleEndian.Uint32(pre[8:])), 12
	default:
		return nil, fmt.Errorf("%w: .npy format version %d.%d (want 1.0, 2.0 or 3.0)", ErrUnsupported, major, minor)
	}
	if hlen > maxNpyHeader {
		return nil, fmt.Errorf("%w: .npy header of %d bytes", ErrCorrupt, hlen)
	}
	if hstart+hlen > size {
		return nil, fmt.Errorf("%w: .npy header of %d bytes, file has %d", ErrCorrupt, hlen, size)
	}
	hb := make([]byte, hlen)
	if _, err := f.ReadAt(hb, hstart); err != nil {
		return nil, fmt.Errorf("%w: .npy header: %w", ErrCorrupt, err)
	}
	if major < 3 {
		for _, c := range hb {
			if c >= 0x80 {
				return nil, fmt.Errorf("%w: .npy %d.0 header is not ASCII", ErrCorrupt, major)
			}
		}
	} else if !utf8.Valid(hb) {
		return nil, fmt.Errorf("%w: .npy 3.0 header is not UTF-8", ErrCorrupt)
	}
	h, err := parseNpyHeader(string(hb))
	if err != nil {
		return nil, fmt.Errorf("%w: .npy header %q: %w", ErrCorrupt, strings.TrimSpace(string(hb)), err)
	}
	elem, err := npyType(h.descr)
	if err != nil {
		return nil, err
	}
	s := &npyFile{in: f, elem: elem, off: hstart + hlen}
	switch len(h.shape) {
	case 0:
		return nil, fmt.Errorf("%w: .npy array of shape () holds no samples (want shape (n,) or (n, d))", ErrUnsupported)
	case 1:
		s.n, s.width = h.shape[0], 1
	default:
		s.n, s.width, s.list = h.shape[0], 1, true
		for _, d := range h.shape[1:] {
			w, ok := mulInt64(int64(s.width), d)
			if !ok || w > math.MaxInt32 {
				return nil, fmt.Errorf("%w: .npy shape %v: too many values per row", ErrUnsupported, h.shape)
			}
			s.width = int(w)
		}
		if s.width == 0 {
			return nil, fmt.Errorf("%w: .npy shape %v has no values per row", ErrUnsupported, h.shape)
		}
	}
	if h.fortran && len(h.shape) > 1 {
		return nil, fmt.Errorf("%w: .npy array in Fortran (column-major) order; save it in C order (numpy.ascontiguousarray)", ErrUnsupported)
	}
	item := int64(elem.(arrow.FixedWidthDataType).Bytes())
	s.rowLen = item * int64(s.width)
	need, ok := mulInt64(s.n, s.rowLen)
	if !ok {
		return nil, fmt.Errorf("%w: .npy shape %v is too large", ErrCorrupt, h.shape)
	}
	if have := size - s.off; have != need {
		what := "truncated"
		if have > need {
			what = "trailing bytes"
		}
		return nil, fmt.Errorf("%w: %s: shape %v of %s needs %d bytes of data, the file has %d", ErrCorrupt, what, h.shape, h.descr, need, have)
	}
	s.batch = max(1, min(int64(opts.BatchRows), npyBatchBytes/max(1, s.rowLen)))
	typ := elem
	if s.list {
		typ = arrow.FixedSizeListOfNonNullable(int32(s.width), elem)
	}
	s.sch = arrow.NewSchema([]arrow.Field{{Name: NpyColumn, Type: typ}}, nil)
	return s, nil
}

// mulInt64 returns a·b and whether it neither overflowed nor was negative.
func mulInt64(a, b int64) (int64, bool) {
	if a < 0 || b < 0 {
		return 0, false
	}
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi != 0 || lo > math.MaxInt64 {
		return 0, false
	}
	return int64(lo), true
}

// npyType returns the Arrow type of a .npy dtype descriptor. Little-endian
// (and, for one byte, byte-order-free) floats and integers are read.
func npyType(descr string) (arrow.DataType, error) {
	if len(descr) >= 2 {
		order, code := descr[0], descr[1:]
		little := order == '<' || order == '|' || order == '='
		if nativeLittle() && little {
			switch code {
			case "f2":
				return arrow.FixedWidthTypes.Float16, nil
			case "f4":
				return arrow.PrimitiveTypes.Float32, nil
			case "f8":
				return arrow.PrimitiveTypes.Float64, nil
			case "i1":
				return arrow.PrimitiveTypes.Int8, nil
			case "i2":
				return arrow.PrimitiveTypes.Int16, nil
			case "i4":
				return arrow.PrimitiveTypes.Int32, nil
			case "i8":
				return arrow.PrimitiveTypes.Int64, nil
			case "u1":
				return arrow.PrimitiveTypes.Uint8, nil
			case "u2":
				return arrow.PrimitiveTypes.Uint16, nil
			case "u4":
				return arrow.PrimitiveTypes.Uint32, nil
			case "u8":
				return arrow.PrimitiveTypes.Uint64, nil
			}
		}
	}
	return nil, fmt.Errorf("%w: .npy dtype %q (want little-endian f2, f4, f8, or a little-endian integer)", ErrUnsupported, descr)
}

// nativeLittle reports whether the machine is little-endian; Arrow buffers
// are in native byte order.
func nativeLittle() bool { return !endian.IsBigEndian }

// parseNpyHeader parses the Python dict literal of a .npy header, such as
//
//	{'descr': '<f8', 'fortran_order': False, 'shape': (1000, 64), }
//
// It reads string, bool, int and tuple values, as numpy writes them.
func parseNpyHeader(s string) (npyHeader, error) {
	p := pyParser{s: s}
	v, err := p.value()
	if err != nil {
		return npyHeader{}, err
	}
	p.space()
	if p.i != len(p.s) {
		return npyHeader{}, fmt.Errorf("unexpected %q after the dictionary", p.s[p.i:])
	}
	d, ok := v.(map[string]any)
	if !ok {
		return npyHeader{}, fmt.Errorf("not a dictionary")
	}
	var h npyHeader
	if h.descr, ok = d["descr"].(string); !ok {
		return h, fmt.Errorf("'descr' is missing or not a string (structured dtypes are not supported)")
	}
	if h.fortran, ok = d["fortran_order"].(bool); !ok {
		return h, fmt.Errorf("'fortran_order' is missing or not a bool")
	}
	shape, ok := d["shape"].([]any)
	if !ok {
		return h, fmt.Errorf("'shape' is missing or not a tuple")
	}
	for _, x := range shape {
		n, ok := x.(int64)
		if !ok || n < 0 {
			return h, fmt.Errorf("'shape' holds %v, want non-negative integers", x)
		}
		h.shape = append(h.shape, n)
	}
	return h, nil
}

// pyParser reads the subset of Python literals found in .npy headers.
type pyParser struct {
	s     string
	i     int
	depth int
}

func (p *pyParser) space() {
	for p.i < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *pyParser) value() (any, error) {
	p.space()
	if p.i >= len(p.s) {
		return nil, fmt.Errorf("unexpected end")
	}
	if p.depth++; p.depth > 16 {
		return nil, fmt.Errorf("nested too deeply")
	}
	defer func() { p.depth-- }()
	switch c := p.s[p.i]; {
	case c == '{':
		return p.seq('{', '}', true)
	case c == '(':
		return p.seq('(', ')', false)
	case c == '[':
		return p.seq('[', ']', false)
	case c == '\'' || c == '"':
		j := strings.IndexByte(p.s[p.i+1:], c)
		if j < 0 {
			return nil, fmt.Errorf("unterminated string")
		}
		v := p.s[p.i+1 : p.i+1+j]
		p.i += j + 2
		return v, nil
	default:
		j := p.i
		for j < len(p.s) && strings.IndexByte(",:)]} \t\r\n", p.s[j]) < 0 {
			j++
		}
		tok := p.s[p.i:j]
		p.i = j
		switch tok {
		case "True":
			return true, nil
		case "False":
			return false, nil
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(tok, "L"), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("unexpected %q", tok)
		}
		return n, nil
	}
}

// seq reads a dict (keyed) or a tuple or list, open and close included.
func (p *pyParser) seq(open, close byte, keyed bool) (any, error) {
	p.i++ // open
	var list []any
	dict := make(map[string]any)
	for {
		p.space()
		if p.i < len(p.s) && p.s[p.i] == close {
			p.i++
			if keyed {
				return dict, nil
			}
			return list, nil
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		if keyed {
			k, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("dictionary key %v is not a string", v)
			}
			p.space()
			if p.i >= len(p.s) || p.s[p.i] != ':' {
				return nil, fmt.Errorf("want ':' after key %q", k)
			}
			p.i++
			if v, err = p.value(); err != nil {
				return nil, err
			}
			if _, dup := dict[k]; dup {
				return nil, fmt.Errorf("key %q twice", k)
			}
			dict[k] = v
		} else {
			list = append(list, v)
		}
		p.space()
		if p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
			continue
		}
		if p.i < len(p.s) && p.s[p.i] == close {
			continue
		}
		return nil, fmt.Errorf("want ',' or %q", close)
	}
}

func (s *npyFile) schema() *arrow.Schema { return s.sch }

func (s *npyFile) newReader(ctx context.Context) (array.RecordReader, error) {
	return &npyReader{f: s, refs: 1}, nil
}

// newReaderAt returns a reader whose first batch starts at row.
func (s *npyFile) newReaderAt(ctx context.Context, row int64) (array.RecordReader, int64, error) {
	row = min(max(row, 0), s.n)
	return &npyReader{f: s, refs: 1, i: row}, row, nil
}

func (s *npyFile) close() error { return s.in.Close() }

// npyReader reads the batches of an npyFile in order.
type npyReader struct {
	f    *npyFile
	refs int // readers are not shared between goroutines (see Source)
	i    int64
	rec  arrow.RecordBatch
	err  error
}

func (r *npyReader) Retain() { r.refs++ }

func (r *npyReader) Release() {
	if r.refs--; r.refs == 0 {
		r.drop()
	}
}

func (r *npyReader) drop() {
	if r.rec != nil {
		r.rec.Release()
		r.rec = nil
	}
}

func (r *npyReader) Schema() *arrow.Schema          { return r.f.sch }
func (r *npyReader) RecordBatch() arrow.RecordBatch { return r.rec }

// Record returns the current batch.
//
// Deprecated: Use [npyReader.RecordBatch] instead.
func (r *npyReader) Record() arrow.RecordBatch { return r.rec }
func (r *npyReader) Err() error                { return r.err }

func (r *npyReader) Next() bool {
	r.drop()
	s := r.f
	if r.err != nil || r.i >= s.n {
		return false
	}
	m := min(s.batch, s.n-r.i)
	lo := s.off + r.i*s.rowLen
	hi := lo + m*s.rowLen
	b := s.mem.Allocate(int(hi - lo)) // aligned for any element type
	buf := memory.NewBufferWithAllocator(b, &s.mem)
	defer buf.Release()
	if _, err := s.in.ReadAt(b, lo); err != nil {
		r.err = corrupt(fmt.Errorf("reading rows %d to %d: %w", r.i, r.i+m, err))
		return false
	}
	vals := array.NewData(s.elem, int(m)*s.width, []*memory.Buffer{nil, buf}, nil, 0, 0)
	defer vals.Release()
	col := vals
	if s.list {
		col = array.NewData(s.sch.Field(0).Type, int(m), []*memory.Buffer{nil}, []arrow.ArrayData{vals}, 0, 0)
		defer col.Release()
	}
	arr := array.MakeFromData(col)
	defer arr.Release()
	r.rec = array.NewRecordBatch(s.sch, []arrow.Array{arr}, m)
	r.i += m
	return true
}
