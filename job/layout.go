package job

import (
	"context"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/dcor-stream/dcor-stream/arrowio"
	"github.com/dcor-stream/dcor-stream/stream"
)

// SpaceArg names spaces of a matrix job (see MatrixSpaces): Spec is
// [FILE:]COLUMNS in the syntax of stream.ParseSpec. With Each, it is one
// space per column it matches (names and globs over the file's schema):
// "layer*" is every layer; without, it is one space of all its columns.
type SpaceArg struct {
	Spec string
	Each bool
	Flag string // the flag it came from, for messages ("rows"); optional
}

// SplitName splits "NAME=SPEC" into the name the user gives a space and
// its spec; a spec without such a prefix (the part before "=" holds a
// ':', '/', ',' or a glob character) has no name.
func SplitName(arg string) (name, spec string) {
	if i := strings.IndexByte(arg, '='); i > 0 && !strings.ContainsAny(arg[:i], ":/,*?[\\") {
		return arg[:i], arg[i+1:]
	}
	return "", arg
}

// defaultLabel is the label of a space read from path with the given
// columns: a .npy file's one column ("data") is labelled with the file's
// stem; others with label.
func defaultLabel(path string, cols []string, label string) string {
	if len(cols) == 1 && cols[0] == "data" && strings.HasSuffix(strings.ToLower(path), ".npy") {
		base := path[strings.LastIndexAny(path, "/\\")+1:]
		return base[:len(base)-len(".npy")]
	}
	return label
}

// MatrixSpaces resolves the spaces of a matrix job of rows × cols (cols
// nil: rows × rows, a square matrix) given the space given (nil: none).
// It returns the distinct spaces (a space named twice, in the rows and
// the columns say, is read and computed once), their labels (the column
// name, or FILE:COLUMN where the same name comes from different files)
// and the Matrix layout over them. file is the file of the specs that
// name none; stdin, if not nil, returns the reader of the file "-" (it
// is called each time "-" is opened); key, if given, is the sample-ID
// column (Spec.Key), which globs do not match. Errors of the arguments
// wrap ErrSpec.
func MatrixSpaces(ctx context.Context, file string, stdin func() io.Reader, rows, cols []SpaceArg, given *SpaceArg, key ...string) (spaces []stream.Spec, labels []string, m *Matrix, err error) {
	type entry struct {
		spec  stream.Spec
		path  string // the file read: spec.File or the default
		label string
	}
	var distinct []entry
	index := map[string]int{}
	add := func(e entry) int {
		key := e.path + "\x00" + strings.Join(e.spec.Columns, "\x00")
		if k, ok := index[key]; ok {
			return k
		}
		index[key] = len(distinct)
		distinct = append(distinct, e)
		return len(distinct) - 1
	}
	sources := map[string]*arrowio.Source{}
	defer func() {
		for _, s := range sources {
			s.Close()
		}
	}()
	var expand func(a SpaceArg) ([]int, error)
	expand = func(a SpaceArg) ([]int, error) {
		if name, spec := SplitName(a.Spec); name != "" {
			b := a
			b.Spec = spec
			ks, err := expand(b)
			if err != nil {
				return nil, err
			}
			if len(ks) != 1 {
				return nil, fmt.Errorf("-%s %q: a name names one space, the spec gives %d: %w", a.Flag, a.Spec, len(ks), ErrSpec)
			}
			distinct[ks[0]].label = name
			return ks, nil
		}
		sp, err := stream.ParseSpec(a.Spec)
		if err != nil {
			return nil, fmt.Errorf("-%s %q: %v: %w", a.Flag, a.Spec, err, ErrSpec)
		}
		p := sp.File
		if p == "" {
			p = file
		}
		if p == "" {
			return nil, fmt.Errorf("-%s %q names no file and no FILE argument is given: %w", a.Flag, a.Spec, ErrSpec)
		}
		if !a.Each {
			return []int{add(entry{sp, p, defaultLabel(p, sp.Columns, sp.String())})}, nil
		}
		src := sources[p]
		if src == nil {
			var in io.Reader
			if stdin != nil {
				in = stdin()
			}
			if src, err = arrowio.Open(ctx, p, arrowio.Options{Stdin: in}); err != nil {
				return nil, err
			}
			sources[p] = src
		}
		var out []int
		for _, c := range sp.Columns {
			if !strings.ContainsAny(c, `*?[\`) { // not a glob, as stream.ParseSpec decides
				out = append(out, add(entry{stream.Spec{File: sp.File, Columns: []string{c}}, p, defaultLabel(p, []string{c}, c)}))
				continue
			}
			n := 0
			for _, f := range src.Schema().Fields() {
				if len(key) > 0 && f.Name == key[0] && src.Format() != arrowio.FormatNpy {
					continue
				}
				if ok, _ := path.Match(c, f.Name); ok { // ParseSpec checked the pattern
					out = append(out, add(entry{stream.Spec{File: sp.File, Columns: []string{f.Name}}, p, defaultLabel(p, []string{f.Name}, f.Name)}))
					n++
				}
			}
			if n == 0 {
				// Let the decoder phrase the error, listing the columns.
				if _, err := stream.NewDecoder(src.Name(), src.Schema(), []string{c}); err != nil {
					return nil, err
				}
				return nil, fmt.Errorf("%s: no column matches %q", src.Name(), c)
			}
		}
		return out, nil
	}
	expandAll := func(args []SpaceArg) ([]int, error) {
		var out []int
		for _, a := range args {
			ks, err := expand(a)
			if err != nil {
				return nil, err
			}
			out = append(out, ks...)
		}
		return out, nil
	}
	m = &Matrix{Given: NoGiven}
	if m.Rows, err = expandAll(rows); err != nil {
		return nil, nil, nil, err
	}
	m.Cols = m.Rows
	if cols != nil {
		if m.Cols, err = expandAll(cols); err != nil {
			return nil, nil, nil, err
		}
	}
	if given != nil {
		ks, err := expand(*given)
		if err != nil {
			return nil, nil, nil, err
		}
		m.Given = ks[0]
	}
	count := map[string]int{}
	for _, e := range distinct {
		count[e.label]++
	}
	for _, e := range distinct {
		spaces = append(spaces, e.spec)
		l := e.label
		if count[l] > 1 {
			l = arrowio.DisplayName(e.path) + ":" + l
		}
		labels = append(labels, l)
	}
	return spaces, labels, m, nil
}
