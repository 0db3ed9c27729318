package job

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/dcor-stream/dcor-stream/block"
	"github.com/dcor-stream/dcor-stream/estimator"
)

// Linear CKA (Spec.CKA) on every schedule. Its sums are over the rows, not
// the tiles: the first shard (the one holding tile 0; in the second round
// of shards it takes them from Spec.From) adds every row, in
// blocks of linearRows consecutive rows from row 0, during the pass that
// loads or scans the input; the other shards carry an empty part of the
// same spaces, centres and scales. The blocks being the same in every
// schedule, and estimator.Linear adding each block's float64 sums
// exactly, in memory, under a budget, merged shards and resumed
// checkpoints hold the same sums to the bit.

// linearKind is the kind of the state part of the linear CKA sums.
const linearKind = "cka-linear"

// linearRows is the number of rows of a block of the linear sums.
const linearRows = 1024

// linearPart is the Part of the linear CKA sums.
type linearPart struct{ lin *estimator.Linear }

func (p *linearPart) Kind() string                   { return linearKind }
func (p *linearPart) MarshalBinary() ([]byte, error) { return p.lin.MarshalBinary() }

// Merge adds the sums of another shard.
func (p *linearPart) Merge(o Part) error {
	q, ok := o.(*linearPart)
	if !ok {
		return fmt.Errorf("a part of kind %s merged into %s", o.Kind(), linearKind)
	}
	return p.lin.Merge(q.lin)
}

func init() {
	registerPart(linearKind, func(b []byte) (Part, error) {
		l := new(estimator.Linear)
		if err := l.UnmarshalBinary(b); err != nil {
			return nil, err
		}
		return canonical(&linearPart{l}, b)
	})
}

// canonical returns p decoded from b, or an error if b is not the
// encoding p has (a state file holds each part in its one encoding).
func canonical(p Part, b []byte) (Part, error) {
	again, err := p.MarshalBinary()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(again, b) {
		return nil, fmt.Errorf("part %s not in its canonical encoding", p.Kind())
	}
	return p, nil
}

// ckaPairs are the pairs of spaces whose linear CKA the spec asks: x and y
// in the pair mode, every entry of a matrix.
func (s *Spec) ckaPairs() [][2]int {
	m := s.Matrix
	if m == nil {
		return [][2]int{{0, 1}}
	}
	var pairs [][2]int
	for _, x := range m.Rows {
		for _, y := range m.Cols {
			pairs = append(pairs, [2]int{x, y})
		}
	}
	return pairs
}

// linearRows reports whether the run adds the rows to the linear sums:
// the first shard of the first round (a shard of the second round takes
// the sums of Spec.From).
func (s *Spec) linearRows() bool { return s.Shard == 0 && s.From == nil }

// linearSums adds rows to a Linear in the fixed blocks of linearRows rows
// from row 0, whatever the batches it is given.
type linearSums struct {
	lin  *estimator.Linear
	dims []int
	buf  [][]float64 // the rows of the current block, per space
	row0 int         // the first row of the current block
	full bool        // false: the rows are not added (another shard's)
}

// newLinearSums returns the sums of the spaces of the given dimensions,
// centred and scaled as the leading rows lead say (block.Normalization),
// for the spec's pairs; adding rows only if full.
func (s *Spec) newLinearSums(lead []block.Space, full bool) *linearSums {
	dims := make([]int, len(lead))
	for k, sp := range lead {
		dims[k] = sp.Dim
	}
	centre, scale := block.Normalization(lead)
	return &linearSums{lin: estimator.NewLinearPairs(dims, centre, scale, s.ckaPairs()), dims: dims,
		buf: make([][]float64, len(dims)), full: full}
}

// add adds the next rows (one batch of every space, of equal row counts).
func (a *linearSums) add(ctx context.Context, rows []block.Space) error {
	if !a.full || len(rows) == 0 {
		return nil
	}
	m := len(rows[0].Data) / a.dims[0]
	for i := 0; i < m; {
		if err := ctx.Err(); err != nil {
			return err
		}
		held := len(a.buf[0]) / a.dims[0]
		take := min(m-i, linearRows-held)
		if held == 0 && take == linearRows {
			// A whole block in place, without a copy.
			blk := make([][]float64, len(rows))
			for k, sp := range rows {
				blk[k] = sp.Data[i*a.dims[k] : (i+take)*a.dims[k]]
			}
			if err := a.addBlock(blk, take); err != nil {
				return err
			}
		} else {
			for k, sp := range rows {
				a.buf[k] = append(a.buf[k], sp.Data[i*a.dims[k]:(i+take)*a.dims[k]]...)
			}
			if held+take == linearRows {
				if err := a.flush(); err != nil {
					return err
				}
			}
		}
		i += take
	}
	return nil
}

// flush adds the rows held, a last block shorter than linearRows.
func (a *linearSums) flush() error {
	m := len(a.buf[0]) / a.dims[0]
	if m == 0 {
		return nil
	}
	if err := a.addBlock(a.buf, m); err != nil {
		return err
	}
	for k := range a.buf {
		a.buf[k] = a.buf[k][:0]
	}
	return nil
}

func (a *linearSums) addBlock(blk [][]float64, m int) error {
	if err := a.lin.Add(blk); err != nil {
		if errors.Is(err, estimator.ErrOverflow) {
			return fmt.Errorf("linear CKA of rows %d to %d: %w", a.row0+1, a.row0+m, err)
		}
		return err
	}
	a.row0 += m
	return nil
}

// part returns the sums as a state part, after the last rows.
func (a *linearSums) part() (Part, error) {
	if err := a.flush(); err != nil {
		return nil, err
	}
	return &linearPart{a.lin}, nil
}

// linearOf returns the linear CKA part of the spaces in memory: every
// row's sums in the first shard, none in the others.
func (s *Spec) linearOf(ctx context.Context, spaces []block.Space) (Part, error) {
	a := s.newLinearSums(spaces, s.linearRows())
	if err := a.add(ctx, spaces); err != nil {
		return nil, err
	}
	return a.part()
}

// linearEntries is the number of entries of the XᵀY sums of the pairs
// the spec asks, each space with itself included.
func (s *Spec) linearEntries(dims []int) int64 {
	seen := map[[2]int]bool{}
	var t int64
	for _, p := range s.ckaPairs() {
		for _, q := range [][2]int{{p[0], p[1]}, {p[0], p[0]}, {p[1], p[1]}} {
			q = [2]int{min(q[0], q[1]), max(q[0], q[1])}
			if !seen[q] {
				seen[q] = true
				t += int64(dims[q[0]]) * int64(dims[q[1]])
			}
		}
	}
	return t
}

// errCKABudget is the error of CKA sums of need bytes over the budget.
func (s *Spec) errCKABudget(need int64) error {
	return fmt.Errorf("the sums of -cka take %s, over the budget -mem %s: raise it, or leave out -cka: %w", size(need), size(s.Memory), ErrBudget)
}

// partBytes returns the memory the parts of the run hold (under a budget:
// besides the panels): the linear sums' own, and for the kernel state
// rowSumBytes per sample and kernel, as layoutPanels counts the distance
// state's.
func (r *runner) partBytes() int64 {
	var t int64
	for _, p := range r.parts {
		switch q := p.(type) {
		case *linearPart:
			t += q.lin.Bytes()
		case *rbfPart:
			t += rowSumBytes * int64(q.st.N()) * int64(q.st.K())
		}
	}
	return t
}

// linearResults sets the linear CKA statistics of res from the part of
// the state, if it has one; it returns ctx's error if ctx is done before
// the last row of a matrix.
func (s *State) linearResults(ctx context.Context, res Results) error {
	p, ok := s.Part(linearKind).(*linearPart)
	if !ok {
		return nil
	}
	lin := p.lin
	if pr := res.Pair; pr != nil {
		if pr.Extras == nil {
			pr.Extras = &PairExtras{}
		}
		x := pr.Extras
		x.CKA = true
		x.CKALinear, _ = lin.CKA(0, 1)
		var ok bool
		if x.HSICLinU, ok = lin.HSIC(0, 1); !ok && lin.N() >= 4 {
			// Beyond float64 in the data's units (CKA, a ratio, is not).
			pr.Flags |= estimator.OutOfRange
		}
	}
	if m, lay := res.Matrix, s.Matrix; m != nil {
		m.CKALinear = grid2(len(lay.Rows), len(lay.Cols))
		for i, x := range lay.Rows {
			if err := ctx.Err(); err != nil {
				return err
			}
			for j, y := range lay.Cols {
				m.CKALinear[i][j], _ = lin.CKA(x, y)
			}
		}
	}
	return nil
}
