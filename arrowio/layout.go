package arrowio

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
)

// This file checks the field nodes and buffers of a record batch message
// against the schema, before arrow-go decodes it.
//
// arrow-go slices each buffer to the length its field node declares, and
// panics when the buffer is shorter (recovered, but the message then says
// "slice bounds out of range" and names no column); array.ValidateFull
// runs only on arrays arrow-go managed to build. A fixed-size list column
// whose schema declares far more values per row than the batch holds is
// the case that matters: a reader sizing memory by the declared width must
// learn that the data cannot hold it, from an error naming the column,
// before anything is allocated. So the nodes and buffers are walked here
// in the order arrow-go's loader (ipc.arrayLoaderContext.loadArray)
// consumes them, for the types this package reads and those around them;
// the walk stops, leaving the rest to arrow-go, at a type it does not
// model (views, unions, run-end encoded).

// fieldNode is a FieldNode of a record batch: an array's length and null
// count.
type fieldNode struct{ length, nulls int64 }

// layoutChecker walks the nodes and buffers of one record batch.
type layoutChecker struct {
	m       *message
	node    int // next field node
	buf     int // next buffer
	stopped bool
}

// checkLayout checks the record batch message m against schema. It
// returns an error naming the top-level column whose node or buffer is
// inconsistent.
func checkLayout(schema *arrow.Schema, m *message) error {
	if m.header != fbHeaderRecordBatch {
		return nil
	}
	c := &layoutChecker{m: m}
	for _, f := range schema.Fields() {
		if err := c.array(f.Type, 0); err != nil {
			return fmt.Errorf("column %q: %w", f.Name, err)
		}
		if c.stopped {
			return nil
		}
	}
	return nil
}

func (c *layoutChecker) nextNode() (fieldNode, error) {
	if c.node >= len(c.m.nodes) {
		return fieldNode{}, fmt.Errorf("the batch has %d field nodes, the schema needs more", len(c.m.nodes))
	}
	n := c.m.nodes[c.node]
	c.node++
	if n.length < 0 || n.nulls < 0 || n.nulls > n.length {
		return n, fmt.Errorf("field node of length %d with %d nulls", n.length, n.nulls)
	}
	return n, nil
}

// buffer checks that the next buffer holds at least need bytes and
// returns its length.
func (c *layoutChecker) buffer(need int64, what string) error {
	if c.buf >= len(c.m.buffers) {
		return fmt.Errorf("the batch has %d buffers, the schema needs more", len(c.m.buffers))
	}
	have := c.m.buffers[c.buf][1]
	c.buf++
	if c.m.compressed {
		return nil // lengths are those of the compressed bytes
	}
	if have < need {
		return fmt.Errorf("%s need %d bytes, the buffer holds %d", what, need, have)
	}
	return nil
}

// common consumes the node and validity bitmap of an array.
func (c *layoutChecker) common() (fieldNode, error) {
	n, err := c.nextNode()
	if err != nil {
		return n, err
	}
	need := int64(0)
	if n.nulls > 0 {
		need = (n.length + 7) / 8
	}
	return n, c.buffer(need, fmt.Sprintf("the validity bits of %d rows", n.length))
}

// sized returns count·size, or an error if it overflows.
func sized(count, size int64, what string) (int64, error) {
	p, ok := mulInt64(count, size)
	if !ok {
		return 0, fmt.Errorf("%d %s of %d bytes overflow", count, what, size)
	}
	return p, nil
}

func (c *layoutChecker) offsets(n fieldNode, width int64) error {
	need := int64(0)
	if n.length > 0 {
		need = (n.length + 1) * width
	}
	return c.buffer(need, fmt.Sprintf("the offsets of %d rows", n.length))
}

func (c *layoutChecker) array(dt arrow.DataType, depth int) error {
	if depth > maxNesting {
		return fmt.Errorf("types nested deeper than %d", maxNesting)
	}
	switch t := dt.(type) {
	case *arrow.NullType:
		_, err := c.nextNode()
		return err
	case *arrow.DictionaryType:
		return c.array(t.IndexType, depth+1)
	case arrow.ExtensionType:
		return c.array(t.StorageType(), depth+1)
	case *arrow.BinaryType, *arrow.StringType:
		n, err := c.common()
		if err == nil {
			err = c.offsets(n, 4)
		}
		if err == nil {
			err = c.buffer(0, "")
		}
		return err
	case *arrow.LargeBinaryType, *arrow.LargeStringType:
		n, err := c.common()
		if err == nil {
			err = c.offsets(n, 8)
		}
		if err == nil {
			err = c.buffer(0, "")
		}
		return err
	case *arrow.ListType, *arrow.MapType:
		n, err := c.common()
		if err == nil {
			err = c.offsets(n, 4)
		}
		if err == nil {
			err = c.array(t.(arrow.ListLikeType).Elem(), depth+1)
		}
		return err
	case *arrow.LargeListType:
		n, err := c.common()
		if err == nil {
			err = c.offsets(n, 8)
		}
		if err == nil {
			err = c.array(t.Elem(), depth+1)
		}
		return err
	case *arrow.FixedSizeListType:
		n, err := c.common()
		if err != nil {
			return err
		}
		want, err := sized(n.length, int64(t.Len()), "rows")
		if err != nil {
			return err
		}
		if c.node < len(c.m.nodes) {
			if have := c.m.nodes[c.node].length; have < want {
				return fmt.Errorf("%d rows of %d values need %d values, the batch holds %d", n.length, t.Len(), want, have)
			}
		}
		return c.array(t.Elem(), depth+1)
	case *arrow.StructType:
		if _, err := c.common(); err != nil {
			return err
		}
		for _, f := range t.Fields() {
			if err := c.array(f.Type, depth+1); err != nil {
				return err
			}
			if c.stopped {
				return nil
			}
		}
		return nil
	case arrow.FixedWidthDataType:
		n, err := c.common()
		if err != nil {
			return err
		}
		bits, err := sized(n.length, int64(t.BitWidth()), "values")
		if err != nil {
			return err
		}
		return c.buffer((bits+7)/8, fmt.Sprintf("%d values of %s", n.length, dt))
	}
	c.stopped = true
	return nil
}
