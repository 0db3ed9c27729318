package arrowio

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

// TestPlausible: a row count is believed only if the file's bytes can
// hold that many rows of its fixed-width columns.
func TestPlausible(t *testing.T) {
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "x", Type: arrow.FixedSizeListOf(4, arrow.PrimitiveTypes.Float32)}, // 128 bits
		{Name: "s", Type: arrow.BinaryTypes.String},                               // 0: variable
	}, nil)
	for _, c := range []struct {
		n, size, factor int64
		want            bool
	}{
		{100, 1600, 1, true},
		{101, 1600, 1, false},
		{1 << 40, 1600, 16, false},
		{1600, 1600, 16, true},
		{-1, 1600, 1, false},
	} {
		if got := plausible(c.n, c.size, c.factor, sch); got != c.want {
			t.Errorf("plausible(%d rows, %d bytes, ×%d) = %v", c.n, c.size, c.factor, got)
		}
	}
	if plausible(1, 1<<20, 1, arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String}}, nil)) {
		t.Error("a schema of variable-width columns only backs no count")
	}
}
