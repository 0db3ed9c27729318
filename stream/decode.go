package stream

import (
	"fmt"
	"math"
	"math/bits"
	"path"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/dcor-stream/dcor-stream/arrowio"
	"github.com/dcor-stream/dcor-stream/internal/finite"
)

// dropHint ends the messages of invalid values, which the user may ask to
// drop instead.
const dropHint = " (use -drop-invalid to drop such rows)"

// Decoder converts the columns of one feature space, batch by batch, into
// dense row-major float64 rows: row i of a batch becomes Dim consecutive
// values. It is resolved once against a schema (NewDecoder) and then fed the
// batches of that schema in order (Append); the same conversion serves the
// in-memory load and passes over data larger than memory.
//
// A space is either one List, LargeList or FixedSizeList column of numbers
// (one sample's vector per row; all rows of the same length), or one or
// more scalar numeric columns (one dimension each). Numbers are float16,
// float32, float64 and the signed and unsigned integers of 8 to 64 bits;
// float16 converts through its float32 value, and integers of up to 32
// bits exactly.
//
// Integers of 64 bits are converted minus a centre per dimension, the
// first non-null value of that dimension in the file (see learn): the
// difference, formed exactly in integer arithmetic, converts exactly
// whenever the column's values lie within 2^53 of it, whatever their
// magnitude (2^62 + k is k), and distances, hence every statistic but
// those of -normalize-rows, do not change under a translation. A
// difference that float64 cannot hold exactly is an error wrapping
// ErrInexact, never a rounding. With raw (Options.RawIntegers) the
// centre is 0.
//
// A Decoder keeps the list length once seen; it is not safe for concurrent
// use. Its zero value is not usable.
type Decoder struct {
	file    string        // display name, for errors
	columns []string      // resolved column names
	fields  []arrow.Field // the resolved fields, to check later batches
	idx     []int         // their indices in the schema
	list    bool          // one list-like column
	dim     int           // values per row; 0 until known for List columns
	pending int           // List: null rows appended before dim was known

	// The centres of the 64-bit integer columns (ints), one per
	// dimension, in the order of the column's values (signed: the
	// value's bits with the sign bit flipped, so that the unsigned
	// order is the signed one), each set (known) by the first non-null
	// value converted (see learn); known is true for the other columns.
	ints    bool
	raw     bool // Options.RawIntegers: centres 0
	centres []uint64
	known   []bool
}

// NewDecoder resolves columns (names and globs, as in Spec.Columns) against
// schema. file names the file in errors. Errors wrap ErrColumn or ErrType.
func NewDecoder(file string, schema *arrow.Schema, columns []string) (*Decoder, error) {
	return newDecoder(file, schema, columns, "")
}

// newDecoder is NewDecoder whose globs do not match the column skip (the
// sample-ID column of Options.Key).
func newDecoder(file string, schema *arrow.Schema, columns []string, skip string) (*Decoder, error) {
	d := &Decoder{file: file}
	colErr := func(sentinel error, col, format string, args ...any) error {
		return &Error{File: file, Column: col, Row: -1, Msg: fmt.Sprintf(format, args...), Err: sentinel}
	}
	seen := make(map[int]bool)
	add := func(i int) error {
		if seen[i] {
			return colErr(ErrColumn, schema.Field(i).Name, "selected twice")
		}
		seen[i] = true
		d.idx = append(d.idx, i)
		return nil
	}
	if len(columns) == 0 {
		return nil, colErr(ErrColumn, "", "no columns given")
	}
	for _, c := range columns {
		if isGlob(c) {
			n := 0
			for i, f := range schema.Fields() {
				if skip != "" && f.Name == skip {
					continue
				}
				if ok, err := path.Match(c, f.Name); err != nil {
					return nil, colErr(ErrColumn, "", "bad glob %q: %v", c, err)
				} else if ok {
					if err := add(i); err != nil {
						return nil, err
					}
					n++
				}
			}
			if n == 0 {
				return nil, colErr(ErrColumn, "", "no column matches %q (columns: %s)", c, available(schema))
			}
			continue
		}
		switch is := schema.FieldIndices(c); len(is) {
		case 0:
			return nil, colErr(ErrColumn, c, "not found (columns: %s)", available(schema))
		case 1:
			if err := add(is[0]); err != nil {
				return nil, err
			}
		default:
			return nil, colErr(ErrColumn, c, "ambiguous: %d columns have this name", len(is))
		}
	}
	for _, i := range d.idx {
		f := schema.Field(i)
		d.fields = append(d.fields, f)
		d.columns = append(d.columns, f.Name)
	}

	if len(d.idx) == 1 {
		if elem, size, ok := listElem(d.fields[0].Type); ok {
			d.ints = isInt64(elem)
			if !isNumber(elem) {
				return nil, colErr(ErrType, d.columns[0], "has type %s, want a number or a list of numbers", d.fields[0].Type)
			}
			if size == 0 {
				return nil, colErr(ErrType, d.columns[0], "is a fixed-size list of 0 values")
			}
			d.list = true
			d.dim = size // -1 for List: known at the first non-null row
			if size < 0 {
				d.dim = 0
			}
			if d.ints {
				d.centres, d.known = make([]uint64, d.dim), make([]bool, d.dim)
			}
			return d, nil
		}
	}
	via := ""
	if len(columns) == 1 && isGlob(columns[0]) {
		via = fmt.Sprintf(" (matched by %q)", columns[0])
	}
	for _, f := range d.fields {
		if _, _, ok := listElem(f.Type); ok {
			return nil, colErr(ErrColumn, f.Name, "is a list column: it must be a space by itself, not combined with other columns%s", via)
		}
		if !isNumber(f.Type) {
			why := ""
			if w := arrowio.TextCell(f); w != "" {
				why = " (" + w + ")"
			}
			return nil, colErr(ErrType, f.Name, "has type %s%s, want a number or a list of numbers%s", f.Type, why, via)
		}
		d.ints = d.ints || isInt64(f.Type)
		d.known = append(d.known, !isInt64(f.Type))
	}
	d.dim = len(d.idx)
	d.centres = make([]uint64, d.dim)
	return d, nil
}

func isInt64(dt arrow.DataType) bool { return dt.ID() == arrow.INT64 || dt.ID() == arrow.UINT64 }

// available lists the column names of schema for an error message.
func available(schema *arrow.Schema) string {
	const most = 20
	var names []string
	for i, f := range schema.Fields() {
		if i == most {
			names = append(names, fmt.Sprintf("... %d more", schema.NumFields()-most))
			break
		}
		names = append(names, fmt.Sprintf("%q", f.Name))
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// listElem returns the element type of a list-like type and its fixed size
// (-1 for List and LargeList).
func listElem(dt arrow.DataType) (elem arrow.DataType, size int, ok bool) {
	switch t := dt.(type) {
	case *arrow.FixedSizeListType:
		return t.Elem(), int(t.Len()), true
	case *arrow.ListType:
		return t.Elem(), -1, true
	case *arrow.LargeListType:
		return t.Elem(), -1, true
	}
	return nil, 0, false
}

func isNumber(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.FLOAT16, arrow.FLOAT32, arrow.FLOAT64:
		return true
	}
	return false
}

func isFloat(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.FLOAT16, arrow.FLOAT32, arrow.FLOAT64:
		return true
	}
	return false
}

// Columns returns the names of the resolved columns, in order: one name for
// a list column, one per dimension otherwise.
func (d *Decoder) Columns() []string { return d.columns }

// Dim returns the number of values per row. For a List column it is 0 until
// Append has seen a non-null row.
func (d *Decoder) Dim() int { return d.dim }

// Append converts the rows of rec for this space and appends them,
// row-major, to dst; it returns the extended slice (which may be dst
// reallocated, as with append). row0 is the number of rows of the file
// before rec: errors give row numbers counted from 0 across the batches.
//
// With invalid == nil a null value (a null list, a null list element), NaN
// or ±Inf is an error wrapping ErrInvalidValue, reported at the first such
// row of the batch. Otherwise invalid is called with the batch row index of
// each such row (perhaps more than once per row), and the row is appended
// anyway with unspecified values: the caller drops it. A list of the wrong
// length is always an error (ErrListLength), as is a batch whose columns
// differ from the schema's (ErrSchemaMismatch).
//
// rec must be structurally valid (as arrowio's readers guarantee).
func (d *Decoder) Append(dst []float64, rec arrow.RecordBatch, row0 int64, invalid func(i int)) ([]float64, error) {
	if err := d.checkSchema(rec.Schema(), row0); err != nil {
		return dst, err
	}
	n := int(rec.NumRows())
	if n == 0 {
		return dst, nil
	}
	c := checker{d: d, row0: row0, invalid: invalid, first: -1}
	if d.list {
		switch col := rec.Column(d.idx[0]).(type) {
		case *array.FixedSizeList:
			dst = d.appendFixed(dst, col, &c)
		case array.ListLike:
			dst = d.appendList(dst, col, &c)
		default:
			panic("stream: list column of unexpected type")
		}
	} else {
		dst = d.appendScalars(dst, rec, &c)
	}
	return dst, c.err()
}

func (d *Decoder) checkSchema(s *arrow.Schema, row0 int64) error {
	for k, i := range d.idx {
		if i >= s.NumFields() {
			return &Error{File: d.file, Column: d.columns[k], Row: row0, Err: ErrSchemaMismatch,
				Msg: fmt.Sprintf("schema changed: batch has %d columns, the column was number %d", s.NumFields(), i)}
		}
		f := s.Field(i)
		if f.Name != d.fields[k].Name || !arrow.TypeEqual(f.Type, d.fields[k].Type) {
			return &Error{File: d.file, Column: d.columns[k], Row: row0, Err: ErrSchemaMismatch,
				Msg: fmt.Sprintf("schema changed: column %d is now %q of type %s, was of type %s", i, f.Name, f.Type, d.fields[k].Type)}
		}
	}
	return nil
}

// checker collects the problems of one batch: it hands invalid rows to the
// caller's function, or remembers the problem of the lowest row for the
// error. Its zero value is not usable: first must start at -1.
type checker struct {
	d        *Decoder
	row0     int64
	invalid  func(int)
	first    int // batch row of the first problem, -1 if none
	col      string
	msg      string
	sentinel error
}

// bad records an invalid value (null, NaN, ±Inf) at batch row i.
func (c *checker) bad(i int, col, msg string) {
	if c.invalid != nil {
		c.invalid(i)
		return
	}
	c.fail(i, col, msg+dropHint, ErrInvalidValue)
}

// fail records an error at batch row i.
func (c *checker) fail(i int, col, msg string, sentinel error) {
	if c.first < 0 || i < c.first {
		c.first, c.col, c.msg, c.sentinel = i, col, msg, sentinel
	}
}

func (c *checker) err() error {
	if c.first < 0 {
		return nil
	}
	return &Error{File: c.d.file, Column: c.col, Row: c.row0 + int64(c.first), Msg: c.msg, Err: c.sentinel}
}

// finite checks vals[0], vals[stride], vals[2*stride], ... for NaN and
// ±Inf. For a scalar column (elems == 0) value k is row k; for a fixed-size
// list (stride 1) value k is element k%elems of row k/elems.
func (c *checker) finite(vals []float64, stride int, col string, elems int) {
	if stride == 1 && finite.All(vals) {
		return
	}
	for k := 0; k*stride < len(vals); k++ {
		v := vals[k*stride]
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			continue
		}
		i, what := k, nonFinite(v)
		if elems > 0 {
			i = k / elems
			what = fmt.Sprintf("%s at element %d", what, k%elems)
		}
		c.bad(i, col, what)
	}
}

func nonFinite(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case v > 0:
		return "+Inf"
	}
	return "-Inf"
}

func (d *Decoder) appendScalars(dst []float64, rec arrow.RecordBatch, c *checker) []float64 {
	n, w := int(rec.NumRows()), d.dim
	base := len(dst)
	dst = slices.Grow(dst, n*w)[:base+n*w]
	out := dst[base:]
	for k, i := range d.idx {
		col := rec.Column(i)
		if !d.putInts(out[k:], w, col, 0, n, k, 1, c, d.columns[k], nil) {
			put(out[k:], w, col, 0, n)
		}
		if col.NullN() > 0 {
			for r := 0; r < n; r++ {
				if col.IsNull(r) {
					c.bad(r, d.columns[k], "null value")
				}
			}
		}
		if isFloat(col.DataType()) {
			c.finite(out[k:], w, d.columns[k], 0)
		}
	}
	return dst
}

func (d *Decoder) appendFixed(dst []float64, col *array.FixedSizeList, c *checker) []float64 {
	n, w := col.Len(), d.dim
	name := d.columns[0]
	values := col.ListValues()
	lo, hi := col.Offset()*w, (col.Offset()+n)*w
	base := len(dst)
	dst = slices.Grow(dst, n*w)[:base+n*w]
	out := dst[base:]
	if !d.putInts(out, 1, values, lo, hi, 0, w, c, name, func(e int) int { return e / w }) {
		put(out, 1, values, lo, hi)
	}
	if col.NullN() > 0 {
		for r := 0; r < n; r++ {
			if col.IsNull(r) {
				c.bad(r, name, "null list")
			}
		}
	}
	if values.NullN() > 0 {
		for e := lo; e < hi; e++ {
			if values.IsNull(e) {
				c.bad((e-lo)/w, name, fmt.Sprintf("null at element %d", (e-lo)%w))
			}
		}
	}
	if isFloat(values.DataType()) {
		c.finite(out, 1, name, w)
	}
	return dst
}

func (d *Decoder) appendList(dst []float64, col array.ListLike, c *checker) []float64 {
	name := d.columns[0]
	values := col.ListValues()
	float := isFloat(values.DataType())
	for r := 0; r < col.Len(); r++ {
		if col.IsNull(r) {
			c.bad(r, name, "null list")
			if d.dim == 0 {
				d.pending++
			} else {
				dst = appendNaN(dst, d.dim)
			}
			continue
		}
		start, end := col.ValueOffsets(r)
		m := int(end - start)
		if d.dim == 0 {
			if m == 0 {
				c.fail(r, name, "empty list", ErrListLength)
				return dst
			}
			d.dim = m
			dst = appendNaN(dst, d.pending*m)
			d.pending = 0
		}
		if m != d.dim {
			c.fail(r, name, fmt.Sprintf("list has %d values, the rows before have %d", m, d.dim), ErrListLength)
			return dst
		}
		base := len(dst)
		dst = slices.Grow(dst, m)[:base+m]
		out := dst[base:]
		if !d.putInts(out, 1, values, int(start), int(end), 0, m, c, name, func(int) int { return r }) {
			put(out, 1, values, int(start), int(end))
		}
		if values.NullN() > 0 {
			for e := int(start); e < int(end); e++ {
				if values.IsNull(e) {
					c.bad(r, name, fmt.Sprintf("null at element %d", e-int(start)))
				}
			}
		}
		if float {
			for e, v := range out {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					c.bad(r, name, fmt.Sprintf("%s at element %d", nonFinite(v), e))
				}
			}
		}
	}
	return dst
}

func appendNaN(dst []float64, n int) []float64 {
	for range n {
		dst = append(dst, math.NaN())
	}
	return dst
}

// number is the set of Go types of Arrow's numeric arrays, float16 aside.
type number interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~float32 | ~float64
}

// put writes the values lo..hi of the numeric array a to dst[0],
// dst[stride], dst[2*stride], ...
func put(dst []float64, stride int, a arrow.Array, lo, hi int) {
	switch a := a.(type) {
	case *array.Float64:
		putAs(dst, stride, a.Float64Values()[lo:hi])
	case *array.Float32:
		putAs(dst, stride, a.Float32Values()[lo:hi])
	case *array.Float16:
		for k, v := range a.Values()[lo:hi] {
			dst[k*stride] = float64(v.Float32())
		}
	case *array.Int8:
		putAs(dst, stride, a.Int8Values()[lo:hi])
	case *array.Int16:
		putAs(dst, stride, a.Int16Values()[lo:hi])
	case *array.Int32:
		putAs(dst, stride, a.Int32Values()[lo:hi])
	case *array.Int64:
		putAs(dst, stride, a.Int64Values()[lo:hi])
	case *array.Uint8:
		putAs(dst, stride, a.Uint8Values()[lo:hi])
	case *array.Uint16:
		putAs(dst, stride, a.Uint16Values()[lo:hi])
	case *array.Uint32:
		putAs(dst, stride, a.Uint32Values()[lo:hi])
	case *array.Uint64:
		putAs(dst, stride, a.Uint64Values()[lo:hi])
	default:
		panic("stream: put: non-numeric array " + a.DataType().String())
	}
}

func putAs[T number](dst []float64, stride int, src []T) {
	if f, ok := any(src).([]float64); ok && stride == 1 {
		copy(dst[:len(f)], f) // memmove
		return
	}
	if stride == 1 {
		dst = dst[:len(src)]
		for k, v := range src {
			dst[k] = float64(v)
		}
		return
	}
	for k, v := range src {
		dst[k*stride] = float64(v)
	}
}

// putInts is put for an Int64 or Uint64 array a (else it returns false):
// value j of lo..hi, of dimension dim0 + j%period and of batch row
// row(j) (j itself if row is nil), is written to dst[j*stride] minus the
// centre of its dimension, exactly, or recorded as an error in c.
func (d *Decoder) putInts(dst []float64, stride int, a arrow.Array, lo, hi, dim0, period int, c *checker, col string, row func(int) int) bool {
	var signed bool
	var vals []uint64
	switch a := a.(type) {
	case *array.Int64:
		signed = true
		iv := a.Int64Values()[lo:hi]
		vals = make([]uint64, len(iv))
		for j, v := range iv {
			vals[j] = uint64(v) ^ 1<<63
		}
	case *array.Uint64:
		vals = a.Uint64Values()[lo:hi]
	default:
		return false
	}
	if len(d.centres) < dim0+period {
		// A List column's first rows (the dim was not known when the
		// centres were learnt): learnt from this one.
		d.centres = append(d.centres, make([]uint64, dim0+period-len(d.centres))...)
		d.known = append(d.known, make([]bool, dim0+period-len(d.known))...)
	}
	nulls := a.NullN() > 0
	for j, u := range vals {
		q := dim0 + j%period
		if nulls && a.IsNull(lo+j) {
			dst[j*stride] = 0 // a null row: dropped or refused by the caller
			continue
		}
		if !d.known[q] {
			d.setCentre(q, u, signed)
		}
		ctr := d.centres[q]
		neg, mag := u < ctr, u-ctr
		if neg {
			mag = ctr - u
		}
		f := float64(mag)
		if mag>>53 != 0 && bits.Len64(mag)-bits.TrailingZeros64(mag) > 53 {
			i := j
			if row != nil {
				i = row(j)
			}
			c.fail(i, col, d.inexact(u, ctr, signed), ErrInexact)
			continue
		}
		if neg {
			f = -f
		}
		dst[j*stride] = f
	}
	return true
}

// setCentre fixes the centre of dimension q: u, a value of the column in
// its order's bits, or 0 with raw.
func (d *Decoder) setCentre(q int, u uint64, signed bool) {
	switch {
	case d.raw && signed:
		u = 1 << 63
	case d.raw:
		u = 0
	}
	d.centres[q], d.known[q] = u, true
}

// inexact is the message of a value u that float64 cannot hold exactly
// once the centre ctr is subtracted.
func (d *Decoder) inexact(u, ctr uint64, signed bool) string {
	show := func(u uint64) string {
		if signed {
			return fmt.Sprint(int64(u ^ 1<<63))
		}
		return fmt.Sprint(u)
	}
	if d.raw {
		return fmt.Sprintf("integer %s is beyond float64's 53 bits of precision (it would be rounded; integers are not centred with -normalize-rows, which is not translation invariant)", show(u))
	}
	return fmt.Sprintf("integer %s is beyond float64's 53 bits of precision from the column's first value %s (distances need the differences exact: the column spans more than 2^53)", show(u), show(ctr))
}

// learn sets the centres of the 64-bit integer columns that rec holds a
// non-null value of (rec being the next batch of the file, in order from
// its first row), and returns whether every one is now known. Conversion
// (Append) learns the same way, from the rows it converts; a Reader calls
// learn on the first batches of each file before any pass, so that every
// pass, from whatever row, and every process reading the file subtracts
// the same centres: the first non-null value of each dimension in the
// file. (A file read once, in one pass from its first row, learns them as
// that pass converts its rows: the same ones.)
func (d *Decoder) learn(rec arrow.RecordBatch) bool {
	if !d.ints {
		return true
	}
	if d.list {
		col := rec.Column(d.idx[0])
		for r := 0; r < col.Len() && !d.learnt(); r++ {
			if col.IsNull(r) {
				continue
			}
			var vals arrow.Array
			var lo, hi int
			switch l := col.(type) {
			case *array.FixedSizeList:
				vals, lo, hi = l.ListValues(), (l.Offset()+r)*d.dim, (l.Offset()+r+1)*d.dim
			case array.ListLike:
				s, e := l.ValueOffsets(r)
				vals, lo, hi = l.ListValues(), int(s), int(e)
			}
			if hi > lo {
				scratch := make([]float64, hi-lo)
				d.putInts(scratch, 1, vals, lo, hi, 0, hi-lo, &checker{d: d, first: -1}, "", nil)
			}
		}
		return d.learnt()
	}
	for k, i := range d.idx {
		col := rec.Column(i)
		for r := 0; r < col.Len() && !d.known[k]; r++ {
			if !col.IsNull(r) {
				var scratch [1]float64
				d.putInts(scratch[:], 1, col, r, r+1, k, 1, &checker{d: d, first: -1}, "", nil)
			}
		}
	}
	return d.learnt()
}

// learnt reports whether every centre is known (for a List column, once
// its length is).
func (d *Decoder) learnt() bool {
	return len(d.known) > 0 && !slices.Contains(d.known, false)
}
