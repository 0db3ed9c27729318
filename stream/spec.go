package stream

import (
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/dcor-stream/dcor-stream/arrowio"
)

// Spec names the columns of one feature space. The zero value is not
// usable; get one from ParseSpec or fill both fields.
type Spec struct {
	// File is the input file, "-" for standard input, or "" for the
	// default file given to Load.
	File string
	// Columns are column names and path.Match globs (see ParseSpec).
	Columns []string
}

// String returns the spec in the syntax ParseSpec reads.
func (s Spec) String() string {
	cols := strings.Join(s.Columns, ",")
	if s.File == "" {
		return cols
	}
	return s.File + ":" + cols
}

// ParseSpec parses a feature space spec of the form
//
//	[FILE:]COLUMNS
//
// FILE is split off at the last ':', so a file name may contain ':' but a
// column name may not. Without FILE the space comes from the default file
// given to Load, except that a spec without ':' that names an existing file
// (or "-", standard input) means all columns of that file: ParseSpec
// returns Spec{File: s, Columns: []string{"*"}}. FILE may be the URL of an
// object (arrowio.IsObjectURL: s3://bucket/key, gs://..., azblob://...);
// a URL without a further ':' means all columns of the object, and a ':'
// in its query must be escaped as %3A. COLUMNS is a
// comma-separated list of column names and path.Match globs ("x_*",
// "layer?", "*" for all columns); globs expand to the matching columns in
// schema order. Load checks the columns against the file: a single List or
// FixedSizeList column of numbers, or any number of scalar numeric columns.
//
// ParseSpec reports syntax errors only (empty spec, empty file name or
// column name, malformed glob); they wrap ErrSpec.
func ParseSpec(s string) (Spec, error) {
	bad := func(why string) (Spec, error) {
		return Spec{}, fmt.Errorf("spec %q: %s: %w", s, why, ErrSpec)
	}
	if s == "" {
		return bad("empty")
	}
	var sp Spec
	cols := s
	// An object URL's own colon (s3://) does not end a file name.
	skip := 0
	if arrowio.IsObjectURL(s) {
		skip = strings.Index(s, "://") + 1
		if !strings.Contains(s[skip:], ":") {
			return Spec{File: s, Columns: []string{"*"}}, nil
		}
	}
	if i := strings.LastIndexByte(s[skip:], ':'); i >= 0 {
		i += skip
		sp.File, cols = s[:i], s[i+1:]
		if sp.File == "" {
			return bad("empty file name before ':'")
		}
		if cols == "" {
			return bad("no columns after ':'")
		}
	} else if isFile(s) {
		return Spec{File: s, Columns: []string{"*"}}, nil
	}
	for _, c := range strings.Split(cols, ",") {
		if c == "" {
			return bad("empty column name")
		}
		if isGlob(c) {
			if _, err := path.Match(c, ""); err != nil {
				return bad(fmt.Sprintf("bad glob %q", c))
			}
		}
		sp.Columns = append(sp.Columns, c)
	}
	return sp, nil
}

// isFile reports whether name is "-" or names an existing file (not a
// directory).
func isFile(name string) bool {
	if name == "-" {
		return true
	}
	fi, err := os.Stat(name)
	return err == nil && !fi.IsDir()
}

// isGlob reports whether name has path.Match metacharacters.
func isGlob(name string) bool {
	return strings.ContainsAny(name, `*?[\`)
}
