package stream

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Every error of this package wraps one of them (errors.Is)
// or an error of package arrowio (an unreadable, corrupt or truncated file).
var (
	// ErrSpec reports a spec that does not parse, or that names no file.
	// The command line reports these as usage errors.
	ErrSpec = errors.New("invalid spec")
	// ErrColumn reports a column that is not in the file, a glob that
	// matches nothing, a column selected twice, or a list column combined
	// with other columns.
	ErrColumn = errors.New("bad column selection")
	// ErrType reports a column that is not numeric (nor a list of numbers).
	ErrType = errors.New("non-numeric column")
	// ErrInvalidValue reports a null, NaN or ±Inf value when invalid rows
	// are not dropped.
	ErrInvalidValue = errors.New("invalid value")
	// ErrInexact reports a 64-bit integer that float64 cannot hold
	// exactly, even minus its column's centre (see Decoder): its column
	// spans more than 2^53. It is not an invalid value: DropInvalid does
	// not drop it.
	ErrInexact = errors.New("integer beyond float64's precision")
	// ErrListLength reports a list row whose length differs from the
	// earlier rows' (or is 0).
	ErrListLength = errors.New("list length mismatch")
	// ErrSchemaMismatch reports a batch whose schema differs from the
	// file's.
	ErrSchemaMismatch = errors.New("schema differs between batches")
	// ErrRowMismatch reports files of different row counts.
	ErrRowMismatch = errors.New("row count mismatch")
	// ErrNoRows reports input that holds no sample: files of no rows, or
	// whose every row DropInvalid dropped (or, with Key and KeyDrop, of
	// no ID in every file).
	ErrNoRows = errors.New("no samples")
	// ErrKey reports sample IDs (Options.Key) that do not align the
	// files: an ID twice in a file, an ID in one file and not in another
	// (without Options.KeyDrop), a null ID.
	ErrKey = errors.New("sample IDs do not match")
)

// Error is a data error at a known place. It wraps one of the sentinels
// (Err), so errors.Is(err, ErrInvalidValue) works; errors.As gives the
// place. Its message reads
//
//	FILE: column "NAME": row ROW: MSG
//
// with the parts that do not apply left out, for example
//
//	acts.arrow: column "feat": row 1234: NaN (use -drop-invalid to drop such rows)
//
// An Error is a value of its fields: set them all (Row -1 when no row
// applies).
type Error struct {
	File   string // display name of the file (arrowio.DisplayName); "" if none
	Column string // "" when no single column is at fault
	Row    int64  // counted from 0 across the file's batches; -1 if none
	Msg    string
	Err    error // the sentinel
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	if e.Column != "" {
		fmt.Fprintf(&b, "column %q: ", e.Column)
	}
	if e.Row >= 0 {
		fmt.Fprintf(&b, "row %d: ", e.Row)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.Err }
