package stream

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/dcor-stream/dcor-stream/arrowio"
)

// Sample-ID alignment (Options.Key). NewReader reads the IDs of every
// file, joins them, and rewrites the rows of each file not already in the
// order of the first into that order (arrowio.RowFile), so that every
// pass reads aligned files front to back, as without a key:
//
//  1. the IDs of each file: its key column, or for a .npy file the .npy
//     file of IDs beside it (keyFile); a file holding several spaces is
//     read once;
//  2. each file's rows sorted by ID (4 bytes a row), a duplicate ID is an
//     error; a k-way merge of the sorted files finds the IDs in every file
//     and the row of each in every file (4 bytes a row); an ID missing
//     from a file is an error, or with Options.KeyDrop its rows are left
//     out;
//  3. sample i is the i-th row of the first file whose ID is in every
//     file; each other file (and the first, if rows were left out) is
//     decoded once, front to back, each row written at its sample's index
//     in a float64 .npy file per space, which the passes then read.
//
// Memory, only while NewReader runs: per row of each file 8 bytes of ID
// (an integer) or the ID's bytes plus 8 (a string), and 8 bytes of order
// and map; then one batch per file. Disk: 8·n·dim bytes per space
// rewritten, in Options.TempDir, removed by Close (on Unix as soon as
// created).

// KeyReport describes the alignment of a Reader made with Options.Key.
type KeyReport struct {
	Key       string
	N         int64    // samples: IDs in every file
	Files     []string // the distinct files, as Reader.Files
	Rows      []int64  // rows of each file
	Dropped   []int64  // rows of each file left out, their ID not in every file (Options.KeyDrop)
	Reordered []bool   // the file's rows were rewritten in the order of the first
}

// Key returns the report of the alignment by Options.Key; nil without one.
func (r *Reader) Key() *KeyReport { return r.key }

// keyFile returns the .npy file of the sample IDs of the .npy file data
// for the key name: the first that exists of, for data DIR/A.B.C.npy,
// DIR/A.B.C.name, DIR/A.B.name, DIR/A.name and DIR/name, with ".npy" added to name if it
// has not that extension, then the same with name "ids" (examples/pytorch
// writes PREFIX.ids.npy beside PREFIX.LAYER.npy). exists reports whether a
// file exists. It returns the candidates tried if none does.
func keyFile(data, name string, exists func(string) bool) (string, []string) {
	dir, base := "", data
	if i := strings.LastIndexAny(data, `/\`); i >= 0 {
		dir, base = data[:i+1], data[i+1:]
	}
	if arrowio.IsObjectURL(data) {
		u, _, _ := strings.Cut(data, "?")
		i := strings.LastIndexByte(u, '/')
		dir, base = u[:i+1], u[i+1:]
	}
	stem := strings.TrimSuffix(base, path.Ext(base))
	parts := strings.Split(stem, ".")
	names := []string{name}
	if strings.TrimSuffix(name, ".npy") != "ids" {
		names = append(names, "ids")
	}
	var tried []string
	for _, nm := range names {
		if !strings.HasSuffix(strings.ToLower(nm), ".npy") {
			nm += ".npy"
		}
		for j := len(parts); j >= 0; j-- {
			prefix := strings.Join(parts[:j], ".")
			if j > 0 {
				prefix += "."
			}
			c := dir + prefix + nm
			if c == data || slices.Contains(tried, c) {
				continue
			}
			tried = append(tried, c)
			if exists(c) {
				return c, tried
			}
		}
	}
	return "", tried
}

// ids are the sample IDs of one file, row by row: integers or strings.
type ids interface {
	len() int
	compare(i int, o ids, j int) int
	show(i int) string
}

type intIDs []int64

func (k intIDs) len() int                        { return len(k) }
func (k intIDs) compare(i int, o ids, j int) int { return cmp.Compare(k[i], o.(intIDs)[j]) }
func (k intIDs) show(i int) string               { return fmt.Sprint(k[i]) }

// strIDs holds ID i in buf[end[i-1]:end[i]].
type strIDs struct {
	buf []byte
	end []int64
}

func (k *strIDs) len() int { return len(k.end) }
func (k *strIDs) at(i int) []byte {
	lo := int64(0)
	if i > 0 {
		lo = k.end[i-1]
	}
	return k.buf[lo:k.end[i]]
}
func (k *strIDs) compare(i int, o ids, j int) int { return bytes.Compare(k.at(i), o.(*strIDs).at(j)) }
func (k *strIDs) show(i int) string               { return fmt.Sprintf("%q", k.at(i)) }
func (k *strIDs) add(b []byte) {
	k.buf = append(k.buf, b...)
	k.end = append(k.end, int64(len(k.buf)))
}

// keyCol is where the IDs of one input are read.
type keyCol struct {
	src    *arrowio.Source
	own    bool   // src is a file of IDs beside the input (or a CSV's text), closed after
	text   bool   // a CSV column of numbers, read as text: each ID must be an exact integer
	col    int    // its index in src's schema
	where  string // for messages: `FILE: column "NAME"`, or the file of IDs
	file   string // the input, for messages
	column string
}

// keyColumn finds the IDs of in.
func (r *Reader) keyColumn(ctx context.Context, in *input, aopts arrowio.Options) (*keyCol, error) {
	key := r.opts.Key
	if in.src.Format() == arrowio.FormatNpy {
		exists := func(p string) bool {
			if arrowio.IsObjectURL(p) {
				s, err := arrowio.Open(ctx, p, aopts)
				if err == nil {
					s.Close()
				}
				return err == nil
			}
			return isFile(p)
		}
		p, tried := keyFile(in.path, key, exists)
		if p == "" {
			return nil, &Error{File: in.src.Name(), Row: -1, Err: ErrColumn,
				Msg: fmt.Sprintf("a .npy file has no columns but its data: its sample IDs (-key %q) are a .npy file beside it, and none of %s exists", key, strings.Join(tried, ", "))}
		}
		src, err := arrowio.Open(ctx, p, aopts)
		if err != nil {
			return nil, err
		}
		return &keyCol{src: src, own: true, where: fmt.Sprintf("%s (IDs in %s)", in.src.Name(), src.Name()), file: src.Name(), column: arrowio.NpyColumn}, nil
	}
	sch := in.src.Schema()
	switch is := sch.FieldIndices(key); len(is) {
	case 0:
		return nil, &Error{File: in.src.Name(), Column: key, Row: -1, Err: ErrColumn, Msg: fmt.Sprintf("sample-ID column (-key) not found (columns: %s)", available(sch))}
	case 1:
		kc := &keyCol{src: in.src, col: is[0], where: fmt.Sprintf("%s: column %q", in.src.Name(), key), file: in.src.Name(), column: key}
		if in.src.Format() == arrowio.FormatCSV && idKind(sch.Field(is[0]).Type) == 'i' {
			// A CSV column of numbers: its IDs are its text, each an
			// exact integer (9007199254740993 is not 2^53, nor
			// 1.0000000000000001 1, as float64 would have them).
			o := aopts
			o.TextColumns = []string{key}
			src, err := arrowio.Open(ctx, in.path, o)
			if err != nil {
				return nil, err
			}
			kc.src, kc.own, kc.text = src, true, true
		}
		return kc, nil
	default:
		return nil, &Error{File: in.src.Name(), Column: key, Row: -1, Err: ErrColumn, Msg: fmt.Sprintf("sample-ID column (-key) is ambiguous: %d columns have this name", len(is))}
	}
}

// readIDs reads every ID of kc, of the kind of like (nil: any kind).
func readIDs(ctx context.Context, kc *keyCol, like ids) (ids, error) {
	f := kc.src.Schema().Field(kc.col)
	var out ids
	kind, typ := idKind(f.Type), f.Type.String()
	if kc.text {
		kind, typ = 'i', "csv numbers"
	}
	switch kind {
	case 'i':
		out = intIDs(nil)
	case 's':
		out = &strIDs{}
	default:
		return nil, &Error{File: kc.file, Column: kc.column, Row: -1, Err: ErrType, Msg: fmt.Sprintf("sample IDs of type %s: want integers or strings", f.Type)}
	}
	if like != nil && kindName(like) != kindName(out) {
		return nil, &Error{File: kc.file, Column: kc.column, Row: -1, Err: ErrType, Msg: fmt.Sprintf("sample IDs of type %s, those of the first file are %s", typ, kindName(like))}
	}
	rr, err := kc.src.NewRecordReader(ctx)
	if err != nil {
		return nil, err
	}
	defer rr.Release()
	row0 := int64(0)
	for rr.Next() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rec := rr.RecordBatch()
		if out, err = appendIDs(out, rec.Column(kc.col), kc, row0); err != nil {
			return nil, err
		}
		row0 += rec.NumRows()
		if row0 > math.MaxInt32 {
			return nil, &Error{File: kc.file, Column: kc.column, Row: -1, Err: ErrKey, Msg: fmt.Sprintf("more than %d rows: too many to align by sample ID", math.MaxInt32)}
		}
	}
	return out, rr.Err()
}

func kindName(k ids) string {
	if _, ok := k.(intIDs); ok {
		return "integers"
	}
	return "strings"
}

// idKind is 'i' for integer IDs (integers, and floats holding integers of
// at most 2^53), 's' for strings and bytes, 0 for other types. (A CSV
// column of numbers is read as text: see keyColumn.)
func idKind(dt arrow.DataType) byte {
	switch dt.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.FLOAT16, arrow.FLOAT32, arrow.FLOAT64:
		return 'i'
	case arrow.STRING, arrow.LARGE_STRING, arrow.STRING_VIEW, arrow.BINARY, arrow.LARGE_BINARY, arrow.BINARY_VIEW:
		return 's'
	case arrow.DICTIONARY:
		return idKind(dt.(*arrow.DictionaryType).ValueType)
	}
	return 0
}

// appendIDs appends the IDs of col, rows row0.. of the file, to dst.
func appendIDs(dst ids, col arrow.Array, kc *keyCol, row0 int64) (ids, error) {
	bad := func(i int, format string, args ...any) error {
		return &Error{File: kc.file, Column: kc.column, Row: row0 + int64(i), Err: ErrKey, Msg: fmt.Sprintf(format, args...)}
	}
	if col.NullN() > 0 {
		for i := range col.Len() {
			if col.IsNull(i) {
				return nil, bad(i, "null sample ID")
			}
		}
	}
	if kc.text {
		c := col.(*array.String)
		for i := range c.Len() {
			v, err := decimalInteger(c.Value(i))
			if err != nil {
				return nil, bad(i, "sample ID %s %v", c.Value(i), err)
			}
			dst = append(dst.(intIDs), v)
		}
		return dst, nil
	}
	if d, ok := col.(*array.Dictionary); ok {
		var vals ids = intIDs(nil)
		if _, ok := dst.(*strIDs); ok {
			vals = &strIDs{}
		}
		vals, err := appendIDs(vals, d.Dictionary(), &keyCol{file: kc.file, column: kc.column + " (dictionary)"}, 0)
		if err != nil {
			return nil, err
		}
		for i := range d.Len() {
			j := d.GetValueIndex(i)
			switch v := vals.(type) {
			case intIDs:
				dst = append(dst.(intIDs), v[j])
			case *strIDs:
				dst.(*strIDs).add(v.at(j))
			}
		}
		return dst, nil
	}
	switch c := col.(type) {
	case array.StringLike:
		s := dst.(*strIDs)
		for i := range c.Len() {
			s.add([]byte(c.Value(i)))
		}
		return s, nil
	case interface{ Value(int) []byte }:
		s := dst.(*strIDs)
		for i := range col.Len() {
			s.add(c.Value(i))
		}
		return s, nil
	case *array.Uint64:
		for i, v := range c.Uint64Values() {
			if v > math.MaxInt64 {
				return nil, bad(i, "sample ID %d above 2^63-1", v)
			}
			dst = append(dst.(intIDs), int64(v))
		}
		return dst, nil
	}
	if isFloat(col.DataType()) {
		vals := make([]float64, col.Len())
		put(vals, 1, col, 0, col.Len())
		for i, v := range vals {
			if v != math.Trunc(v) || math.Abs(v) > 1<<53 {
				return nil, bad(i, "sample ID %v is not an integer (of at most 2^53)", v)
			}
			dst = append(dst.(intIDs), int64(v))
		}
		return dst, nil
	}
	if c, ok := col.(*array.Int64); ok {
		return append(dst.(intIDs), c.Int64Values()...), nil
	}
	vals := make([]float64, col.Len()) // integers of 32 bits or less: exact
	put(vals, 1, col, 0, col.Len())
	for _, v := range vals {
		dst = append(dst.(intIDs), int64(v))
	}
	return dst, nil
}

// decimalInteger returns the integer that the decimal number s
// ([+-]digits[.digits][e[+-]digits], as a CSV column of numbers holds)
// equals exactly: "01", "-0", "1e0" and "1.50e1" are integers (1, 0, 1,
// 15), "1.0000000000000001" and "1e-1" are not; an error says which of
// not an integer or beyond int64 s is.
func decimalInteger(s string) (int64, error) {
	notInt := errors.New("is not an integer")
	t, neg := s, false
	if t != "" && (t[0] == '+' || t[0] == '-') {
		t, neg = t[1:], t[0] == '-'
	}
	mant, exp, hasExp := strings.Cut(strings.ToLower(t), "e")
	whole, frac, _ := strings.Cut(mant, ".")
	digits := whole + frac
	isDigits := func(s string) bool { return s != "" && strings.Trim(s, "0123456789") == "" }
	if !isDigits(digits) || hasExp && !isDigits(strings.TrimLeft(exp, "+-")) {
		return 0, notInt // inf, nan, or not a decimal number
	}
	e := -len(frac)
	if hasExp {
		x, err := strconv.Atoi(exp)
		if err != nil { // an exponent beyond int
			switch {
			case strings.Trim(digits, "0") == "":
				return 0, nil
			case exp[0] == '-':
				return 0, notInt
			}
			return 0, errors.New("is beyond int64")
		}
		e += max(-1<<40, min(x, 1<<40)) // beyond any cell's digits: the verdict is the same
	}
	digits = strings.TrimLeft(digits, "0")
	for digits != "" && digits[len(digits)-1] == '0' {
		digits, e = digits[:len(digits)-1], e+1
	}
	switch {
	case digits == "":
		return 0, nil
	case e < 0:
		return 0, notInt
	case len(digits)+e > 19:
		return 0, errors.New("is beyond int64")
	}
	mag, err := strconv.ParseUint(digits+strings.Repeat("0", e), 10, 64)
	switch {
	case err != nil || !neg && mag > math.MaxInt64 || neg && mag > 1<<63:
		return 0, errors.New("is beyond int64")
	case neg:
		return -int64(mag-1) - 1, nil
	}
	return int64(mag), nil
}

// sortedRows returns the rows of k in the order of their IDs (rows of equal
// IDs in row order).
func sortedRows(k ids) []int32 {
	order := make([]int32, k.len())
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortStableFunc(order, func(a, b int32) int { return k.compare(int(a), k, int(b)) })
	return order
}

// examples is how many IDs an error shows.
const examples = 3

// duplicates returns the error for the IDs of k (sorted by order) that
// appear more than once, or nil.
func duplicates(k ids, order []int32, where string) error {
	count, shown := 0, []string(nil)
	for i := 0; i < len(order); {
		j := i + 1
		for j < len(order) && k.compare(int(order[i]), k, int(order[j])) == 0 {
			j++
		}
		if j-i > 1 {
			count++
			if len(shown) < examples {
				rows := make([]string, 0, j-i)
				for _, r := range order[i:min(j, i+4)] {
					rows = append(rows, fmt.Sprint(r))
				}
				if j-i > 4 {
					rows = append(rows, "…")
				}
				shown = append(shown, fmt.Sprintf("%s at rows %s", k.show(int(order[i])), strings.Join(rows, ", ")))
			}
		}
		i = j
	}
	if count == 0 {
		return nil
	}
	return fmt.Errorf("%s: %d sample IDs appear more than once (e.g. %s): each sample must have one row per file: %w", where, count, strings.Join(shown, "; "), ErrKey)
}

// align reads and joins the IDs of every input (see the comment at the top
// of this file) and rewrites the inputs not in the order of the first.
func (r *Reader) align(ctx context.Context, aopts arrowio.Options) error {
	kf := len(r.files)
	cols := make([]*keyCol, kf)
	defer func() {
		for _, kc := range cols {
			if kc != nil && kc.own {
				kc.src.Close()
			}
		}
	}()
	all := make([]ids, kf)
	orders := make([][]int32, kf)
	for f, in := range r.files {
		kc, err := r.keyColumn(ctx, in, aopts)
		if err != nil {
			return err
		}
		cols[f] = kc
		if all[f], err = readIDs(ctx, kc, all[0]); err != nil {
			return err
		}
		orders[f] = sortedRows(all[f])
		if err := duplicates(all[f], orders[f], kc.where); err != nil {
			return err
		}
	}
	// The k-way merge: dest[f][row] is the row of the first file with the
	// same ID, -1 if the ID is not in every file.
	dest := make([][]int32, kf)
	for f := range dest {
		dest[f] = make([]int32, all[f].len())
		for i := range dest[f] {
			dest[f][i] = -1
		}
	}
	pos := make([]int, kf)
	lack := make([]int64, kf)
	shown := make([][]string, kf)
	union := int64(0)
	at := make([]bool, kf)
	for {
		m := -1
		for f := range kf {
			if pos[f] < len(orders[f]) && (m < 0 || all[f].compare(int(orders[f][pos[f]]), all[m], int(orders[m][pos[m]])) < 0) {
				m = f
			}
		}
		if m < 0 {
			break
		}
		union++
		every := true
		for f := range kf {
			at[f] = pos[f] < len(orders[f]) && all[f].compare(int(orders[f][pos[f]]), all[m], int(orders[m][pos[m]])) == 0
			every = every && at[f]
		}
		for f := range kf {
			switch {
			case every:
				dest[f][orders[f][pos[f]]] = orders[0][pos[0]]
			case !at[f]:
				lack[f]++
				if len(shown[f]) < examples {
					shown[f] = append(shown[f], all[m].show(int(orders[m][pos[m]])))
				}
			}
		}
		for f := range kf {
			if at[f] {
				pos[f]++
			}
		}
	}
	all, orders = nil, nil
	// Sample i: the i-th row of the first file kept.
	n := int64(0)
	for i, d := range dest[0] {
		if d >= 0 {
			dest[0][i] = int32(n)
			n++
		}
	}
	for f := 1; f < kf; f++ {
		for i, d := range dest[f] {
			if d >= 0 {
				dest[f][i] = dest[0][d]
			}
		}
	}
	rep := &KeyReport{Key: r.opts.Key, N: n, Files: r.Files(), Rows: make([]int64, kf), Dropped: make([]int64, kf), Reordered: make([]bool, kf)}
	missing := union - n
	var parts []string
	for f := range kf {
		rep.Rows[f] = int64(len(dest[f]))
		rep.Dropped[f] = rep.Rows[f] - n
		if lack[f] > 0 {
			parts = append(parts, fmt.Sprintf("%s lacks %d (e.g. %s)", cols[f].where, lack[f], strings.Join(shown[f], ", ")))
		}
	}
	if missing > 0 && !r.opts.KeyDrop {
		return fmt.Errorf("%d of the %d sample IDs are not in every file: %s; -key-missing drop keeps the %d in every file: %w",
			missing, union, strings.Join(parts, "; "), n, ErrKey)
	}
	if n == 0 && union > 0 {
		return fmt.Errorf("none of the %d sample IDs is in every file: %s: %w", union, strings.Join(parts, "; "), ErrNoRows)
	}
	r.key = rep
	var files []*input
	for f, in := range r.files {
		if identity(dest[f], n) {
			files = append(files, in)
			continue
		}
		rep.Reordered[f] = true
		ins, err := r.reorder(ctx, in, dest[f], n, aopts)
		if err != nil {
			for _, x := range files {
				if !slices.Contains(r.files, x) {
					x.src.Close()
				}
			}
			return err
		}
		dest[f] = nil
		files = append(files, ins...)
		in.src.Close()
		in.src = nil
	}
	r.files = files
	return nil
}

// checkSidecars compares the sample IDs beside the .npy inputs (keyFile
// with the name "ids") that have them: two that differ are an error
// wrapping ErrKey (see Options.Aligned). It holds the IDs of two files at
// a time, 8 bytes a row for integers.
func (r *Reader) checkSidecars(ctx context.Context, aopts arrowio.Options) error {
	var first *keyCol
	var firstIDs ids
	defer func() {
		if first != nil {
			first.src.Close()
		}
	}()
	for _, in := range r.files {
		if in.src.Format() != arrowio.FormatNpy {
			continue
		}
		exists := func(p string) bool { return !arrowio.IsObjectURL(p) && isFile(p) }
		p, _ := keyFile(in.path, "ids", exists)
		if p == "" || first != nil && p == first.src.Name() {
			continue
		}
		src, err := arrowio.Open(ctx, p, aopts)
		if err != nil {
			return err
		}
		kc := &keyCol{src: src, own: true, where: in.src.Name(), file: src.Name(), column: arrowio.NpyColumn}
		k, err := readIDs(ctx, kc, nil)
		if err != nil {
			// Not sample IDs (floats, nulls…): nothing to compare.
			src.Close()
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
			continue
		}
		if first == nil {
			first, firstIDs = kc, k
			continue
		}
		src.Close()
		if at, differ := firstDifference(firstIDs, k); differ {
			what := fmt.Sprintf("at row %d (%s and %s)", at, firstIDs.show(at), k.show(at))
			if at == min(firstIDs.len(), k.len()) {
				what = fmt.Sprintf("in number (%d and %d)", firstIDs.len(), k.len())
			}
			return fmt.Errorf("%s and %s are not in the same sample order: the sample IDs beside them, %s and %s, differ %s; -key ids aligns their rows by ID (-aligned takes the rows as they are): %w",
				first.where, kc.where, first.file, kc.file, what, ErrKey)
		}
	}
	return nil
}

// firstDifference returns the first row where a and b differ, and
// whether they do (in kind, at a row, or in length: then the shorter
// length).
func firstDifference(a, b ids) (int, bool) {
	if kindName(a) != kindName(b) {
		return 0, true
	}
	m := min(a.len(), b.len())
	for i := range m {
		if a.compare(i, b, i) != 0 {
			return i, true
		}
	}
	return m, a.len() != b.len()
}

// identity reports whether dest maps row i to sample i, for n rows.
func identity(dest []int32, n int64) bool {
	if int64(len(dest)) != n {
		return false
	}
	for i, d := range dest {
		if int(d) != i {
			return false
		}
	}
	return true
}

// rewrite is the .npy file of one space of an input being reordered.
type rewrite struct {
	k    int
	w    *arrowio.RowFile
	wait []int32 // samples of the rows decoded before the dim of a List column was known
	buf  []float64
	bad  []bool
	run  []float64 // rows of consecutive samples, from sample run0
	run0 int64
}

// reorder decodes in front to back and writes row i of each of its
// spaces at sample dest[i] (none if -1) of a RowFile of n rows; it returns
// one input per space, reading those files. Data errors are those of a
// pass, naming the input, the column and the row.
func (r *Reader) reorder(ctx context.Context, in *input, dest []int32, n int64, aopts arrowio.Options) (out []*input, err error) {
	ws := make([]*rewrite, len(in.spaces))
	defer func() {
		if err != nil {
			for _, w := range ws {
				if w != nil && w.w != nil {
					w.w.Close()
				}
			}
			for _, in := range out {
				in.src.Close()
			}
			out = nil
		}
	}()
	for i, k := range in.spaces {
		ws[i] = &rewrite{k: k}
	}
	rr, err := in.src.NewRecordReader(ctx)
	if err != nil {
		return nil, err
	}
	defer rr.Release()
	raw := int64(0)
	for rr.Next() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rec := rr.RecordBatch()
		m := int(rec.NumRows())
		if raw+int64(m) > int64(len(dest)) {
			break
		}
		for _, w := range ws {
			if err := r.rewriteBatch(w, rec, raw, dest[raw:raw+int64(m)], n); err != nil {
				return nil, err
			}
		}
		raw += int64(m)
	}
	if err := rr.Err(); err != nil {
		return nil, err
	}
	if raw != int64(len(dest)) {
		return nil, fmt.Errorf("%s: %d rows when its sample IDs were read, now more or fewer: %w", in.src.Name(), len(dest), arrowio.ErrChanged)
	}
	for _, w := range ws {
		if w.w == nil {
			// Every row of a List column was null (the rows are dropped,
			// else the decoder failed): one NaN each.
			if w.w, err = arrowio.CreateRowFile(r.opts.TempDir, n, 1); err != nil {
				return nil, err
			}
			for _, s := range w.wait {
				if s >= 0 {
					if err := w.w.WriteRows(int64(s), []float64{math.NaN()}); err != nil {
						return nil, err
					}
				}
			}
		}
		if err := w.flush(); err != nil {
			return nil, err
		}
	}
	for i, w := range ws {
		src, err := w.w.Source(in.src.Name(), aopts)
		w.w = nil
		if err != nil {
			return nil, err
		}
		out = append(out, &input{path: in.path, src: src, spaces: []int{w.k}})
		ws[i] = nil
		d, err := NewDecoder(in.src.Name(), src.Schema(), []string{arrowio.NpyColumn})
		if err != nil {
			return nil, err
		}
		r.decs[w.k] = d
	}
	return out, nil
}

// rewriteBatch decodes the space of w in rec (rows row0.. of the file) and
// writes row i at sample dest[i].
func (r *Reader) rewriteBatch(w *rewrite, rec arrow.RecordBatch, row0 int64, dest []int32, n int64) error {
	d := r.decs[w.k]
	w.bad = slices.Grow(w.bad[:0], len(dest))[:len(dest)]
	clear(w.bad)
	var mark func(int)
	if r.opts.DropInvalid {
		mark = func(i int) { w.bad[i] = true }
	}
	var err error
	if w.buf, err = d.Append(w.buf[:0], rec, row0, mark); err != nil {
		return err
	}
	if d.Dim() == 0 {
		w.wait = append(w.wait, dest...)
		return nil
	}
	dim := d.Dim()
	if w.w == nil {
		if w.w, err = arrowio.CreateRowFile(r.opts.TempDir, n, dim); err != nil {
			return err
		}
	}
	// Rows decoded before the dim was known come first: null, hence NaN.
	lead, all := len(w.wait), dest
	if lead > 0 {
		all = append(w.wait, dest...)
		w.wait = nil
	}
	for i, s := range all {
		if s < 0 {
			continue
		}
		row := w.buf[i*dim : (i+1)*dim]
		if i >= lead && w.bad[i-lead] {
			row[0] = math.NaN() // the values are unspecified: make the row invalid again
		}
		if len(w.run) > 0 && (int64(s) != w.run0+int64(len(w.run)/dim) || len(w.run) >= 1<<16) {
			if err := w.flush(); err != nil {
				return err
			}
		}
		if len(w.run) == 0 {
			w.run0 = int64(s)
		}
		w.run = append(w.run, row...)
	}
	return nil
}

// flush writes the run of rows of consecutive samples.
func (w *rewrite) flush() error {
	if len(w.run) == 0 {
		return nil
	}
	err := w.w.WriteRows(w.run0, w.run)
	w.run = w.run[:0]
	return err
}
